"""Cut a streaming LLM reply into pieces to speak: the first clause as early as it is long
enough, then whole sentences. A first sentence without a comma is cut before the first
conjunction, preposition or verb that follows ``first_chunk_min_words`` words ("The capital of
France | is Paris."), so the first audio never waits for the rest of the sentence: Piper takes
~75 ms per second of speech here and SmolLM2 ~20 ms per token, both before the first sound.
Pure: text in, chunks out."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e",
                  "no", "approx", "fig", "inc", "ltd", "co", "u.s", "a.m", "p.m"}
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*(?=\s)|\n+")
_DATE_DOT = re.compile(r"\s+(?:Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|"
                       r"Dezember)\b")
"""After "3." this is a German date ("am 3. Mai"), not the end of a sentence."""
_SENTENCE_END_NOW = re.compile(r"(?<=[A-Za-z]{2})[.!?…]+[\"')\]]*$")
"""A sentence end at the very end of the text so far, after a word (not a number: "3." may go on
as "3.5"): cut without waiting for the next token (~15–20 ms of SmolLM2 here, on every first
clause)."""
_CLAUSE_END = re.compile(r"[,;:—–]+(?=\s)| - ")
_CLAUSE_END_NOW = re.compile(r"(?<=[A-Za-z]{2})[,;:]$")
"""A comma at the very end of the text so far, after a word (not "3," of "3,000"): a first
clause ends there without waiting for the next token."""
_BREAK_WORDS = frozenset("""
and but or so because which who whom whose when where while if although though since until unless
that with without for in on at from after before
""".split())
"""A long first sentence without punctuation is cut before one of these (a phrase starts there)."""
_VERBS = frozenset("is are was were has have had can could will would should may might must does do did".split())
"""...or before one of these after a subject of ``first_chunk_min_words`` or more ("The capital of
France | is Paris.")."""
_ARTICLES = frozenset("the a an".split())
"""Where a noun phrase starts: a cut too ("The moon is actually | a lunar planet,"), unless it
would leave a preposition behind ("It is one of | the"); after ``first_chunk_max_words`` words
even then ("The quick brown fox jumps over | the lazy dog")."""
_PREPOSITIONS = frozenset("""
of to in on at for with from by about into onto over under than as like per via through across
after before between during without within
""".split())


FIRST_CHUNK_MAX_CHARS = 60
"""...nor for more characters than this: SmolLM2 once answered "There are 1000…000" (96 tokens of
digits, no space), and the first piece waited for the whole reply (5.3 s to the first sound on the device loop)."""

FIRST_CHUNK_HARD_WORDS = 8
"""The first piece never waits for more words than this: a long first sentence with no comma and
no word to cut before was spoken whole, and Piper's first audio took ~2 s (30 words); at 12 words
("The moon is the only other celestial body other than Earth that") it still took 300–450 ms."""


@dataclass(frozen=True)
class ChunkerParams:
    first_chunk_min_words: int = 4
    """The first clause is spoken as soon as it has this many words."""
    max_chunk_words: int = 30
    """A sentence longer than this is cut at a clause boundary."""
    first_chunk_max_words: int = FIRST_CHUNK_HARD_WORDS
    """The cut of a first clause without punctuation is looked for up to this many words in
    (then the sentence goes on to its punctuation, or to ``FIRST_CHUNK_HARD_WORDS``)."""


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
        sentence = self._sentence_end(buf)
        if self._emitted == 0:
            early = self._first_clause_cut(buf if sentence is None else buf[:sentence])
            if early is not None:
                return early
        if sentence is not None:
            return sentence
        words = len(buf.split())
        if self._emitted == 0:
            if words > FIRST_CHUNK_HARD_WORDS:  # nowhere good to cut: never wait longer
                return list(re.finditer(r"\S+", buf))[FIRST_CHUNK_HARD_WORDS].start()
            if len(buf) > FIRST_CHUNK_MAX_CHARS:  # before the overlong word, or inside it
                space = buf.rfind(" ", 0, FIRST_CHUNK_MAX_CHARS)
                return space if space > 0 and buf[:space].strip() else FIRST_CHUNK_MAX_CHARS
            return None
        if words >= self.p.max_chunk_words:
            cuts = [m.end() for m in _CLAUSE_END.finditer(buf) if len(buf[:m.end()].split()) >= self.p.max_chunk_words]
            if cuts:
                return cuts[0]
        return None

    def _sentence_end(self, buf: str) -> int | None:
        """Where the first whole sentence in ``buf`` ends (None: none has yet)."""
        for m in _SENTENCE_END.finditer(buf):
            if m.group(0).startswith(".") and self._is_abbreviation_or_number(buf, m.start()):
                continue
            if len(buf[:m.end()].split()) >= 1:
                return m.end()
        end = _SENTENCE_END_NOW.search(buf)
        if end is not None and not (end.group(0).startswith(".") and self._is_abbreviation_or_number(buf, end.start())):
            return end.end()
        return None

    def _first_clause_cut(self, head: str) -> int | None:
        """The first piece's cut inside ``head`` (the first sentence, or all the text so far
        while no sentence has ended): after a comma or before a break word or verb, with at
        least ``first_chunk_min_words`` words in front, whichever comes first (None: none)."""
        clause_words = max(1, self.p.first_chunk_min_words - 1)  # "One sunny afternoon, | in the …"
        ends = [m.end() for m in _CLAUSE_END.finditer(head)]
        if (now := _CLAUSE_END_NOW.search(head)) is not None:
            ends.append(now.end())
        cuts = [end for end in ends if len(head[:end].split()) >= clause_words]
        phrase = self._phrase_cut(head) if len(head.split()) > self.p.first_chunk_min_words else None
        if phrase is not None:
            cuts.append(phrase)
        return min(cuts) if cuts else None

    def _phrase_cut(self, buf: str) -> int | None:
        """Where to cut an unpunctuated first sentence: before the first break word, verb or
        article (not after a preposition) that leaves at least ``first_chunk_min_words`` words in
        front; failing that, once ``first_chunk_max_words`` words are in, before the first
        article (None: keep waiting)."""
        spans = [m for m in re.finditer(r"\S+", buf)][: self.p.first_chunk_max_words + 1]
        whole = [(i, s.group(0).lower()) for i, s in enumerate(spans)
                 if i >= self.p.first_chunk_min_words and s.end() < len(buf)]  # whole words only
        for i, word in whole:
            if word in _BREAK_WORDS or word in _VERBS or (
                    word in _ARTICLES and spans[i - 1].group(0).lower() not in _PREPOSITIONS):
                return spans[i].start()
        if len(spans) > self.p.first_chunk_max_words:
            for i, word in whole:
                if word in _ARTICLES:
                    return spans[i].start()
        return None

    @staticmethod
    def _is_abbreviation_or_number(buf: str, dot: int) -> bool:
        before = buf[:dot].split()[-1].lower() if buf[:dot].split() else ""
        if before.rstrip(".") in _ABBREVIATIONS or (len(before) == 1 and before.isalpha()):
            return True
        if before.isdigit() and len(before) <= 2 and _DATE_DOT.match(buf, dot + 1):
            return True
        return dot + 1 < len(buf) and buf[dot + 1].isdigit()
