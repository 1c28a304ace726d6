"""Semantic end of turn (policy): when to ask a turn detector, how to read its answer, and how
long to wait when it says the user is not done. The model behind it is a seam
(:class:`TurnModel`; Smart Turn v3 in :mod:`voicecli.vad.smart_turn`), the silence bookkeeping
is the endpointer's (:mod:`voicecli.vad.endpointer`).

    speech … silence ── each of checks_ms ──▶ ask the model
        complete (p ≥ threshold) → the turn ends there
        incomplete               → wait: more speech resumes the turn, the next checkpoint
                                   asks again, max_silence_ms of silence ends it anyway

The words heard so far (the speculative transcript, when it is ready) are a second opinion,
asked first: a transcript that trails off ("…", a comma, "and", "to", "um") is not a finished
turn whatever the model says, and one Whisper ends with a question mark after a content word
is, so the model need not be asked. Smart Turn judges prosody: on flat synthetic
speech it called "Can you remind me to…" complete (p 0.99) and "Why is the sky blue?"
unfinished (p 0.01), which the words plainly contradict (``benchmarks/turn_detector.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import numpy as np

from voicecli.vad.endpointer import EndpointerParams

TurnDetectorKind = Literal["smart_turn", "silence"]
Eagerness = Literal["low", "medium", "high", "auto"]


class TurnModel(Protocol):
    """A semantic end-of-turn model: is the speech that ends this audio a finished turn?"""

    def probability(self, audio: np.ndarray) -> float:
        """Probability that the turn is complete, from the turn's 16 kHz mono float32 audio
        (speech and the silence after it so far). Blocking; call it off the audio path."""
        ...


_TRAILING_WORDS = frozenset("""
a an the and or but so because if than that to of in on at for with from by about into like as
is are was were be my your our their his her its this these those um uh er erm hmm
""".split())
"""Words an unpunctuated transcript rarely ends a finished turn with ("tell me about", "um")."""
_HESITATIONS = frozenset("um umm uh uhm er erm hmm mm".split())
_TRAILS_OFF = re.compile(r"(\.\.\.|…|[,;:\-–—])\s*$")
_FINAL_PUNCTUATION = re.compile(r"[.!?][\"')\]]*\s*$")
_ASKS = re.compile(r"(?<![.…])\?[?!]*[\"')\]]*\s*$")
_WORD = re.compile(r"[a-z']+")


def transcript_unfinished(text: str) -> bool:
    """Do the words heard so far trail off? Whisper marks it: "…", a comma or dash at the end,
    or no final punctuation after a word that rarely ends a sentence (an article, preposition,
    conjunction), or a hesitation at the end even if punctuated ("Um."). A sentence Whisper
    punctuated as finished is not vetoed ("Turn it on.")."""
    text = text.strip()
    if not text:
        return False
    if _TRAILS_OFF.search(text):
        return True
    words = _WORD.findall(text.lower())
    if words and words[-1] in _HESITATIONS:
        return True  # "Um." is never a whole turn, whatever Whisper's full stop says
    if _FINAL_PUNCTUATION.search(text):
        return False
    return bool(words) and words[-1] in _TRAILING_WORDS


def transcript_finished(text: str) -> bool:
    """Does Whisper mark the words as a finished question: "?" after a word that can end a
    sentence ("Why is the sky blue?", not "What is it like in?")? Not "!": Whisper wrote
    "Ask not!" for the first words of a sentence JFK went on with."""
    text = text.strip()
    if not _ASKS.search(text):
        return False
    words = _WORD.findall(text.lower())
    return bool(words) and words[-1] not in _TRAILING_WORDS


@dataclass(frozen=True)
class SemanticTurnParams:
    checks_ms: tuple[int, ...] = (200, 600)
    """Silences after the last voiced frame at which the turn detector is asked (each once)."""
    threshold: float = 0.5
    """Probability of "complete" at or above which the turn ends at a checkpoint."""
    max_silence_ms: int = 1500
    """Silence that ends the turn anyway when the detector said "not done" (the fallback)."""
    use_transcript: bool = True
    """Let a trailing-off transcript veto an end (:func:`transcript_unfinished`)."""
    words_end_ms: int | None = 800
    """From this much silence on, words that do not trail off end the turn whatever the model
    says (None: only the fallback does). Smart Turn hears flat synthetic questions Whisper wrote
    without a "?" as unfinished ("Can you tell me a fun fact about the moon", p 0.14): they
    waited the whole fallback. A user who goes on after it within ``vad.continue_ms`` still
    gets one turn (:mod:`voicecli.pipeline.going_on`)."""

    def verdict_from_words(self, transcript: str | None, silence_ms: float = 0.0) -> bool | None:
        """What the words alone settle (``transcript``: heard up to the pause, None when not
        known yet; ``silence_ms``: the pause so far): False when they trail off, True for a
        finished question or, after :attr:`words_end_ms`, any words that do not trail off; None
        when the model must judge."""
        if not self.use_transcript or transcript is None:
            return None
        if transcript_unfinished(transcript):
            return False
        if transcript_finished(transcript):
            return True
        if self.words_end_ms is not None and silence_ms >= self.words_end_ms and transcript.strip():
            return True
        return None

    def complete(self, probability: float, transcript: str | None = None, silence_ms: float = 0.0) -> bool:
        """The verdict at a checkpoint: the words when they settle it, else the model."""
        by_words = self.verdict_from_words(transcript, silence_ms)
        return by_words if by_words is not None else probability >= self.threshold

    def endpointer(self, silence_only: EndpointerParams) -> EndpointerParams:
        """The endpointer for a conversation with this detector: the checkpoints (and
        :attr:`words_end_ms`), and the long silence as the fallback end (``silence_only`` gives
        everything else)."""
        asked = (*self.checks_ms, *((self.words_end_ms,) if self.use_transcript and self.words_end_ms else ()))
        checks = tuple(sorted({ms for ms in asked if ms < self.max_silence_ms}))
        return replace(silence_only, check_silence_ms=checks, end_silence_ms=self.max_silence_ms)


_EAGERNESS: dict[str, SemanticTurnParams] = {
    "high": SemanticTurnParams(checks_ms=(160, 500), threshold=0.3, max_silence_ms=2000, words_end_ms=None),
    "medium": SemanticTurnParams(checks_ms=(200, 600), threshold=0.5, max_silence_ms=4000, words_end_ms=None),
    "low": SemanticTurnParams(checks_ms=(300, 1000), threshold=0.7, max_silence_ms=8000, words_end_ms=None),
}


def params_for_eagerness(eagerness: Eagerness | str | None) -> SemanticTurnParams:
    """OpenAI Realtime ``semantic_vad`` ``eagerness`` → turn-detector parameters.

    ``high`` ends turns soonest (asks after 160 and 500 ms of silence, ends at a lower
    probability of "complete"), ``low`` lets the user take their time (300 and 1000 ms, a
    higher probability); words alone end a turn only when they finish a question (not after
    ``words_end_ms``: a realtime client asked for the model's judgement and its documented
    waits, and Whisper's full stop on a sentence cut short is no evidence); the
    fallback silences are OpenAI's documented maximum waits: 2 s (high), 4 s (medium and
    ``auto``/unset), 8 s (low). For the realtime server: ``server_vad`` keeps the silence-only
    endpointer; ``semantic_vad`` uses :meth:`SemanticTurnParams.endpointer` of these."""
    key = "medium" if eagerness in (None, "auto") else str(eagerness)
    if key not in _EAGERNESS:
        raise ValueError(f"unknown eagerness {eagerness!r} (low, medium, high or auto)")
    return _EAGERNESS[key]
