import pytest

from voicecli.vad.endpointer import (
    Endpointer,
    EndpointerParams,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    UtteranceDiscarded,
    UtteranceEnded,
)

P = EndpointerParams(threshold=0.5, release=0.15, start_ms=96, min_speech_ms=250, preroll_ms=320,
                     end_silence_ms=400, frame_ms=32.0)


def run(probs, params=P):
    ep = Endpointer(params)
    out = []
    for i, p in enumerate(probs):
        for ev in ep.step(p):
            out.append((i, ev))
    return out


def kinds(events):
    return [type(e).__name__ for _, e in events]


@pytest.mark.parametrize("probs,expected", [
    ([0.0] * 50, []),
    # a click: two loud frames never start a turn
    ([0.0] * 5 + [0.9, 0.9] + [0.0] * 30, []),
    # a cough: starts (3 frames) but too short (<250 ms voiced) → discarded
    ([0.0] * 5 + [0.9] * 5 + [0.0] * 20, ["SpeechStarted", "SpeechPaused", "UtteranceDiscarded"]),
    # a real utterance: 1 s of speech then silence
    ([0.0] * 5 + [0.9] * 31 + [0.0] * 20, ["SpeechStarted", "SpeechPaused", "UtteranceEnded"]),
    # a short pause inside the utterance resumes it
    ([0.0] * 5 + [0.9] * 15 + [0.0] * 5 + [0.9] * 15 + [0.0] * 20,
     ["SpeechStarted", "SpeechPaused", "SpeechResumed", "SpeechPaused", "UtteranceEnded"]),
    # hysteresis: 0.4 (between release and threshold) neither starts silence nor counts as speech
    ([0.0] * 5 + [0.9] * 10 + [0.4] * 5 + [0.9] * 10 + [0.0] * 20, ["SpeechStarted", "SpeechPaused", "UtteranceEnded"]),
])
def test_event_sequences(probs, expected):
    assert kinds(run(probs)) == expected


def test_utterance_bounds_include_preroll_and_last_voiced_frame():
    events = dict((type(e).__name__, (i, e)) for i, e in run([0.0] * 20 + [0.9] * 31 + [0.0] * 20))
    i_start, started = events["SpeechStarted"]
    assert started.onset_frame == 20
    assert started.frame == 20 - 10  # 320 ms of pre-roll = 10 frames
    assert i_start == 22  # three speech frames needed (96 ms)
    i_end, ended = events["UtteranceEnded"]
    assert ended.last_voiced_frame == 50
    assert ended.end_frame == 50 + 13  # 400 ms / 32 ms → 13 silent frames
    assert i_end == ended.end_frame
    assert events["SpeechPaused"][1].last_voiced_frame == 50


@pytest.mark.parametrize("end_ms,frames", [(96, 3), (400, 13), (500, 16), (1000, 32)])
def test_end_silence_is_configurable(end_ms, frames):
    params = EndpointerParams(end_silence_ms=end_ms)
    evs = run([0.9] * 20 + [0.0] * 40, params)
    ended = [e for _, e in evs if isinstance(e, UtteranceEnded)][0]
    assert ended.end_frame - ended.last_voiced_frame == frames


def test_voiced_ms_grows_while_speaking_and_resets():
    ep = Endpointer(P)
    for _ in range(10):
        ep.step(0.9)
    assert ep.voiced_ms == pytest.approx(320)
    for _ in range(20):
        ep.step(0.0)
    assert ep.voiced_ms == 0


def test_events_are_dataclasses_with_frames():
    evs = run([0.9] * 20 + [0.0] * 20)
    assert isinstance(evs[0][1], SpeechStarted)
    assert isinstance(evs[1][1], SpeechPaused)
    assert not any(isinstance(e, (SpeechResumed, UtteranceDiscarded)) for _, e in evs)


# --- pause checkpoints and an early end (a semantic turn detector's verdict) ---------------
from voicecli.vad.endpointer import PauseCheckpointReached  # noqa: E402

CHECKED = EndpointerParams(end_silence_ms=1500, check_silence_ms=(200, 600))


def test_checkpoints_are_reported_once_per_pause_at_each_configured_silence():
    evs = run([0.9] * 20 + [0.0] * 30 + [0.9] * 20 + [0.0] * 60, CHECKED)
    checks = [(i, e) for i, e in evs if isinstance(e, PauseCheckpointReached)]
    # 200 ms → 7 silent frames, 600 ms → 19; two pauses, the second one ends the turn at 1500 ms
    assert [(i, e.last_voiced_frame, e.frame) for i, e in checks] == [
        (26, 19, 26), (38, 19, 38), (76, 69, 76), (88, 69, 88)]
    assert kinds(evs) == ["SpeechStarted", "SpeechPaused", "PauseCheckpointReached", "PauseCheckpointReached",
                          "SpeechResumed", "SpeechPaused", "PauseCheckpointReached", "PauseCheckpointReached",
                          "UtteranceEnded"]
    ended = evs[-1][1]
    assert ended.end_frame - ended.last_voiced_frame == 47  # 1500 ms / 32 ms


def test_no_checkpoints_without_check_silences():
    assert "PauseCheckpointReached" not in kinds(run([0.9] * 20 + [0.0] * 60))


def test_end_turn_ends_the_pause_it_was_asked_about_now():
    ep = Endpointer(CHECKED)
    for _ in range(20):
        ep.step(0.9)
    for _ in range(7):
        ep.step(0.0)
    (ended,) = ep.end_turn(19)
    assert isinstance(ended, UtteranceEnded)
    assert (ended.last_voiced_frame, ended.end_frame) == (19, 26)
    assert ep.state.value == "quiet"
    assert ep.end_turn(19) == []  # already over


def test_end_turn_is_ignored_when_the_user_spoke_again_since():
    # regression guard: a verdict that arrives after the user resumed must not cut the turn
    ep = Endpointer(CHECKED)
    for p in [0.9] * 20 + [0.0] * 7 + [0.9] * 3:
        ep.step(p)
    assert ep.end_turn(19) == []
    for _ in range(2):
        ep.step(0.0)
    assert ep.end_turn(19) == []  # a new pause (after frame 29), not the one judged
    assert ep.state.value == "stopping"


def test_end_turn_of_a_cough_discards_it():
    ep = Endpointer(CHECKED)
    for p in [0.9] * 5 + [0.0] * 7:
        ep.step(p)
    (ev,) = ep.end_turn(4)
    assert isinstance(ev, UtteranceDiscarded)


def test_finish_ends_an_utterance_the_input_ended_in():
    # 20 voiced frames, then 5 of a pause (160 ms, far from the 400 ms end), then the input ends
    ep = Endpointer(P)
    for p in [0.9] * 20 + [0.0] * 5:
        ep.step(p)
    events = ep.finish()
    assert [type(e).__name__ for e in events] == ["UtteranceEnded"]
    assert events[0].last_voiced_frame == 19
    assert ep.finish() == []  # nothing open any more


def test_finish_mid_speech_and_when_quiet():
    ep = Endpointer(P)
    for p in [0.9] * 20:
        ep.step(p)
    assert [type(e).__name__ for e in ep.finish()] == ["UtteranceEnded"]
    quiet = Endpointer(P)
    for p in [0.0] * 10 + [0.9] * 2:  # a click too short to start an utterance
        quiet.step(p)
    assert quiet.finish() == []
