"""Barge-in while the assistant talks: is that voice on the microphone the user, or the
assistant's own voice leaking past the echo canceller? A pure state machine, one per reply.

With no loudspeaker echo (headphones, or no echo path at all), speech for ``barge_in_ms``
interrupts at once. With echo, a hard cut on a guess is the worst mistake (the assistant cuts
itself off and answers its own words), so the reply is *paused* instead — the user hears it
stop at once — and when the utterance is over, the conversation checks its transcript against
what was just played and how much of it the loudspeaker explains
(:mod:`voicecli.pipeline.echo_check`): the user's → interrupt (and answer it), the assistant's
own voice → resume. An utterance the endpointer drops (too short) resumes at once. While the
measured echo is strong (heard, canceller not converged), the bar is raised.

(Cutting as soon as the voice went on after the pause reached the microphone was tried: on a
busy machine the output device's timing slips enough that the echo itself went on, and the
assistant cut itself off.)

    PLAYING ──speech ≥ bar, echo──▶ PAUSED ──utterance ended──▶ CHECKING ──user──▶ (interrupt)
       ▲                              │ dropped                    │ own voice
       └──────────resume──────────────┴────────────────────────────┘
"""

from __future__ import annotations

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
    """Playback held until the utterance is over."""
    CHECKING = "checking"
    """Playback held; the utterance is over and its transcript is being checked."""


@dataclass(frozen=True)
class BargeInParams:
    barge_in_ms: float = 192.0
    """Voiced time during playback that is a barge-in (or, with echo, a reason to pause)."""
    strong_echo_factor: float = 2.0
    """The bar is this many times higher while the echo is strong (not yet cancelled)."""


class BargeIn:
    def __init__(self, params: BargeInParams) -> None:
        self.p = params
        self.phase = Phase.PLAYING
        self.pauses = 0
        """Pauses so far (each is a hiccup the user hears)."""

    def bar_ms(self, echo: EchoState | None) -> float:
        strong = echo is not None and echo.strong
        return self.p.barge_in_ms * (self.p.strong_echo_factor if strong else 1.0)

    def step(self, voiced_ms: float, speaking: bool, echo: EchoState | None) -> Action:
        """One microphone frame during an active reply. ``voiced_ms``: voiced time of the
        utterance in progress (0 when none); ``speaking``: the endpointer is in one."""
        if self.phase is not Phase.PLAYING or not speaking or voiced_ms < self.bar_ms(echo):
            return Action.NONE
        if echo is None or not echo.heard:
            return Action.INTERRUPT
        self.phase = Phase.PAUSED
        self.pauses += 1
        return Action.PAUSE

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
