"""A realtime voice client on the official ``openai`` SDK (``client.realtime.connect``), shared by
the tests and ``benchmarks/bench_realtime_sessions.py``: streams WAV files as 24 kHz PCM16 like a
microphone (optionally in real time), collects transcripts, audio and timings per turn."""

from __future__ import annotations

import base64
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RATE = 24_000
CHUNK_S = 0.04


def load_wav_24k(path: Path) -> np.ndarray:
    from voicecli.audio.resample import resample

    with wave.open(str(path), "rb") as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
        return resample(x, w.getframerate(), RATE)


def pcm16_b64(samples: np.ndarray) -> str:
    return base64.b64encode((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()).decode("ascii")


def until(conn: Any, kind: str, timeout_s: float = 150) -> list[Any]:
    """Events of an SDK realtime connection up to and including the first ``kind`` (an
    ``error`` event fails the test)."""
    out = []
    deadline = time.monotonic() + timeout_s
    for event in conn:
        out.append(event)
        assert event.type != "error", event.error
        if event.type == kind:
            return out
        assert time.monotonic() < deadline, f"no {kind} within {timeout_s} s"
    raise AssertionError(f"connection closed before {kind}")


def b64_to_float(delta: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(delta), "<i2").astype(np.float32) / 32768.0


@dataclass
class Turn:
    user_transcript: str | None = None
    user_item: str | None = None
    status: str | None = None
    reason: str | None = None
    response_id: str | None = None
    item_id: str | None = None
    transcript: str = ""
    audio: list[np.ndarray] = field(default_factory=list)
    speech_end_sent_at: float | None = None
    """Monotonic time the client sent the last voiced sample (speech_stopped's audio_end_ms)."""
    first_audio_at: float | None = None
    done_at: float | None = None

    @property
    def samples(self) -> np.ndarray:
        return np.concatenate(self.audio) if self.audio else np.zeros(0, np.float32)

    @property
    def latency_s(self) -> float | None:
        """End of the user's speech → first reply audio received."""
        if self.first_audio_at is None or self.speech_end_sent_at is None:
            return None
        return self.first_audio_at - self.speech_end_sent_at


class Microphone:
    """Sends audio like a microphone: queued clips, else silence, in 40 ms chunks, paced in
    real time (``realtime=True``) or as fast as possible."""

    def __init__(self, conn: Any, realtime: bool) -> None:
        self.conn = conn
        self.realtime = realtime
        self._lock = threading.Lock()
        self._pending: list[np.ndarray] = []
        self._stop = threading.Event()
        self.sent_samples = 0
        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self.realtime:
            self._thread.start()

    def play(self, samples: np.ndarray) -> None:
        if self.realtime:
            with self._lock:
                self._pending.append(samples)
        else:
            n = int(CHUNK_S * RATE)
            for i in range(0, len(samples), n):
                self.conn.input_audio_buffer.append(audio=pcm16_b64(samples[i:i + n]))
            self.sent_samples += len(samples)

    def time_of_sample(self, sample: int) -> float:
        """Monotonic time at which ``sample`` (input position) was sent."""
        return self.t0 + sample / RATE if self.realtime else time.monotonic()

    def _run(self) -> None:
        n = int(CHUNK_S * RATE)
        buf = np.zeros(0, np.float32)
        while not self._stop.is_set():
            with self._lock:
                while self._pending and len(buf) < n:
                    buf = np.concatenate([buf, self._pending.pop(0)])
            chunk = buf[:n] if len(buf) >= n else np.concatenate([buf, np.zeros(n - len(buf), np.float32)])
            buf = buf[n:] if len(buf) >= n else np.zeros(0, np.float32)
            due = self.t0 + (self.sent_samples + n) / RATE
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                self.conn.input_audio_buffer.append(audio=pcm16_b64(chunk))
            except Exception:  # noqa: BLE001 - connection closed
                return
            self.sent_samples += n

    def stop(self) -> None:
        self._stop.set()


def run_voice_session(client: Any, clips: list[np.ndarray], realtime: bool = False, trailing_silence_s: float = 1.2,
                      session: dict[str, Any] | None = None, timeout_s: float = 180) -> list[Turn]:
    """One realtime session: for each clip, speak it, wait for the reply to finish."""
    turns: list[Turn] = []
    with client.realtime.connect(model="voicecli") as conn:
        conn.session.update(session=session or {"type": "realtime", "audio": {"input": {
            "turn_detection": {"type": "server_vad"}, "transcription": {"model": "whisper-1"}}}})
        mic = Microphone(conn, realtime)
        mic.start()
        deadline = time.monotonic() + timeout_s
        try:
            for clip in clips:
                turn = Turn()
                turns.append(turn)
                mic.play(np.concatenate([clip, np.zeros(int(trailing_silence_s * RATE), np.float32)]))
                for event in conn:
                    if time.monotonic() > deadline:
                        raise TimeoutError("realtime session timed out")
                    collect(event, turn, mic)
                    if event.type == "response.done":
                        break
                    if event.type == "error":
                        raise AssertionError(f"error event: {event.error}")
        finally:
            mic.stop()
    return turns


def collect(event: Any, turn: Turn, mic: Microphone | None = None) -> None:
    t = event.type
    if t == "input_audio_buffer.speech_stopped" and mic is not None:
        turn.speech_end_sent_at = mic.time_of_sample(int(event.audio_end_ms * RATE / 1000))
    elif t == "input_audio_buffer.committed":
        turn.user_item = event.item_id
    elif t == "conversation.item.input_audio_transcription.completed":
        turn.user_transcript = event.transcript
    elif t == "response.created":
        turn.response_id = event.response.id
    elif t == "response.output_audio.delta":
        if turn.first_audio_at is None:
            turn.first_audio_at = time.monotonic()
        turn.item_id = event.item_id
        turn.audio.append(b64_to_float(event.delta))
    elif t == "response.output_audio_transcript.delta":
        turn.transcript += event.delta
    elif t == "response.done":
        turn.status = event.response.status
        details = event.response.status_details
        turn.reason = details.reason if details is not None else None
        turn.done_at = time.monotonic()
