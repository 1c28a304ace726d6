"""faster-whisper over planned speech chunks (:mod:`voicecli.stt.speech_chunks`): the sequential
model or the batched pipeline decodes the same chunks, each from its own audio; then any chunk
whose transcript stopped early has its skipped tail decoded again, sequentially. Segments stay
lazy and in order, with timestamps in the whole audio's time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.stt.speech_chunks import (
    DEFAULT_CHUNKS,
    ChunkParams,
    Span,
    chunk_index,
    plan_chunks,
    repeats,
    skipped_tail,
    speech_spans,
)

_LOGGER = logging.getLogger(__name__)


class FwSegment(Protocol):
    """The fields of a faster-whisper segment this module reads."""

    start: float
    end: float
    text: str


class FwModel(Protocol):
    """faster-whisper's ``WhisperModel`` or ``BatchedInferencePipeline``."""

    def transcribe(self, audio: np.ndarray, **kwargs: Any) -> tuple[Iterable[Any], Any]: ...

    def detect_language(self, audio: np.ndarray) -> tuple[str, float, Any]: ...


@dataclass(frozen=True)
class ChunkedInfo:
    """What faster-whisper's ``TranscriptionInfo`` tells the caller, for the whole audio."""

    language: str
    language_probability: float
    duration: float


def transcribe_chunked(model: FwModel, pipeline: FwModel, audio: np.ndarray, kwargs: dict[str, Any], *,
                       batched: bool, batch_size: int,
                       params: ChunkParams = DEFAULT_CHUNKS) -> tuple[Iterator[Any], Any]:
    """``(segments, info)`` like faster-whisper's ``transcribe``, over the speech chunks of ``audio``.
    ``kwargs`` are the per-call options shared by every decode (language, beam, temperature…).

    Each chunk is decoded from its own audio (sequentially, or all together by the batched
    pipeline, which does the same), so both paths see the same features and agree word for word
    but for the temperature fallback that only the sequential path has."""
    chunks = plan_chunks(speech_spans(audio, params), params)
    if not chunks:  # no speech: faster-whisper's own VAD path reports the language and no segment
        segments, info = model.transcribe(audio, **{**kwargs, "vad_filter": True})
        return iter(segments), info
    language, probability = kwargs.get("language"), 1.0
    if language is None:
        language, probability, _ = model.detect_language(audio=_cut(audio, chunks[0]))
    common = {**kwargs, "vad_filter": False, "language": language}
    info = ChunkedInfo(language, float(probability), len(audio) / PIPELINE_RATE_HZ)

    def decode(span: Span) -> Iterator[Any]:
        segments, _ = model.transcribe(_cut(audio, span), **common)
        for seg in segments:
            yield _shifted(seg, span.start_s)

    if batched:
        clips = [{"start": c.start_s, "end": c.end_s} for c in chunks]
        segments, _ = pipeline.transcribe(audio, clip_timestamps=clips, batch_size=batch_size, **common)
        first: Iterator[Any] = iter(segments)
    else:
        first = (seg for chunk in chunks for seg in decode(chunk))
    return with_skipped_tails(first, chunks, decode, params, retry_empty=batched), info


def _cut(audio: np.ndarray, span: Span) -> np.ndarray:
    return audio[int(span.start_s * PIPELINE_RATE_HZ):int(span.end_s * PIPELINE_RATE_HZ)]


def _shifted(seg: Any, offset_s: float) -> Any:
    """A faster-whisper segment (a dataclass) moved ``offset_s`` later, its words too."""
    words = [replace(w, start=w.start + offset_s, end=w.end + offset_s) for w in seg.words] if seg.words else seg.words
    return replace(seg, start=seg.start + offset_s, end=seg.end + offset_s, words=words)


def with_skipped_tails(segments: Iterator[FwSegment], chunks: list[Span],
                       decode_again: Callable[[Span], Iterable[FwSegment]],
                       params: ChunkParams = DEFAULT_CHUNKS, *, retry_empty: bool = True) -> Iterator[FwSegment]:
    """``segments`` (in order, over ``chunks``) with each chunk's skipped tail decoded again and
    inserted after the chunk's last segment, unless it only repeats what was already said.
    ``retry_empty``: also decode again a chunk that gave no segment at all (pointless when the
    first decode was the same sequential decode of the same chunk)."""
    current = 0
    until: float | None = None
    said = ""

    def tail(index: int) -> Iterator[FwSegment]:
        span = skipped_tail(chunks[index], until, params)
        if span is None or (until is None and not retry_empty):
            return
        _LOGGER.info("speech chunk %.1f-%.1f s: its transcript stops at %.1f s; decoding the rest again",
                     chunks[index].start_s, chunks[index].end_s, span.start_s)
        for seg in decode_again(span):
            if not repeats(seg.text, said):
                yield seg

    for seg in segments:
        index = chunk_index(chunks, seg.start, current)
        while current < index:
            yield from tail(current)
            current, until = current + 1, None
        until = seg.end if until is None else max(until, seg.end)
        said = (said + " " + seg.text)[-2000:]
        yield seg
    while current < len(chunks):
        yield from tail(current)
        current, until = current + 1, None
