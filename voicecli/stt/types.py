"""The STT vocabulary shared by every backend, the CLI and the server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    seek: int = 0
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True)
class TranscribeOptions:
    """Per-call options (load-time options live in :class:`voicecli.config.SttConfig`)."""

    language: str | None = None
    beam_size: int = 1
    vad_filter: bool = False
    word_timestamps: bool = False
    initial_prompt: str | None = None
    temperature: float = 0.0
    batched: bool = False
    batch_size: int = 8
    without_timestamps: bool = False
    """Skip timestamp tokens (faster; conversation turns need only the text)."""
    short_window_s: float | None = None
    """Utterances shorter than this are encoded in a window of this length instead of Whisper's
    30 s (greedy, known language, text only); anything else takes the normal path."""
    retry_unreliable: bool = True
    """Redo a short-window result that looks unreliable on the normal path (False for live
    partial transcripts: a preview is not worth a second, slower pass)."""


@dataclass(frozen=True)
class TranscriptionInfo:
    language: str
    language_probability: float
    duration_s: float


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str
    language_probability: float
    duration_s: float
    segments: tuple[Segment, ...] = field(default_factory=tuple)


class Transcriber(Protocol):
    """A loaded STT model (``WhisperTranscriber``, ``MlxWhisperTranscriber``). Blocking calls;
    the caller chooses the thread."""

    name: str
    is_multilingual: bool

    def transcribe_stream(self, audio: np.ndarray,
                          options: TranscribeOptions) -> tuple[TranscriptionInfo, Iterator[Segment]]:
        """Start transcribing 16 kHz mono float32 audio; segments are decoded lazily."""
        ...

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        """Transcribe 16 kHz mono float32 audio completely."""
        ...

    def warm_up(self) -> None:
        """Run once on a little audio so the first real call is not slow."""
        ...


def join_segments(segments: list[Segment] | tuple[Segment, ...]) -> str:
    return "".join(s.text for s in segments).strip()
