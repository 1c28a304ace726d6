"""The wake word inside a conversation: feeds captured audio to the wake detector, ticks the
:class:`~voicecli.pipeline.wake_gate.WakeGate`, and decides each ended utterance's fate — a
follow-up (an ordinary turn), a waking utterance (transcribed, the wake word cut off, the rest
answered as the turn's words), or speech to ignore (dropped: never answered, never stored).
Runs on the conversation's event loop; only the STT of a waking utterance leaves it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voicecli.audio.format import AudioChunk
from voicecli.audio.playback import Player
from voicecli.pipeline.events import Event, NoticeRaised, WakeChanged
from voicecli.pipeline.responding import SttFuture
from voicecli.pipeline.wake_gate import Admission, WakeGate, WakeOptions, after_phrase
from voicecli.stt.types import Transcription
from voicecli.vad.wake import WakeDetector

LATE_WAKE_S = 0.6
"""A wake word detected this soon after an ignored utterance ended belongs to it (the model
scores 80 ms chunks and fires a little after the word; a short "hey jarvis" may end first)."""
CUE_REPLY_ID = 0
"""The player's id for the chime (replies are numbered from 1)."""
IGNORED = "asleep: speech without the wake word ignored"


@dataclass(frozen=True)
class WakeHooks:
    """What waking needs from its conversation."""

    transcribe: Callable[[np.ndarray], SttFuture]
    call: Callable[[Callable[[], None]], None]
    """Run a function on the conversation's event loop (thread-safe)."""
    start_turn: Callable[[str, float, float], object]
    """Answer these words as a turn: (text, end of speech (monotonic), started at (unix))."""
    emit: Callable[[Event], None]


@dataclass(frozen=True)
class _Utterance:
    audio: np.ndarray
    last_voiced_at: float
    started_wall: float
    ended_at: float


class Waking:
    """``options`` None: no wake word (always awake; every method lets everything through)."""

    def __init__(self, options: WakeOptions | None, detector: WakeDetector | None, hooks: WakeHooks,
                 player: Player | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = options is not None
        self.o = options or WakeOptions(phrase="")
        self.detector = detector
        self.gate = WakeGate(self.o.follow_up_s, phrase_mode=detector is None)
        self.hooks = hooks
        self.player = player
        self.clock = clock
        self.pending = 0
        """Waking utterances being transcribed."""
        self._ignored: _Utterance | None = None
        """The last ignored utterance, kept for LATE_WAKE_S in case the wake word fires late."""
        self._announced = False

    def frame(self, samples16k: np.ndarray | None, busy: bool) -> None:
        """Every captured frame (None while muted); ``busy``: a reply is running or the user is speaking."""
        if not self.enabled:
            return
        now = self.clock()
        if not self._announced:
            self._announced = True
            self.hooks.emit(WakeChanged(False, "start"))
        if self.detector is not None and samples16k is not None:
            score = self.detector.score(samples16k)
            if score >= self.o.threshold:
                self.detector.reset()
                self._woke(now, "wake word", score)
                late, self._ignored = self._ignored, None
                if late is not None and now - late.ended_at <= LATE_WAKE_S and not self.gate.follow_up:
                    self._check(late, None, strip_only=True)
        if self._ignored is not None and now - self._ignored.ended_at > LATE_WAKE_S:
            self._ignored = None
        if self.gate.tick(now, busy or self.pending > 0):
            self.hooks.emit(WakeChanged(False, "quiet"))

    def speech_started(self) -> None:
        if self.enabled:
            self.gate.speech_started()
            self._ignored = None  # a wake word heard from now on belongs to this utterance

    @property
    def may_listen(self) -> bool:
        """May the current utterance be transcribed before it ends? Not while asleep in wake-word
        mode unless the wake word was heard (speech to ignore is never transcribed)."""
        return not self.enabled or self.detector is None or self.gate.follow_up or self.gate.awake

    @property
    def follow_up(self) -> bool:
        """The current utterance started awake: it may be answered speculatively, as usual."""
        return not self.enabled or self.gate.follow_up

    def utterance_ended(self, audio: np.ndarray, last_voiced_at: float, started_wall: float,
                        speculative: SttFuture | None) -> bool:
        """True when the utterance is dealt with here (ignored, or a waking one being checked);
        False: an ordinary turn for the conversation."""
        if not self.enabled:
            return False
        verdict = self.gate.utterance_ended()
        if verdict is Admission.FOLLOW_UP:
            return False
        u = _Utterance(audio, last_voiced_at, started_wall, self.clock())
        if verdict is Admission.DROP:
            self._ignored = u
            self.hooks.emit(NoticeRaised(IGNORED))
            return True
        self._check(u, speculative, strip_only=verdict is Admission.WOKE)
        return True

    def reply_ended(self) -> None:
        if self.enabled:
            self.gate.tick(self.clock(), busy=True)  # the quiet time starts now

    def _check(self, u: _Utterance, speculative: SttFuture | None, strip_only: bool) -> None:
        """Transcribe a waking utterance; answer what follows the wake phrase (``strip_only``:
        the wake word was heard, so answer the whole transcript if the phrase is not found in it)."""
        self.pending += 1
        fut = speculative or self.hooks.transcribe(u.audio)

        def done(f: SttFuture) -> None:
            self.hooks.call(lambda: self._checked(u, f, strip_only))
        fut.add_done_callback(done)

    def _checked(self, u: _Utterance, fut: SttFuture, strip_only: bool) -> None:
        self.pending -= 1
        try:
            transcription: Transcription = fut.result()[0]
        except Exception as exc:  # noqa: BLE001 - a failed check is speech not taken, never a crash
            self.hooks.emit(NoticeRaised(f"{IGNORED} (it could not be transcribed: {exc})"))
            return
        text = transcription.text.strip()
        rest = after_phrase(text, self.o.phrase)
        if rest is None:
            # Checks end in order: awake now means an earlier utterance woke it ("hey computer" …
            # "what time is it?" as two utterances), so this one follows the wake phrase.
            if not (strip_only or self.gate.awake):
                self.hooks.emit(NoticeRaised(IGNORED))
                return
            rest = text
        self._woke(self.clock(), "wake phrase" if self.detector is None else "wake word", None, heard_now=False)
        if rest:
            self.hooks.start_turn(rest, u.last_voiced_at, u.started_wall)

    def _woke(self, now: float, reason: str, score: float | None, heard_now: bool = True) -> None:
        if self.gate.wake(now, heard_now):
            self.hooks.emit(WakeChanged(True, reason, score))
            if self.o.cue == "chime" and self.player is not None:
                self.player.enqueue(CUE_REPLY_ID, 0, chime())


def chime(rate_hz: int = 16000, duration_s: float = 0.18) -> AudioChunk:
    """A short, soft two-note chime (E6 then A6) with a fade in and out."""
    t = np.arange(int(rate_hz * duration_s)) / rate_hz
    half = len(t) // 2
    freq = np.where(np.arange(len(t)) < half, 1318.5, 1760.0)
    tone = 0.2 * np.sin(2 * np.pi * freq * t)
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)
    return AudioChunk((tone * fade).astype(np.float32), rate_hz)
