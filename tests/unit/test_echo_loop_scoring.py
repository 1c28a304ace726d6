"""Scoring of the echo benchmark (pure): which ``user`` events belong to the utterances played
into the microphone, which interruptions were barge-ins, and the per-condition table."""

from __future__ import annotations

from voicecli.bench.echo_loop import (
    IGNORED_NOTICE,
    PAUSED_NOTICE,
    Condition,
    Played,
    TimedEvent,
    results_table,
    score_window,
    summarize,
)

Q = Played("Tell me a story about a dragon.", "en-us", 10.0, 12.0)
B = Played("Wait, what is the capital of France?", "en-gb", 20.0, 22.5, barge_in=True)


def ev(t: float, **data: object) -> TimedEvent:
    return TimedEvent(t, dict(data))


def test_a_clean_reply_scores_nothing_but_the_question():
    out = score_window([ev(13.0, type="user", turn=1, text="Tell me a story about a dragon."),
                        ev(30.0, type="turn", turn=1)], [Q])
    assert out.question_heard and out.own_turns == [] and out.self_interruptions == 0


def test_own_speech_and_self_interruption_are_counted():
    events = [ev(13.0, type="user", turn=1, text="Tell me a story about a dragon."),
              ev(16.0, type="notice", message=PAUSED_NOTICE),
              ev(17.0, type="notice", message=IGNORED_NOTICE),
              ev(19.0, type="interrupted", turn=1, reason="speech"),
              ev(19.5, type="user", turn=2, text="the dragon lived")]
    out = score_window(events, [Q])
    assert out.self_interruptions == 1 and out.own_turns == ["the dragon lived"]
    assert (out.pauses, out.ignored) == (1, 1)


def test_a_question_talk_answered_as_one_turn_after_the_user_went_on_is_no_own_turn():
    events = [ev(12.5, type="user", turn=1, text="Tell me a story"),
              ev(13.0, type="discarded", turn=1, reason="the user went on: one turn with the next"),
              ev(13.0, type="interrupted", turn=1, reason="speech"),
              ev(14.0, type="user", turn=2, text="Tell me a story about a dragon.")]
    out = score_window(events, [Q])
    assert out.question_heard and out.own_turns == [] and out.self_interruptions == 0 and out.went_on == 1


def test_a_barge_in_is_detected_and_owns_its_transcript_however_garbled():
    events = [ev(13.0, type="user", turn=1, text="Tell me a story about a dragon."),
              ev(20.8, type="notice", message=PAUSED_NOTICE),
              ev(21.2, type="interrupted", turn=1, reason="speech"),
              ev(23.5, type="user", turn=2, text="what is the capital of friends")]
    out = score_window(events, [Q, B])
    assert out.barge_in is not None and out.barge_in.detected and out.cut_turn == 1
    assert out.barge_in.heard == "what is the capital of friends"
    assert out.barge_in.wer is not None and 0 < out.barge_in.wer < 0.5
    assert out.own_turns == [] and out.self_interruptions == 0


def test_an_undetected_barge_in_and_the_table():
    out = score_window([ev(13.0, type="user", turn=1, text="Tell me a story about a dragon.")], [Q, B])
    assert out.barge_in is not None and not out.barge_in.detected and out.barge_in.wer is None
    res = summarize(Condition(-6.0, 150), [out])
    assert (res.replies, res.barge_ins, res.detected, res.own_turns) == (1, 1, 0, 0)
    table = results_table([res])
    assert "| -6 dB / 150 ms | 1 | 0 | 0 | 0 | 0 | 0 | 0/1 | – | – |" in table
