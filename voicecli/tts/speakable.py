"""Text → the pieces a voice speaks: one policy for every path that speaks text.

Two shapes of input, one rule each:

- A whole text known up front (REST ``/v1/audio/speech``, a Wyoming ``synthesize``):
  :func:`split_for_speech` normalises the whole text first (so constructs spanning lines, such
  as a code block or a list, are read as a whole), then cuts it into sentences.
- A streamed text (LLM deltas in ``talk``/realtime, Wyoming ``synthesize-chunk``):
  :class:`SpeakableStream` cuts the raw text as it arrives (the first clause early), then
  normalises each piece on its own; a piece that normalises to nothing is dropped. Each
  :class:`SpeechPiece` keeps the text as written next to what is spoken, so a barge-in can
  trim the history to what the listener heard.

Either way the voice only ever receives :func:`speakable_text` output, in pieces of at most
:data:`MAX_PIECE_CHARS` (cut at spaces: the normaliser leaves no longer "word"). Pure: no engine here."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from voicecli.tts.chunker import ChunkerParams, SpeechChunker
from voicecli.tts.normalize import normalize_for_speech

WHOLE_TEXT_CHUNKS = ChunkerParams(first_chunk_min_words=6, max_chunk_words=40)
"""Pieces of a text that arrives all at once: nothing waits for more text, so the first piece
can be longer than in a streamed reply."""

STREAM_CHUNKS = ChunkerParams()
"""Pieces of a streamed reply: the first clause as soon as it is long enough, then sentences."""

_SSML_TAG = re.compile(r"<[^>]{0,1000}>")

MAX_PIECE_CHARS = 300
"""Longest text one synthesis call gets. Piper (onnxruntime) needs memory in proportion to the
longest sentence it reads: a normal 40-word sentence costs ~200 MB at its peak, one unbroken
4096-character "word" cost 680 MB."""


def speakable_text(text: str, *, ssml: bool = False, language: str | None = None) -> str:
    """What a voice should read: SSML tags dropped (``ssml``), markdown, URLs, emoji, numbers
    and symbols normalised in ``language`` (None: English). May be empty (nothing to say)."""
    if ssml:
        text = _SSML_TAG.sub(" ", text)
    return normalize_for_speech(text, language)


def whole_sentences(params: ChunkerParams) -> ChunkerParams:
    """``params`` without the early first clause: every piece is a whole sentence (for clients
    that play nothing before the last piece anyway, so an extra early piece only costs time)."""
    return replace(params, first_chunk_min_words=params.max_chunk_words)


def split_for_speech(text: str, params: ChunkerParams = WHOLE_TEXT_CHUNKS, *, ssml: bool = False,
                     language: str | None = None) -> list[str]:
    """A whole text → the non-empty speakable pieces, in order (none when there is nothing to say)."""
    chunker = SpeechChunker(params)
    chunks = [*chunker.push(speakable_text(text, ssml=ssml, language=language) + " "), *chunker.flush()]
    return [piece for chunk in chunks for piece in bounded(chunk)]


def bounded(spoken: str, max_chars: int = MAX_PIECE_CHARS) -> list[str]:
    """``spoken`` cut at spaces into pieces of at most ``max_chars`` (a longer word is cut too)."""
    words = (w[i:i + max_chars] for w in spoken.split() for i in range(0, len(w), max_chars))
    pieces: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*pieces, current] if current else pieces


@dataclass(frozen=True)
class SpeechPiece:
    """One piece of a streamed text."""

    text: str
    """As written (what the listener hears of the reply, for history). A written piece that is
    spoken in several (longer than :data:`MAX_PIECE_CHARS`) is the text of the first; the others' is empty."""
    spoken: str
    """What the voice reads (:func:`speakable_text` of ``text``); never empty."""


class SpeakableStream:
    """A streamed text → :class:`SpeechPiece` as soon as each is complete. Not thread-safe: feed
    it from one thread (the event loop)."""

    def __init__(self, params: ChunkerParams = STREAM_CHUNKS, *, ssml: bool = False,
                 language: str | None = None) -> None:
        self._chunker = SpeechChunker(params)
        self._ssml = ssml
        self._language = language
        """The text's language (None: English): numbers and symbols are said in it."""

    def push(self, delta: str) -> list[SpeechPiece]:
        """Add streamed text; the pieces now complete."""
        return self._speakable(self._chunker.push(delta))

    def flush(self) -> list[SpeechPiece]:
        """The end of the text: whatever is left, as a last piece."""
        return self._speakable(self._chunker.flush())

    def _speakable(self, chunks: list[str]) -> list[SpeechPiece]:
        pieces = []
        for chunk in chunks:
            for i, spoken in enumerate(bounded(speakable_text(chunk, ssml=self._ssml, language=self._language))):
                pieces.append(SpeechPiece(chunk if i == 0 else "", spoken))
        return pieces
