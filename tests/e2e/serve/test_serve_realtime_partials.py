"""Live partial transcripts over the Realtime API with real models and the official ``openai`` SDK:
a recorded sentence (eval/speech, 7 s) sent like a microphone (100 ms chunks, in real time) gets
``conversation.item.input_audio_transcription.delta`` events while it is spoken — at least two,
the first before the speech ends — then ``completed``; the deltas read as the completed
transcript, which matches the clip as well as the STT model does on the whole clip. In a
transcription session (``?intent=transcription``) and in a conversation session."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from tests.conftest import SPEECH_DIR
from tests.e2e.serve.rt_client import RATE, load_wav_24k, pcm16_b64
from voicecli.bench.wer import word_error_rate

pytestmark = [pytest.mark.models]

CLIP = "en_librivox_austen_0870.wav"
TEXT = ("and mister john dashwood had then leisure to consider how much there might be prudently "
        "in his power to do for them")
DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"
CHUNK_S = 0.1


def speak_in_real_time(conn: Any, samples: np.ndarray, stop: threading.Event) -> threading.Thread:
    """Send ``samples`` as 100 ms chunks, each when its time has come (a microphone's pace)."""
    def run() -> None:
        n = int(CHUNK_S * RATE)
        t0 = time.monotonic()
        for k, i in enumerate(range(0, len(samples), n)):
            if stop.is_set():
                return
            time.sleep(max(0.0, t0 + k * CHUNK_S - time.monotonic()))
            conn.input_audio_buffer.append(audio=pcm16_b64(samples[i:i + n]))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def live_transcript(conn: Any, timeout_s: float = 120) -> tuple[list[tuple[float, Any]], Any]:
    """Speak the clip (then silence) and collect (arrival time, event) up to ``completed``."""
    speech = np.concatenate([load_wav_24k(SPEECH_DIR / CLIP), np.zeros(int(1.5 * RATE), np.float32)])
    stop = threading.Event()
    sender = speak_in_real_time(conn, speech, stop)
    events: list[tuple[float, Any]] = []
    deadline = time.monotonic() + timeout_s
    try:
        for event in conn:
            events.append((time.monotonic(), event))
            assert event.type != "error", event.error
            if event.type == COMPLETED:
                return events, event
            assert time.monotonic() < deadline, f"no transcript within {timeout_s} s"
    finally:
        stop.set()
        sender.join()
    raise AssertionError("connection closed before the transcript")


def check_live(events: list[tuple[float, Any]], done: Any, base_wer: float, label: str) -> None:
    item = done.item_id
    deltas = [(t, e.delta) for t, e in events if e.type == DELTA and e.item_id == item]
    stopped = next(t for t, e in events if e.type == "input_audio_buffer.speech_stopped")
    wer = word_error_rate([TEXT], [done.transcript]).wer
    joined = "".join(d for _, d in deltas)
    print(f"\n{label}: {len(deltas)} deltas, the first {stopped - deltas[0][0]:.1f} s before speech_stopped: "
          f"{[d for _, d in deltas]}\n  completed {done.transcript!r} (WER {wer:.2f}; STT on the clip {base_wer:.2f})"
          f"\n  deltas joined {joined!r}")
    assert len(deltas) >= 2, deltas
    assert deltas[0][0] < stopped, "the first delta came only after the speech ended: not live"
    assert wer <= base_wer + 0.15, (done.transcript, base_wer)
    assert word_error_rate([done.transcript], [joined]).wer <= 0.15, (joined, done.transcript)


def test_transcription_session_streams_live_deltas_while_the_user_speaks(server, transcribe):
    base = word_error_rate([TEXT], [transcribe(load_wav_24k(SPEECH_DIR / CLIP), RATE)]).wer
    with server.client().realtime.connect(extra_query={"intent": "transcription"}) as conn:
        conn.session.update(session={"type": "transcription", "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": RATE}, "turn_detection": {"type": "server_vad"},
            "transcription": {"model": "whisper-1", "language": "en"}}}})
        events, done = live_transcript(conn)
    check_live(events, done, base, "transcription session")


def test_conversation_session_streams_live_deltas_too(server, transcribe):
    base = word_error_rate([TEXT], [transcribe(load_wav_24k(SPEECH_DIR / CLIP), RATE)]).wer
    with server.client().realtime.connect(model="voicecli") as conn:
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"], "audio": {"input": {
            "turn_detection": {"type": "server_vad"}, "transcription": {"model": "whisper-1", "language": "en"}}}})
        events, done = live_transcript(conn)
    check_live(events, done, base, "conversation session")
