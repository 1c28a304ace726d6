"""Long audio → the chunks Whisper decodes, and the check that finds speech a decode skipped.

Whisper reads windows of at most 30 s and may end one early: it predicts "no more speech here"
and the rest of the window is never read. faster-whisper's batched pipeline made that likely and
silent: it glued VAD regions into 30 s windows, cut speech where the 30 s fell (mid-word), and
decoded each window exactly once — so ``transcribe --batched`` lost whole sentences (issue 12).

Here the sequential and the batched path decode the same chunks: speech regions found by Silero
VAD, cut only at silences and at most ``max_chunk_s`` long; and a chunk whose transcript stops
well before its speech does is decoded again from where it stopped (:func:`skipped_tail`).
Silence is never decoded, so Whisper cannot "hear" words in it.

Pure planning (spans in, spans out), plus :func:`speech_spans`, the one call into the VAD."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ

LONG_AUDIO_S = 30.0
"""Audio longer than one Whisper window is VAD-chunked unless the caller says otherwise: in long
silences Whisper invents words ("you", "Thanks.")."""


@dataclass(frozen=True)
class Span:
    """A stretch of the audio, in seconds from its start."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class ChunkParams:
    """How speech is found and grouped (tuned on the eval clips concatenated, see tests/hostile)."""

    max_chunk_s: float = 20.0
    """Longest chunk; a longer stretch of speech is cut at its last short pause (Silero's rule)."""
    min_silence_ms: int = 500
    """A pause this long ends a speech region."""
    speech_pad_ms: int = 400
    """Audio kept on each side of a speech region (so first and last words are whole)."""
    merge_gap_s: float = 2.0
    """Regions closer than this are decoded together (context helps Whisper), up to ``max_chunk_s``."""
    skipped_tail_s: float = 1.0
    """A chunk whose transcript ends this long before the chunk does is decoded again from there
    (when nothing is lost, a transcript's last timestamp is within ~0.6 s of the chunk's end: the
    VAD padding plus timestamp rounding; "ten of clubs" lasts 1.1 s)."""


DEFAULT_CHUNKS = ChunkParams()


def wants_vad(duration_s: float, explicit: bool | None = None) -> bool:
    """Whether to VAD-chunk audio this long: the caller's choice if it made one, else only audio
    longer than :data:`LONG_AUDIO_S`."""
    return explicit if explicit is not None else duration_s > LONG_AUDIO_S


def speech_spans(audio: np.ndarray, params: ChunkParams = DEFAULT_CHUNKS,
                 sample_rate_hz: int = PIPELINE_RATE_HZ) -> list[Span]:
    """The speech regions of 16 kHz mono ``audio`` (Silero VAD, as bundled with faster-whisper),
    none longer than ``params.max_chunk_s``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=params.min_silence_ms, speech_pad_ms=params.speech_pad_ms,
                         max_speech_duration_s=params.max_chunk_s)
    return [Span(t["start"] / sample_rate_hz, t["end"] / sample_rate_hz)
            for t in get_speech_timestamps(audio, options, sampling_rate=sample_rate_hz)]


def plan_chunks(spans: list[Span], params: ChunkParams = DEFAULT_CHUNKS) -> list[Span]:
    """Group neighbouring speech regions into chunks of at most ``max_chunk_s`` (a region that is
    longer on its own stays whole: the VAD already capped it)."""
    chunks: list[Span] = []
    for span in spans:
        last = chunks[-1] if chunks else None
        if (last is not None and span.start_s - last.end_s <= params.merge_gap_s
                and span.end_s - last.start_s <= params.max_chunk_s):
            chunks[-1] = Span(last.start_s, max(last.end_s, span.end_s))
        else:
            chunks.append(span)
    return chunks


def skipped_tail(chunk: Span, transcribed_until_s: float | None,
                 params: ChunkParams = DEFAULT_CHUNKS) -> Span | None:
    """The end of ``chunk`` its transcript did not reach, when it is long enough to hold speech
    (``transcribed_until_s``: the end of the chunk's last segment, None if it had none)."""
    start = chunk.start_s if transcribed_until_s is None else max(chunk.start_s, transcribed_until_s)
    tail = Span(start, chunk.end_s)
    return tail if tail.duration_s >= params.skipped_tail_s else None


def chunk_index(chunks: list[Span], start_s: float, current: int, tolerance_s: float = 0.5) -> int:
    """The chunk a segment starting at ``start_s`` belongs to, at or after ``current`` (segments
    arrive in order; a segment may start slightly before its chunk)."""
    index = current
    while index + 1 < len(chunks) and start_s >= chunks[index + 1].start_s - tolerance_s:
        index += 1
    return index


def repeats(text: str, before: str, window_words: int = 40) -> bool:
    """Whether ``text`` only repeats words at the end of ``before`` (a re-decoded tail that the
    first decode had in fact transcribed, with timestamps ending early)."""
    new = _words(text)
    if not new:
        return True
    old = _words(before)[-window_words:]
    n = len(new)
    return any(old[i:i + n] == new for i in range(len(old) - n + 1))


def _words(text: str) -> list[str]:
    return ["".join(ch for ch in w if ch.isalnum()) for w in text.lower().split() if any(ch.isalnum() for ch in w)]
