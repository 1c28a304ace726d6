"""Batch transcription: many inputs, one model loaded once, one result (or error) per input.

A bad input never stops the batch: its :class:`FileResult` carries the error and the next
input runs. Only errors that make every input fail (the model cannot be found or loaded, an
option the model cannot honour) propagate. The caller renders results and progress."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from voicecli.audio.decode import DEFAULT_MAX_AUDIO_S, decode_audio
from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.errors import AudioInputError, ConfigError, NoSpeechError, VoicecliError
from voicecli.languages import is_whisper_language
from voicecli.stt.speech_chunks import wants_vad
from voicecli.stt.types import Segment, TranscribeOptions, Transcriber, Transcription, join_segments

STDIN = "-"
"""The input name that means "read the audio from standard input"."""

STDIN_LABEL = "<stdin>"


@dataclass(frozen=True)
class FileResult:
    """What happened to one input: a transcription, or the error that stopped it."""

    source: str
    """The input as given ("-" for stdin)."""
    transcription: Transcription | None = None
    error: VoicecliError | None = None
    audio_s: float = 0.0
    elapsed_s: float = 0.0
    """Wall time for decoding and transcribing this input (not the model load)."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str:
        return label_of(self.source)


class ProgressSink(Protocol):
    """Observes one input at a time, in audio seconds."""

    def started(self, label: str, duration_s: float) -> None: ...

    def advanced(self, position_s: float) -> None: ...

    def finished(self) -> None: ...


class NoProgress:
    def started(self, label: str, duration_s: float) -> None:
        pass

    def advanced(self, position_s: float) -> None:
        pass

    def finished(self) -> None:
        pass


def label_of(source: str) -> str:
    """How messages name an input."""
    return STDIN_LABEL if source == STDIN else source


def output_stem(source: str) -> str:
    """``<stem>`` of the output files written for an input (``stdin`` for ``-``)."""
    return "stdin" if source == STDIN else Path(source).stem


def check_language(language: str | None, transcriber: Transcriber) -> None:
    """Refuse options that would fail (or be silently ignored) for every input."""
    if language is None:
        return
    if not is_whisper_language(language):
        raise ConfigError(f"unknown language code '{language}'",
                          "use a Whisper code such as en, de, es, fr, pt, ru, or omit --language to detect it")
    if language != "en" and not transcriber.is_multilingual:
        raise ConfigError(f"model '{transcriber.name}' is English-only and cannot transcribe '{language}'",
                          "use a multilingual model, e.g. --model base (pip install 'voicecli[multilingual]')")


def transcribe_audio(transcriber: Transcriber, audio: np.ndarray, options: TranscribeOptions,
                     label: str, progress: ProgressSink | None = None) -> Transcription:
    """Run one input to the end, reporting progress at each segment's end time.

    Raises :class:`NoSpeechError` when the audio holds no speech (no segment, or only blank
    text): an empty transcript is almost always a wrong input, so it counts as a failure."""
    progress = progress or NoProgress()
    info, lazy_segments = transcriber.transcribe_stream(audio, options)
    progress.started(label, info.duration_s)
    segments: list[Segment] = []
    try:
        for segment in lazy_segments:
            segments.append(segment)
            progress.advanced(segment.end)
    finally:
        progress.finished()
    text = join_segments(segments)
    if not text:
        raise NoSpeechError(f"{label}: no speech found",
                            "the audio decodes but holds only silence or noise")
    return Transcription(text=text, language=info.language, language_probability=info.language_probability,
                         duration_s=info.duration_s, segments=tuple(segments))


def read_stdin_bytes() -> bytes:
    import sys

    if sys.stdin is None or sys.stdin.isatty():
        raise AudioInputError(f"{STDIN_LABEL}: is a terminal, not audio",
                              "pipe audio in, e.g. cat talk.mp3 | voicecli transcribe -")
    return sys.stdin.buffer.read()


class TranscribeJob:
    """Transcribe inputs one after another with one model.

    ``load_transcriber`` runs at most once, when the first input has decoded, so a batch of
    only bad inputs fails fast without loading a model.

    ``vad_filter``: True or False cut (or not) every input into speech chunks first; None (the
    default) does it when ``options.vad_filter`` asks for it, else for inputs longer than
    :data:`~voicecli.stt.speech_chunks.LONG_AUDIO_S`, where Whisper would invent words in the
    silences. ``max_audio_s`` bounds each input while it decodes (memory: 64 kB per second)."""

    def __init__(self, load_transcriber: Callable[[], Transcriber], options: TranscribeOptions,
                 progress: ProgressSink | None = None,
                 read_stdin: Callable[[], bytes] = read_stdin_bytes, *, vad_filter: bool | None = None,
                 max_audio_s: float = DEFAULT_MAX_AUDIO_S) -> None:
        self._load = load_transcriber
        self._transcriber: Transcriber | None = None
        self.options = options
        self.progress = progress or NoProgress()
        self._read_stdin = read_stdin
        self.vad_filter = True if vad_filter is None and options.vad_filter else vad_filter
        self.max_audio_s = max_audio_s

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            transcriber = self._load()
            check_language(self.options.language, transcriber)
            self._transcriber = transcriber
        return self._transcriber

    def decode(self, source: str) -> np.ndarray:
        if source == STDIN:
            return decode_audio(self._read_stdin(), name=STDIN_LABEL, max_seconds=self.max_audio_s)
        return decode_audio(source, max_seconds=self.max_audio_s)

    def options_for(self, audio_s: float) -> TranscribeOptions:
        """The options for one input of ``audio_s`` seconds (whether it is cut into speech chunks)."""
        return replace(self.options, vad_filter=wants_vad(audio_s, self.vad_filter))

    def run_one(self, source: str) -> FileResult:
        """One input. Input problems become the result's error; model problems propagate."""
        label = label_of(source)
        started = time.perf_counter()

        def failed(error: VoicecliError, audio_s: float = 0.0) -> FileResult:
            return FileResult(source, error=error, audio_s=audio_s, elapsed_s=time.perf_counter() - started)

        try:
            audio = self.decode(source)
        except AudioInputError as exc:
            return failed(exc)
        except Exception as exc:  # noqa: BLE001 - a decoder failure the adapter did not foresee
            error = AudioInputError(f"{label}: cannot decode ({type(exc).__name__}: {exc})", "check the file")
            error.__cause__ = exc
            return failed(error)
        audio_s = len(audio) / PIPELINE_RATE_HZ
        transcriber = self.transcriber  # not caught: a model that cannot load fails every input
        try:
            transcription = transcribe_audio(transcriber, audio, self.options_for(audio_s), label, self.progress)
        except VoicecliError as exc:
            return failed(exc, audio_s)
        except Exception as exc:  # noqa: BLE001 - an engine failure on this input only: report it, keep going
            failure = VoicecliError(f"{label}: transcription failed ({type(exc).__name__}: {exc})",
                                    "run again with --verbose for details")
            failure.__cause__ = exc
            return failed(failure, audio_s)
        return FileResult(source, transcription=transcription, audio_s=audio_s,
                          elapsed_s=time.perf_counter() - started)

    def run(self, sources: Iterable[str], on_result: Callable[[FileResult], None] | None = None) -> list[FileResult]:
        """Every input in order; ``on_result`` sees each result as soon as it is known."""
        results = []
        for source in sources:
            result = self.run_one(source)
            if on_result is not None:
                on_result(result)
            results.append(result)
        return results

