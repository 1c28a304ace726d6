"""The barge-in state machine: with no echo, speech interrupts; with echo, the reply pauses and
the evidence (the voice going on without the loudspeaker, or the transcript check) decides."""

from __future__ import annotations

import pytest

from voicecli.pipeline.barge_in import Action, BargeIn, BargeInParams, Phase
from voicecli.pipeline.echo_path import EchoState

NO_ECHO = EchoState(heard=False, delay_ms=None, erle_db=None, far_active=False)
CANCELLED = EchoState(heard=True, delay_ms=200.0, erle_db=30.0, far_active=True)
STRONG = EchoState(heard=True, delay_ms=200.0, erle_db=5.0, far_active=True)


@pytest.mark.parametrize("echo,voiced_ms,expected", [
    (None, 100, Action.NONE),
    (None, 192, Action.INTERRUPT),
    (NO_ECHO, 192, Action.INTERRUPT),
    (CANCELLED, 192, Action.PAUSE),
    (STRONG, 192, Action.NONE),  # the bar is raised while the echo is strong
    (STRONG, 384, Action.PAUSE),
])
def test_first_decision(echo, voiced_ms, expected):
    assert BargeIn(BargeInParams()).step(voiced_ms, True, echo) is expected


def test_not_speaking_never_acts():
    assert BargeIn(BargeInParams()).step(1000, False, None) is Action.NONE


def test_a_paused_reply_waits_for_the_check_however_long_the_voice_goes_on():
    b = BargeIn(BargeInParams())
    assert b.step(192, True, CANCELLED) is Action.PAUSE
    for voiced in range(200, 5000, 32):
        assert b.step(voiced, True, CANCELLED) is Action.NONE
    assert b.holding


def test_an_utterance_that_ends_goes_to_the_check_and_its_verdict_decides():
    b = BargeIn(BargeInParams())
    b.step(192, True, CANCELLED)
    assert b.utterance_over(had_speech=True) is Action.NONE and b.phase is Phase.CHECKING
    assert b.holding
    assert b.checked(own_voice=True) is Action.RESUME and not b.holding
    b.step(192, True, CANCELLED)
    b.utterance_over(had_speech=True)
    assert b.checked(own_voice=False) is Action.INTERRUPT
    assert b.pauses == 2


def test_a_dropped_utterance_resumes_at_once():
    b = BargeIn(BargeInParams())
    b.step(192, True, CANCELLED)
    assert b.utterance_over(had_speech=False) is Action.RESUME


def test_utterance_over_and_verdicts_outside_a_pause_do_nothing():
    b = BargeIn(BargeInParams())
    assert b.utterance_over(had_speech=True) is Action.NONE
    assert b.checked(own_voice=True) is Action.NONE
