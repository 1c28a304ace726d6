"""The echo path on a simulated device: the player's blocks leave an output that underruns now
and then (silence is played where a block came late), the microphone hears them 150 ms later at
−6 dB, and frames reach the echo path late and in bursts (a busy loop). The echo is measured,
cancelled, and an utterance of pure echo is told apart from a user talking."""

from __future__ import annotations

import numpy as np
import pytest

from voicecli.audio.format import AudioChunk
from voicecli.audio.io import CapturedFrame
from voicecli.audio.playback import Player

pytestmark = pytest.mark.models

RATE = 16000
BLOCK = 320
FRAME = 512


@pytest.fixture(scope="module")
def speech(engines):
    from voicecli.audio.resample import resample

    text = ("Once upon a time, in a small village by the sea, there lived an old fisherman named Tom. "
            "Every morning he rowed his little boat out past the lighthouse, where the water was deep "
            "and green. His only companion was a clever grey cat called Whiskers.")
    audio = np.concatenate([c.samples for c in engines.speaker.synthesize(text)])
    return resample(audio, engines.speaker.sample_rate_hz, RATE)


class Clock:
    t = 1000.0

    def __call__(self) -> float:
        return self.t


def simulate(speech: np.ndarray, near: np.ndarray | None = None, near_at_s: float = 6.0):
    """Run the echo path over a simulated session; returns the path and the cleaned signal."""
    from voicecli.audio.echo import EchoCanceller
    from voicecli.pipeline.echo_path import EchoPath

    clock = Clock()
    player = Player(RATE, clock=clock)
    path = EchoPath(EchoCanceller(), player, clock=clock)
    player.enqueue(1, 0, AudioChunk(speech, RATE))
    rng = np.random.default_rng(3)
    total_s = len(speech) / RATE + 1.0
    played = np.zeros(int((total_s + 2) * RATE), np.float32)  # what the loudspeaker really plays
    out_t, dac = 1000.0, 1000.0  # next output callback; where play-out stands
    late = {int(3.1 * RATE / BLOCK): 0.12, int(7.7 * RATE / BLOCK): 0.08}  # two underruns
    frames, cleaned = [], []
    k = 0
    t_end = 1000.0 + total_s
    next_frame, frame_i = 1000.0 + FRAME / RATE, 0
    while next_frame < t_end:
        if out_t <= next_frame:
            block = np.zeros(BLOCK, np.float32)
            clock.t = out_t + late.get(k, 0.0)
            player.fill(block)
            start = max(dac, clock.t)
            i = int(round((start - 1000.0) * RATE))
            played[i:i + BLOCK] = block
            dac = start + BLOCK / RATE
            out_t = clock.t + BLOCK / RATE
            k += 1
            continue
        i0 = frame_i * FRAME
        mic = np.zeros(FRAME, np.float32)
        src = i0 - int(0.15 * RATE)
        if src >= 0:
            mic += 0.5 * played[src:src + FRAME]
        if near is not None:
            j = i0 - int(near_at_s * RATE)
            if 0 <= j < len(near):
                mic[:len(near[j:j + FRAME])] += near[j:j + FRAME]
        mic += rng.standard_normal(FRAME).astype(np.float32) * 3e-4
        frames.append(CapturedFrame(frame_i, mic, next_frame))
        frame_i += 1
        next_frame += FRAME / RATE
        if frame_i % 10 == 0:  # the loop works through a backlog of 10 frames at once
            clock.t = next_frame + rng.uniform(0.0, 0.05)
            for f in frames:
                cleaned.append((f.samples, path.clean(f)))
            frames = []
    return path, cleaned


def test_echo_is_measured_and_cancelled_through_late_frames_and_underruns(speech):
    path, pairs = simulate(speech)
    assert path.underrun_s > 0.1
    state = path.state
    assert state.heard and state.delay_ms is not None and 140 <= state.delay_ms <= 175, state
    mic = np.concatenate([m for m, _ in pairs])[3 * RATE:]
    out = np.concatenate([c for _, c in pairs])[3 * RATE:]
    erle = 10 * np.log10(np.mean(mic ** 2) / (np.mean(out ** 2) + 1e-12))
    assert erle > 20, erle
    assert state.erle_db is not None and state.erle_db > 15 and state.converged


def test_evidence_tells_echo_from_a_user_and_the_transcript_audio_keeps_the_user(engines, speech, speech_dir):
    from tests.helpers import read_wav

    near, _ = read_wav(speech_dir / "en_jfk_inaugural.wav")
    near = near[: 3 * RATE]
    path, _ = simulate(speech, near=near, near_at_s=6.0)
    loud = int(np.flatnonzero(np.abs(near) > 0.1)[0])  # where his voice starts in the clip
    onset = int((6.0 * RATE + loud) / FRAME)
    f9 = int(9.0 * RATE / FRAME)
    echo_only = path.evidence(onset - 60, onset - 10)
    user = path.evidence(onset, f9)
    assert echo_only.far_coverage > 0.9 and echo_only.ncc is not None and echo_only.ncc > 0.8, echo_only
    assert user.ncc is not None and user.ncc < 0.5, user
    # the VAD noticed him 8 frames late: the transcript audio reaches back to his first words
    got = path.transcript_audio(onset + 8, f9)
    assert got is not None
    audio, start = got
    assert onset - 3 <= start <= onset + 1, (start, onset)
    from voicecli.stt.types import TranscribeOptions

    heard = engines.transcriber.transcribe(audio, TranscribeOptions(language="en")).text.lower()
    assert heard.startswith("and so") and "fellow america" in heard, heard  # "And so my fellow Americans"
