"""Cut a streaming LLM reply into pieces to speak: the first clause as early as it is long
enough, then whole sentences. Pure: text in, chunks out."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e",
                  "no", "approx", "fig", "inc", "ltd", "co", "u.s", "a.m", "p.m"}
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*(?=\s)|\n+")
_CLAUSE_END = re.compile(r"[,;:—–]+(?=\s)| - ")


@dataclass(frozen=True)
class ChunkerParams:
    first_chunk_min_words: int = 4
    """The first clause is spoken as soon as it has this many words."""
    max_chunk_words: int = 30
    """A sentence longer than this is cut at a clause boundary."""


class SpeechChunker:
    def __init__(self, params: ChunkerParams = ChunkerParams()) -> None:
        self.p = params
        self._buf = ""
        self._emitted = 0

    def push(self, delta: str) -> list[str]:
        """Add streamed text; return the chunks that are now complete."""
        self._buf += delta
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                return out
            chunk, self._buf = self._buf[:cut].strip(), self._buf[cut:].lstrip()
            if chunk:
                out.append(chunk)
                self._emitted += 1

    def flush(self) -> list[str]:
        chunk, self._buf = self._buf.strip(), ""
        if chunk:
            self._emitted += 1
            return [chunk]
        return []

    def _find_cut(self) -> int | None:
        buf = self._buf
        for m in _SENTENCE_END.finditer(buf):
            if m.group(0).startswith(".") and self._is_abbreviation_or_number(buf, m.start()):
                continue
            if len(buf[:m.end()].split()) >= 1:
                return m.end()
        words = len(buf.split())
        want = self.p.first_chunk_min_words if self._emitted == 0 else self.p.max_chunk_words
        if words >= want:
            cuts = [m.end() for m in _CLAUSE_END.finditer(buf) if len(buf[:m.end()].split()) >= want
                    or (self._emitted == 0 and len(buf[:m.end()].split()) >= self.p.first_chunk_min_words)]
            if cuts:
                return cuts[0]
        return None

    @staticmethod
    def _is_abbreviation_or_number(buf: str, dot: int) -> bool:
        before = buf[:dot].split()[-1].lower() if buf[:dot].split() else ""
        if before.rstrip(".") in _ABBREVIATIONS or (len(before) == 1 and before.isalpha()):
            return True
        return dot + 1 < len(buf) and buf[dot + 1].isdigit()
