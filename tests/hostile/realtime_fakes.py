"""Fake STT/LLM/TTS engines for a real ``voicecli serve`` app (uvicorn, the realtime route, the
pipeline, the executors) without models: the LLM takes real time per token (it sleeps in its
worker thread, as a model would compute), so a starved event loop shows in a turn's duration."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicecli.audio.format import AudioChunk
from voicecli.config import Settings, resolve
from voicecli.llm.types import ChatMessage, GenerationOptions
from voicecli.stt.types import Segment, TranscribeOptions, Transcription

HEARD = "what is two plus two"


@dataclass(frozen=True)
class FakeBehaviour:
    """How the fakes behave: reply length and pace, and how much audio each sentence becomes."""

    sentences: int = 1
    """Sentences per reply ("Two plus two is four." each)."""
    token_delay_s: float = 0.02
    """Time each LLM token takes (slept in the LLM thread)."""
    seconds_per_sentence: float = 0.5
    """Audio per spoken sentence."""


class FakeVad:
    def probability(self, frame: np.ndarray) -> float:
        return 0.95 if float(np.sqrt(np.mean(np.square(frame)))) > 0.01 else 0.0

    def reset(self) -> None:
        pass


class FakeTranscriber:
    name = "fake-stt"
    is_multilingual = False

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        duration_s = len(audio) / 16_000
        return Transcription(HEARD, "en", 1.0, duration_s, (Segment(0, 0.0, duration_s, HEARD),))

    def warm_up(self) -> None:
        pass


class FakeChat:
    name = "fake-llm"

    def __init__(self, b: FakeBehaviour) -> None:
        self.b = b

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        for _ in range(self.b.sentences):
            for token in ("Two", " plus", " two", " is", " four.", " "):
                time.sleep(self.b.token_delay_s)
                yield token

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def warm_up(self, system_prompt: str = "") -> None:
        pass


class FakeSpeaker:
    name = "fake-voice"
    sample_rate_hz = 22_050

    def __init__(self, b: FakeBehaviour) -> None:
        self.b = b

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        n = int(self.b.seconds_per_sentence * self.sample_rate_hz)
        yield AudioChunk((0.1 * np.sin(np.arange(n) / 7.0)).astype(np.float32), self.sample_rate_hz)

    def warm_up(self) -> None:
        pass


class FakeEngines:
    def __init__(self, b: FakeBehaviour) -> None:
        self.settings: Settings = resolve({}, env={}, file=Path("/nonexistent/config.toml")).settings
        self.transcriber = FakeTranscriber()
        self.chat = FakeChat(b)
        self.speaker = FakeSpeaker(b)

    def new_vad(self) -> FakeVad:
        return FakeVad()

    def close(self) -> None:
        pass
