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
    assert BargeIn(BargeInParams()).step(10, voiced_ms, True, echo) is expected


def test_not_speaking_never_acts():
    assert BargeIn(BargeInParams()).step(10, 1000, False, None) is Action.NONE


def test_voice_going_on_after_the_pause_reached_the_microphone_is_the_user():
    b = BargeIn(BargeInParams())
    assert b.step(100, 192, True, CANCELLED) is Action.PAUSE
    quiet_from = 100 + 11  # (200 ms delay + 150 ms guard) / 32 ms, rounded up
    for f in range(101, quiet_from):
        assert b.step(f, 400, True, CANCELLED) is Action.NONE  # still the echo's time
    assert b.step(quiet_from, 400, True, CANCELLED) is Action.NONE  # counting starts here
    assert b.step(quiet_from + 3, 500, True, CANCELLED) is Action.NONE
    assert b.step(quiet_from + 6, 600, True, CANCELLED) is Action.INTERRUPT
    assert b.phase is Phase.PLAYING


def test_an_utterance_that_ends_goes_to_the_check_and_its_verdict_decides():
    b = BargeIn(BargeInParams())
    b.step(1, 192, True, CANCELLED)
    assert b.utterance_over(had_speech=True) is Action.NONE and b.phase is Phase.CHECKING
    assert b.holding
    assert b.checked(own_voice=True) is Action.RESUME and not b.holding
    b.step(50, 192, True, CANCELLED)
    b.utterance_over(had_speech=True)
    assert b.checked(own_voice=False) is Action.INTERRUPT
    assert b.pauses == 2


def test_a_dropped_utterance_resumes_at_once():
    b = BargeIn(BargeInParams())
    b.step(1, 192, True, CANCELLED)
    assert b.utterance_over(had_speech=False) is Action.RESUME


def test_utterance_over_and_verdicts_outside_a_pause_do_nothing():
    b = BargeIn(BargeInParams())
    assert b.utterance_over(had_speech=True) is Action.NONE
    assert b.checked(own_voice=True) is Action.NONE


def test_a_loop_behind_real_time_waits_longer_for_the_pause_to_reach_the_microphone():
    b = BargeIn(BargeInParams())
    assert b.step(100, 192, True, CANCELLED, behind_ms=320) is Action.PAUSE
    quiet_from = 100 + 21  # (320 ms backlog + 200 ms delay + 150 ms guard) / 32 ms, rounded up
    assert b.step(quiet_from - 1, 400, True, CANCELLED) is Action.NONE
    assert b.step(quiet_from + 5, 900, True, CANCELLED) is Action.NONE  # counting starts at quiet_from
    assert b.step(quiet_from + 6, 1100, True, CANCELLED) is Action.INTERRUPT
