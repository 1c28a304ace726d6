"""Asleep or awake: the wake-word policy as a pure state machine (no audio, no models, a clock
passed in), and the fuzzy match of a wake phrase in a transcript.

    ASLEEP ──woke (wake word heard / wake phrase transcribed)──▶ AWAKE
    AWAKE ──quiet for follow_up_s (no reply, no user speech, nothing pending)──▶ ASLEEP

An utterance is judged by the state it started in (:meth:`WakeGate.speech_started`): one that
started AWAKE is a follow-up, answered as usual; one that started ASLEEP is answered only if it
woke the assistant (the wake word was heard during it, or its transcript holds the wake
phrase), and then only the words after the wake word. Everything else is dropped unanswered
and unstored."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import Enum

PHRASE_SIMILARITY = 0.75
"""How alike (difflib ratio, 0‥1) words of the transcript must be to the wake phrase to match."""


class WakeState(str, Enum):
    ASLEEP = "asleep"
    AWAKE = "awake"


class Admission(str, Enum):
    """What to do with an utterance that just ended."""

    FOLLOW_UP = "follow_up"
    """It started awake: an ordinary turn."""
    WOKE = "woke"
    """It started asleep and the wake word was heard in it: answer the words after the wake word."""
    CHECK = "check"
    """It started asleep, phrase mode: transcribe it and answer only if the wake phrase is in it."""
    DROP = "drop"
    """It started asleep and nothing woke the assistant: never transcribed, answered or stored."""


@dataclass(frozen=True)
class WakeOptions:
    phrase: str
    """The words that wake the assistant (model mode: what the model listens for)."""
    model: str | None = None
    """openWakeWord model name or .onnx path; None: phrase mode (matched on the transcript)."""
    threshold: float = 0.5
    """Wake-model score that counts as the wake word."""
    follow_up_s: float = 8.0
    """Quiet time after the last reply (or the wake word) before the assistant sleeps again."""
    cue: str = "off"
    """"chime": a short chime when it wakes; "off": none."""


class WakeGate:
    def __init__(self, follow_up_s: float, phrase_mode: bool) -> None:
        self.follow_up_s = follow_up_s
        self.phrase_mode = phrase_mode
        self.state = WakeState.ASLEEP
        self._quiet_since = 0.0
        self._started_in = WakeState.ASLEEP
        self._woke_in_utterance = False

    @property
    def awake(self) -> bool:
        return self.state is WakeState.AWAKE

    def wake(self, now: float, heard_now: bool = True) -> bool:
        """The wake word was heard (``heard_now``: in the audio arriving now) or the wake phrase
        found in an ended utterance's transcript. True if this woke it."""
        self._quiet_since = now
        self._woke_in_utterance = self._woke_in_utterance or heard_now
        changed = self.state is WakeState.ASLEEP
        self.state = WakeState.AWAKE
        return changed

    def tick(self, now: float, busy: bool) -> bool:
        """Time passes; ``busy``: a reply is in progress, the user is speaking or a wake check is
        pending (the quiet time restarts). True if the assistant fell asleep now."""
        if self.state is WakeState.ASLEEP:
            return False
        if busy:
            self._quiet_since = now
            return False
        if now - self._quiet_since >= self.follow_up_s:
            self.state = WakeState.ASLEEP
            return True
        return False

    def speech_started(self) -> None:
        # Woken between utterances: by a wake word that the detector heard before the endpointer
        # counted its speech as started, so it opens this utterance (which holds it).
        opened = self._woke_in_utterance and self.awake
        self._started_in = WakeState.ASLEEP if opened else self.state
        self._woke_in_utterance = opened

    @property
    def follow_up(self) -> bool:
        """Did the current utterance start awake (so a speculative reply may be prepared for it)?"""
        return self._started_in is WakeState.AWAKE

    def utterance_ended(self) -> Admission:
        woke, self._woke_in_utterance = self._woke_in_utterance, False
        if self._started_in is WakeState.AWAKE:
            return Admission.FOLLOW_UP
        if woke and self.awake:
            return Admission.WOKE
        return Admission.CHECK if self.phrase_mode else Admission.DROP


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def after_phrase(transcript: str, phrase: str, similarity: float = PHRASE_SIMILARITY) -> str | None:
    """The transcript's words after the (fuzzily matched) wake phrase, as said; None when the
    phrase is not in it. ``"Hey, computer! What time is it?"`` with ``"hey computer"`` →
    ``"What time is it?"``."""
    want = " ".join(_words(phrase))
    if not want:
        return None
    spans = [(m.start(), m.end()) for m in re.finditer(r"[A-Za-z0-9']+", transcript)]
    n = len(want.split())
    best: tuple[float, int] | None = None
    for size in {max(1, n - 1), n, n + 1}:
        for i in range(len(spans) - size + 1):
            said = " ".join(w.lower() for w in (transcript[a:b] for a, b in spans[i:i + size]))
            ratio = difflib.SequenceMatcher(None, said, want).ratio()
            if ratio >= similarity and (best is None or ratio > best[0]):
                best = (ratio, spans[i + size - 1][1])
    if best is None:
        return None
    return transcript[best[1]:].lstrip(" ,.!?;:-—").strip()
