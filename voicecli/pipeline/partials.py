"""Live partial transcripts while the user speaks: the growing utterance is re-transcribed every
``interval_s`` (greedy, short window) and the words two consecutive passes agree on become the
stable prefix (the LocalAgreement-2 policy of whisper_streaming, Macháček et al. 2023), published
as :class:`~voicecli.pipeline.events.UserPartialTranscript`.

A partial pass never delays the transcript that matters: it starts only while the user is
speaking (not in a pause, not once the utterance has ended), only when the STT worker has
nothing else in flight (a speculative or final transcript, or the previous pass), and never
queues behind another pass. The agreement policy is pure functions (:func:`agreed_words`,
:func:`remainder`) and :class:`Agreement`; :class:`PartialTranscripts` schedules the passes."""

from __future__ import annotations

import concurrent.futures
import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from voicecli.audio.format import FRAME_MS, PIPELINE_RATE_HZ
from voicecli.pipeline.events import UserPartialTranscript
from voicecli.stt.types import TranscribeOptions
from voicecli.vad.endpointer import (
    EndpointEvent,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    UtteranceDiscarded,
    UtteranceEnded,
)

if TYPE_CHECKING:
    from voicecli.pipeline.conversation_options import ConversationOptions
    from voicecli.pipeline.listening import Listener
    from voicecli.pipeline.responding import Responder

_PUNCT = re.compile(r"[^\w']+")


def normal(word: str) -> str:
    """A word as passes are compared: lower case, without punctuation ("Hello," = "hello")."""
    return _PUNCT.sub("", word.lower())


def agreed_words(previous: Sequence[str], current: Sequence[str]) -> int:
    """How many leading words two hypotheses agree on (compared by :func:`normal`)."""
    n = 0
    for a, b in zip(previous, current, strict=False):
        if normal(a) != normal(b):
            break
        n += 1
    return n


@dataclass
class Agreement:
    """LocalAgreement-2 over whole-utterance hypotheses: a word is stable once two consecutive
    passes agree on it and on every word before it; stable words are never taken back."""

    stable: list[str] = field(default_factory=list)
    last: list[str] = field(default_factory=list)

    def update(self, text: str) -> tuple[str, str]:
        """One more hypothesis of the whole utterance → (stable text, unstable rest). The words
        after the stable ones are found in each hypothesis by alignment, so a changed word inside
        the stable prefix (Whisper adding a first "And") does not stop the agreement after it."""
        current = text.split()
        at = aligned_end(self.stable, current)
        before = aligned_end(self.stable, self.last)
        n = agreed_words(self.last[before:], current[at:])
        self.stable = self.stable + current[at:at + n]
        self.last = current
        return " ".join(self.stable), " ".join(current[at + n:])


def aligned_end(done: Sequence[str], words: Sequence[str]) -> int:
    """The index in ``words`` just after the part that ``done`` (earlier words) corresponds to,
    by word alignment (:func:`normal`); a trailing ``done`` word with no match counts as replaced."""
    if not done:
        return 0
    matcher = difflib.SequenceMatcher(None, [normal(w) for w in done], [normal(w) for w in words], autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return min(len(done), len(words))
    last = blocks[-1]
    return min(len(words), last.b + last.size + (len(done) - (last.a + last.size)))


def remainder(sent: str, final: str) -> str:
    """What to add to the already published ``sent`` text so that it reads as ``final``, as
    closely as words allow: ``final`` after the point aligned with the end of ``sent`` (words
    compared by :func:`normal`). Published words are never taken back; a word the final
    transcript changed stays as published."""
    done, words = sent.split(), final.split()
    if not done:
        return final.strip()
    rest = words[aligned_end(done, words):]
    return (" " + " ".join(rest)) if rest else ""


def newly_stable(sent: str, stable: str) -> str:
    """The delta to publish: the stable words beyond the ``sent`` ones (with a leading space
    after earlier words, so that deltas concatenate)."""
    done, words = sent.split(), stable.split()
    new = words[len(done):]
    if not new:
        return ""
    return (" " if done else "") + " ".join(new)


@dataclass(frozen=True)
class PartialParams:
    interval_s: float = 0.7
    """Time between the starts of two passes (at least)."""
    min_audio_s: float = 0.8
    """No pass on less of the utterance than this."""
    max_audio_s: float = 9.5
    """No pass on more (beyond the short window a pass costs a full 30 s encoder run)."""


def partial_options(stt: TranscribeOptions, audio_s: float) -> TranscribeOptions:
    """A pass's options: the conversation's, greedy, no retry of an unreliable result (the
    agreement drops a wrong word anyway), no prompt (a prompt leaves the short window), and a
    window that fits the audio with 1–2 s to spare instead of the whole short window: on the
    eval clips a 3–9 s window transcribes the utterance so far as the 10 s one does, in 0.5–0.75
    of the time, and a shorter pass is less often in the way when the user stops."""
    window = stt.short_window_s
    if window is not None:
        window = min(window, math.ceil(audio_s) + 2.0)
    return replace(stt, beam_size=1, retry_unreliable=False, without_timestamps=True, initial_prompt=None,
                   short_window_s=window)


def params_for(stt: TranscribeOptions, interval_s: float = 0.7) -> PartialParams:
    """Passes fit the short window when there is one (``stt.short_window_s``)."""
    window = stt.short_window_s
    return PartialParams(interval_s=interval_s, max_audio_s=window - 0.5 if window else 30.0)


@dataclass(frozen=True)
class PartialHooks:
    """What the scheduler needs from its conversation."""

    transcribe: Callable[[np.ndarray], concurrent.futures.Future[Any]]
    """Start a pass on the STT worker (the result's ``[0].text`` is read)."""
    stt_idle: Callable[[], bool]
    """Nothing in flight on the STT worker (the previous pass included)."""
    audio: Callable[[], np.ndarray]
    """The utterance so far."""
    emit: Callable[[UserPartialTranscript], None]


class PartialTranscripts:
    """Per-frame scheduler of partial passes for one conversation (event-loop thread only)."""

    def __init__(self, hooks: PartialHooks, params: PartialParams = PartialParams()) -> None:
        self.h = hooks
        self.p = params
        self._started_ms: float | None = None
        """The current utterance (UserSpeechStarted's ``audio_ms``); None: no utterance."""
        self._speaking = False
        self._agreement = Agreement()
        self._pending: concurrent.futures.Future[Any] | None = None
        self._last_pass_ms = 0.0
        self._frames = 0
        self.passes = 0
        self.skipped = 0

    def frame(self, events: list[EndpointEvent], allowed: bool) -> None:
        """After each captured frame: follow the utterance, take a finished pass's result,
        start the next pass when it is due and allowed (``allowed``: no reply running, awake)."""
        self._frames += 1
        for ev in events:
            if isinstance(ev, SpeechStarted):
                self._reset()
                self._started_ms, self._speaking = ev.frame * FRAME_MS, True
                self._last_pass_ms = self._frames * FRAME_MS
            elif isinstance(ev, SpeechPaused):
                self._speaking = False
            elif isinstance(ev, SpeechResumed):
                self._speaking = self._started_ms is not None
            elif isinstance(ev, UtteranceEnded | UtteranceDiscarded):
                self._reset()
        self._collect()
        if not (allowed and self._speaking) or self._pending is not None:
            return
        now_ms = self._frames * FRAME_MS
        if now_ms - self._last_pass_ms < self.p.interval_s * 1000:
            return
        if not self.h.stt_idle():
            self.skipped += 1
            return
        audio = self.h.audio()
        if not self.p.min_audio_s <= len(audio) / PIPELINE_RATE_HZ <= self.p.max_audio_s:
            return
        self._last_pass_ms = now_ms
        self.passes += 1
        self._pending = self.h.transcribe(audio)

    def _collect(self) -> None:
        fut = self._pending
        if fut is None or not fut.done() or self._started_ms is None:
            return
        self._pending = None
        if fut.cancelled() or fut.exception() is not None:
            return  # a failed preview is only a missing preview; the final transcript reports errors
        stable, unstable = self._agreement.update(fut.result()[0].text)
        if stable or unstable:
            self.h.emit(UserPartialTranscript(self._started_ms, stable, unstable))

    def _reset(self) -> None:
        self._started_ms, self._speaking = None, False
        self._agreement = Agreement()
        self._pending = None  # a pass still running is left to finish; its result is dropped


def conversation_partials(responder: Responder, ears: Listener, options: Callable[[], ConversationOptions],
                          emit: Callable[[UserPartialTranscript], None]) -> PartialTranscripts:
    """The scheduler of a conversation: passes on its STT worker, with its current STT options."""
    def transcribe(audio: np.ndarray) -> concurrent.futures.Future[Any]:
        return responder.transcribe(audio, partial_options(options().stt, len(audio) / PIPELINE_RATE_HZ))

    hooks = PartialHooks(transcribe, responder.stt_idle, ears.so_far, emit)
    return PartialTranscripts(hooks, params_for(options().stt))
