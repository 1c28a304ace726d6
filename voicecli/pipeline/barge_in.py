"""Barge-in while the assistant talks: is that voice on the microphone the user, or the
assistant's own voice leaking past the echo canceller? A pure state machine, one per reply.

With no loudspeaker echo (headphones, or no echo path at all), speech for ``barge_in_ms``
interrupts at once. With echo, a hard cut on a guess is the worst mistake (the assistant cuts
itself off and answers its own words), so the reply is *paused* instead, and the evidence
decides:

- the voice goes on after the pause has reached the microphone (the echo delay plus a guard):
  that is the user → interrupt;
- the utterance ends or is dropped first: the conversation checks its transcript against what
  was just played (:mod:`voicecli.pipeline.echo_check`) → resume (own voice) or interrupt (user);
- while the measured echo is strong (heard, canceller not converged), the bar is raised.

    PLAYING ──speech ≥ bar, echo──▶ PAUSED ──voice goes on──▶ (interrupt)
       ▲                              │ └──utterance over──▶ CHECKING ──user──▶ (interrupt)
       └──────────resume──────────────┴─────────own voice────────┘
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from voicecli.pipeline.echo_path import EchoState


class Action(str, Enum):
    NONE = "none"
    INTERRUPT = "interrupt"
    """Cut the reply: the user is talking."""
    PAUSE = "pause"
    """Hold the reply's playback until the evidence is in."""
    RESUME = "resume"
    """It was not the user: play on."""


class Phase(str, Enum):
    PLAYING = "playing"
    PAUSED = "paused"
    """Playback held; listening whether the voice goes on without the loudspeaker."""
    CHECKING = "checking"
    """Playback held; the utterance is over and its transcript is being checked."""


@dataclass(frozen=True)
class BargeInParams:
    barge_in_ms: float = 192.0
    """Voiced time during playback that is a barge-in (or, with echo, a reason to pause)."""
    strong_echo_factor: float = 2.0
    """The bar is this many times higher while the echo is strong (not yet cancelled)."""
    confirm_ms: float = 192.0
    """Voiced time, after the pause has reached the microphone, that proves it is the user."""
    guard_ms: float = 150.0
    """Added to the echo delay before the microphone counts as free of the paused voice."""
    default_delay_ms: float = 300.0
    """Echo delay assumed before one is measured."""
    frame_ms: float = 32.0


class BargeIn:
    def __init__(self, params: BargeInParams) -> None:
        self.p = params
        self.phase = Phase.PLAYING
        self.pauses = 0
        """Pauses so far (each is a hiccup the user hears)."""
        self._quiet_from_frame = 0
        self._voiced_at_quiet: float | None = None

    def bar_ms(self, echo: EchoState | None) -> float:
        strong = echo is not None and echo.strong
        return self.p.barge_in_ms * (self.p.strong_echo_factor if strong else 1.0)

    def step(self, frame: int, voiced_ms: float, speaking: bool, echo: EchoState | None,
             behind_ms: float = 0.0) -> Action:
        """One microphone frame during an active reply. ``voiced_ms``: voiced time of the
        utterance in progress (0 when none); ``speaking``: the endpointer is in one;
        ``behind_ms``: how long ago the frame was captured (a busy loop works through a backlog,
        and a pause acts on the speaker now, not at the frame's time)."""
        if self.phase is Phase.PLAYING:
            if not speaking or voiced_ms < self.bar_ms(echo):
                return Action.NONE
            if echo is None or not echo.heard:
                return Action.INTERRUPT
            self.phase = Phase.PAUSED
            self.pauses += 1
            delay = echo.delay_ms if echo.delay_ms is not None else self.p.default_delay_ms
            self._quiet_from_frame = frame + math.ceil((behind_ms + delay + self.p.guard_ms) / self.p.frame_ms)
            self._voiced_at_quiet = None
            return Action.PAUSE
        if self.phase is Phase.PAUSED and speaking and frame >= self._quiet_from_frame:
            if self._voiced_at_quiet is None:
                self._voiced_at_quiet = voiced_ms
            elif voiced_ms - self._voiced_at_quiet >= self.p.confirm_ms:
                self.phase = Phase.PLAYING
                return Action.INTERRUPT
        return Action.NONE

    def utterance_over(self, had_speech: bool) -> Action:
        """The endpointer ended (``had_speech``) or dropped the utterance. While paused, an
        ended one goes to the transcript check; a dropped one was no user turn: resume."""
        if self.phase is not Phase.PAUSED:
            return Action.NONE
        if had_speech:
            self.phase = Phase.CHECKING
            return Action.NONE
        self.phase = Phase.PLAYING
        return Action.RESUME

    def checked(self, own_voice: bool) -> Action:
        """The transcript check's verdict for the utterance that paused the reply."""
        if self.phase is not Phase.CHECKING:
            return Action.NONE
        self.phase = Phase.PLAYING
        return Action.RESUME if own_voice else Action.INTERRUPT

    def reset(self) -> None:
        """The reply ended or was cut: back to normal playback."""
        self.phase = Phase.PLAYING

    @property
    def holding(self) -> bool:
        """Is the reply's playback held (paused or being checked)?"""
        return self.phase is not Phase.PLAYING
