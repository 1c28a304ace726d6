"""The reply's phase machine: the transitions it has, and none other."""

from __future__ import annotations

import pytest

from voicecli.pipeline.events import ReplyStarted
from voicecli.pipeline.reply import PhaseError, Reply, ReplyPhase

P = ReplyPhase


def reply(phase: ReplyPhase) -> Reply:
    return Reply(1, "hi", 0.0, phase=phase)


@pytest.mark.parametrize("start,move,end", [
    (P.PREPARED, "open", P.ACTIVE),
    (P.PREPARED, "discard", P.DISCARDED),
    (P.ACTIVE, "hold", P.HELD),
    (P.ACTIVE, "interrupt", P.INTERRUPTED),
])
def test_allowed_transitions(start, move, end):
    r = reply(start)
    getattr(r, move)(*(["key"] if move == "interrupt" else []))
    assert r.phase is end


@pytest.mark.parametrize("start,move", [
    (P.ACTIVE, "open"), (P.ACTIVE, "discard"), (P.PREPARED, "hold"), (P.PREPARED, "interrupt"),
    (P.DISCARDED, "open"), (P.INTERRUPTED, "interrupt"), (P.HELD, "interrupt"), (P.INTERRUPTED, "hold"),
])
def test_other_transitions_are_bugs(start, move):
    r = reply(start)
    with pytest.raises(PhaseError):
        getattr(r, move)(*(["key"] if move == "interrupt" else []))


def test_a_prepared_reply_is_gated_and_its_held_events_come_out_when_it_opens():
    r = reply(P.PREPARED)
    assert not r.gate.is_set() and not r.visible and not r.becomes_turn
    r.held.append(ReplyStarted(1))
    assert r.open() == [ReplyStarted(1)]
    assert r.gate.is_set() and r.visible and r.becomes_turn and r.held == []


@pytest.mark.parametrize("phase,user,turn", [
    (P.ACTIVE, "hi", True), (P.INTERRUPTED, "hi", True), (P.ACTIVE, "", False),
    (P.HELD, "hi", False), (P.DISCARDED, "hi", False), (P.PREPARED, "hi", False),
])
def test_which_replies_become_turns(phase, user, turn):
    r = Reply(1, user, 0.0, phase=phase)
    assert r.becomes_turn is turn


def test_interrupt_and_discard_signal_the_worker_threads():
    a, b = reply(P.ACTIVE), reply(P.PREPARED)
    a.interrupt("speech")
    b.discard()
    assert a.cancel.is_set() and a.interrupted_by == "speech"
    assert b.cancel.is_set()
