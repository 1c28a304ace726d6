"""Fake STT/LLM/TTS engines with the real engines' call shapes, and a REST app built on them:
the server's HTTP layer runs for real (FastAPI, executors, encoders) in milliseconds."""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicecli.config import Settings
from voicecli.stt.types import Segment, TranscribeOptions, Transcription, TranscriptionInfo, join_segments


class FakeTranscriber:
    name = "fake-whisper"
    is_multilingual = True

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = tuple(segments)
        self.calls: list[TranscribeOptions] = []

    def transcribe_stream(self, audio: np.ndarray,
                          options: TranscribeOptions) -> tuple[TranscriptionInfo, Iterator[Segment]]:
        self.calls.append(options)
        return TranscriptionInfo(options.language or "en", 1.0, len(audio) / 16000), iter(self.segments)

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        info, segments = self.transcribe_stream(audio, options)
        seg = tuple(segments)
        return Transcription(join_segments(seg), info.language, 1.0, info.duration_s, seg)

    def warm_up(self) -> None:
        pass


@dataclass(frozen=True)
class FakeAudio:
    samples: np.ndarray


class FakeSpeaker:
    sample_rate_hz = 16000

    def __init__(self, name: str = "en_US-fake-medium") -> None:
        self.name = name
        self.spoken: list[str] = []

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[FakeAudio]:
        self.spoken.append(text)
        yield FakeAudio(np.full(160 * len(text.split()), 0.1, np.float32))

    def warm_up(self) -> None:
        pass


class FakeChat:
    name = "fake-llm"

    def __init__(self, reply: str = "Hello there.") -> None:
        self.reply = reply

    def stream(self, messages: Any, options: Any) -> Iterator[str]:
        yield from re.findall(r"\s*\S+", self.reply)  # token-like deltas: " is", " the", …

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def warm_up(self, system_prompt: str = "") -> None:
        pass


@dataclass
class FakeEngines:
    transcriber: FakeTranscriber
    chat: FakeChat = field(default_factory=FakeChat)
    speaker: FakeSpeaker = field(default_factory=FakeSpeaker)
    settings: Settings = field(default_factory=Settings)
    vad_path: Path = Path("/nonexistent/silero.onnx")


def wav_bytes(seconds: float = 1.0, rate_hz: int = 16000) -> bytes:
    """A mono 16-bit WAV of a quiet tone."""
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    pcm = (0.1 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def rest_client(engines: FakeEngines) -> Any:
    """A Starlette TestClient on the real app (no API key), run as a context manager."""
    from fastapi.testclient import TestClient

    from voicecli.server.app import create_app
    from voicecli.server.config import ServerConfig

    return TestClient(create_app(engines, ServerConfig()), base_url="http://localhost")
