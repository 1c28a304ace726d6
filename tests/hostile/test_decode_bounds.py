"""Every decode is bounded while it runs (issue 12): a file whose header hides its length stops at
the audio limit, a file of tiny frames at the time budget, and a file cut short is an error, not
a silent partial transcript. No models: milliseconds to a second each."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from tests.hostile.bombs import encode, flac_bomb, truncated
from voicecli.audio.decode import (
    DEFAULT_MAX_AUDIO_S,
    AudioTooLongError,
    decode_audio,
    is_truncated,
    wav_stated_s,
)
from voicecli.errors import AudioInputError
from voicecli.stt.types import TranscribeOptions

TEN_HOURS_S = 10 * 3600.0


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """11 s of a voice-like signal (a gliding tone with pauses): enough for every codec."""
    t = np.arange(11 * 16000) / 16000
    tone = 0.3 * np.sin(2 * np.pi * (200 + 50 * np.sin(t)) * t)
    return (tone * (np.sin(2 * np.pi * 0.5 * t) > -0.5)).astype(np.float32)


@pytest.mark.parametrize("rate", [16_000, 48_000])
def test_flac_bomb_with_no_length_in_its_header_stops_at_the_limit(rate):
    bomb = flac_bomb(TEN_HOURS_S, sample_rate_hz=rate)  # ~100 KB holding 10 h; STREAMINFO says 0 samples
    assert len(bomb) < 400_000
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(AudioTooLongError) as exc:
        decode_audio(bomb, "bomb.flac", max_seconds=600)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert exc.value.message == "bomb.flac: audio is longer than the limit; the limit is 600 s"
    assert elapsed < 2.0, elapsed
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MB"  # 600 s of float32 is 38 MB; 10 h would be 2.3 GB


def test_every_caller_gets_a_bound_by_default():
    from voicecli.cli.transcribe import MAX_AUDIO_S
    from voicecli.stt.jobs import TranscribeJob

    assert DEFAULT_MAX_AUDIO_S == MAX_AUDIO_S == 4 * 3600  # 920 MB of samples at most
    assert decode_audio.__kwdefaults__["max_seconds"] == DEFAULT_MAX_AUDIO_S
    assert TranscribeJob(lambda: None, TranscribeOptions()).max_audio_s == DEFAULT_MAX_AUDIO_S


def test_a_header_that_states_a_long_length_is_refused_before_decoding():
    stated = flac_bomb(60, declared_samples=int(TEN_HOURS_S * 16000))  # says 10 h, holds 60 s
    started = time.monotonic()
    with pytest.raises(AudioTooLongError, match=r"audio is 36000 s long; the limit is 600 s"):
        decode_audio(stated, "long.flac", max_seconds=600)
    assert time.monotonic() - started < 0.5


def test_audio_just_under_the_limit_decodes_whole():
    samples = decode_audio(flac_bomb(599, value=100), "ok.flac", max_seconds=600)
    assert len(samples) == 599 * 16000
    assert samples.dtype == np.float32 and abs(float(samples[1000]) - 100 / 32768) < 1e-6


def test_many_tiny_frames_hit_the_time_budget():
    slow = flac_bomb(4, block=16)  # 4000 frames of 1 ms: PyAV spends ~60 µs a frame
    with pytest.raises(AudioInputError, match=r"tiny\.flac: decoding takes too long"):
        decode_audio(slow, "tiny.flac", time_budget_s=0.01)
    assert len(decode_audio(slow, "tiny.flac", time_budget_s=30)) == 4 * 16000


@pytest.mark.parametrize("suffix,container,codec,rate", [
    ("wav", "wav", "pcm_s16le", 16000),
    ("mp3", "mp3", "libmp3lame", 44100),
    ("flac", "flac", "flac", 16000),
    ("webm", "webm", "libopus", 48000),
])
def test_a_truncated_file_is_an_error_naming_it(speech, suffix, container, codec, rate):
    whole = encode(speech, container, codec, rate)
    assert abs(len(decode_audio(whole, f"whole.{suffix}")) / 16000 - 11.0) < 0.1
    with pytest.raises(AudioInputError) as exc:
        decode_audio(truncated(whole, 3 / 11), f"cut.{suffix}")  # the header says 11 s, ~3 s decode
    assert exc.value.message.startswith(f"cut.{suffix}: truncated: the header says 11.0 s of audio but only ")
    assert exc.value.hint == "re-export or re-download the file"


@pytest.mark.parametrize("fmt", ["wav", "mp3", "opus", "flac", "aac"])
def test_streamed_files_without_a_stated_length_are_not_called_truncated(speech, fmt):
    # /v1/audio/speech streams these: the header is written before the length is known.
    from voicecli.server.encoders import encoder_for

    encoder = encoder_for(fmt)
    data = encoder.encode(speech) + encoder.finish()
    assert len(decode_audio(truncated(data, 0.5), f"half.{fmt}")) > 2.5 * 16000


def test_wav_header_length():
    header = (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00"
              b"\x02\x00\x10\x00data")
    assert wav_stated_s(header + (352_000).to_bytes(4, "little")) == 11.0
    assert wav_stated_s(header + b"\xff\xff\xff\xff") is None  # streaming: unknown
    assert wav_stated_s(header + b"\x00\x00\x00\x00") is None
    assert wav_stated_s(b"not a wav") is None


@pytest.mark.parametrize("stated,decoded,cut", [
    (11.0, 3.0, True), (11.0, 10.9, False), (11.0, 10.4, True), (0.4, 0.0, False),
    (600.0, 585.0, False), (600.0, 575.0, True), (10.24, 11.03, False),
])
def test_truncation_tolerates_decoder_padding_only(stated, decoded, cut):
    assert is_truncated(stated, decoded) is cut
