"""G.711 on the realtime wire: the μ-law and A-law codec (audioop) keeps a signal within G.711's
quantisation noise; the input buffer decodes 8 kHz G.711 split at any byte into 16 kHz audio; a
session with ``audio/pcmu``/``audio/pcma`` (GA) or ``g711_ulaw``/``g711_alaw`` (beta) reports them and
sends its reply audio as 8 kHz G.711 (through the fake engines of test_realtime_handler.py)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np
import pytest

from tests.unit.test_realtime_handler import FakeEngines, Session, open_session, user_text
from voicecli.audio.resample import resample
from voicecli.server.realtime.input_buffer import InputBuffer
from voicecli.server.realtime.wire_audio import WireFormat

ULAW, ALAW = WireFormat("g711_ulaw"), WireFormat("g711_alaw")


@pytest.fixture()
def engines() -> FakeEngines:
    return FakeEngines()


@pytest.fixture()
def rt(engines: FakeEngines) -> Iterator[Session]:
    yield from open_session(engines)


def sweep(seconds: float, rate: int, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * (200 + 600 * t) * t)).astype(np.float32)


def snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    n = min(len(ref), len(got))
    noise = ref[:n] - got[:n]
    return float(10 * np.log10(np.sum(ref[:n] ** 2) / max(np.sum(noise ** 2), 1e-12)))


@pytest.mark.parametrize("fmt", [ULAW, ALAW])
def test_codec_round_trip_is_within_g711_noise(fmt: WireFormat) -> None:
    x = sweep(1.0, 8000)
    data = fmt.encode(x)
    assert len(data) == len(x)  # one byte a sample
    assert snr_db(x, fmt.decode(data)) > 30  # G.711 gives ~37 dB on a loud signal


@pytest.mark.parametrize("fmt", [ULAW, ALAW])
def test_input_buffer_decodes_g711_split_anywhere(fmt: WireFormat) -> None:
    x = sweep(1.0, 8000)
    data = fmt.encode(x)
    buf = InputBuffer(10)
    buf.use_format(fmt)
    for i in range(0, len(data), 333):
        buf.append(base64.b64encode(data[i:i + 333]).decode(), keep_newest=False)
    got = buf.take()
    assert 16000 - 1600 < len(got) <= 16000  # the stream resampler holds back its last few ms
    assert snr_db(resample(x, 8000, 16000)[:len(got) - 200], got[:len(got) - 200]) > 20


def test_session_reports_the_formats_in_both_dialects(rt: Session) -> None:
    s = rt.update(audio={"input": {"format": {"type": "audio/pcmu"}}, "output": {"format": {"type": "audio/pcma"}}})
    assert s["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert s["audio"]["output"]["format"] == {"type": "audio/pcma"}


def test_beta_session_reports_the_beta_names(engines: FakeEngines) -> None:
    for rt in open_session(engines, headers={"OpenAI-Beta": "realtime=v1"}):
        rt.send({"type": "session.update", "session": {"input_audio_format": "g711_alaw",
                                                       "output_audio_format": "g711_ulaw"}})
        beta = rt.until("session.updated")[-1]["session"]
        assert (beta["input_audio_format"], beta["output_audio_format"]) == ("g711_alaw", "g711_ulaw")


@pytest.mark.parametrize("fmt, ga", [(ULAW, "audio/pcmu"), (ALAW, "audio/pcma")])
def test_reply_audio_is_8khz_g711(rt: Session, fmt: WireFormat, ga: str) -> None:
    def reply() -> tuple[bytes, str]:
        rt.send(user_text("hello"))
        rt.send({"type": "response.create"})
        events = rt.until("response.done")
        audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
        return audio, next(e["transcript"] for e in events if e["type"] == "response.output_audio_transcript.done")

    pcm, pcm_transcript = reply()
    rt.update(audio={"output": {"format": {"type": ga}}})
    g711, transcript = reply()
    assert transcript == pcm_transcript
    assert abs(len(g711) - len(pcm) / 2 / 3) < 8  # one byte per 8 kHz sample, against two per 24 kHz sample
    ref = resample(WireFormat().decode(pcm), 24000, 8000)
    decoded = fmt.decode(g711)
    n = min(len(ref), len(decoded))
    assert np.corrcoef(ref[:n], decoded[:n])[0, 1] > 0.9
