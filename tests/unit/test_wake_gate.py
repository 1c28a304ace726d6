"""The wake-word policy: the asleep/awake state machine (fake clock), the fuzzy wake-phrase
match, and :class:`Waking`'s decisions with a scripted detector and real futures."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest

from voicecli.pipeline.events import NoticeRaised, WakeChanged, event_to_json
from voicecli.pipeline.wake_gate import Admission, WakeGate, WakeOptions, WakeState, after_phrase
from voicecli.pipeline.waking import IGNORED, LATE_WAKE_S, WakeHooks, Waking, chime
from voicecli.stt.types import Transcription
from voicecli.vad.wake import spoken_phrase


# --- the state machine ------------------------------------------------------------------
def test_starts_asleep_and_ignores_speech_in_model_mode():
    g = WakeGate(8.0, phrase_mode=False)
    g.speech_started()
    assert g.state is WakeState.ASLEEP and not g.follow_up
    assert g.utterance_ended() is Admission.DROP


def test_phrase_mode_checks_speech_that_started_asleep():
    g = WakeGate(8.0, phrase_mode=True)
    g.speech_started()
    assert g.utterance_ended() is Admission.CHECK


def test_wake_word_during_an_utterance_wakes_it_and_follow_ups_need_none():
    g = WakeGate(8.0, phrase_mode=False)
    g.speech_started()
    assert g.wake(1.0) is True and g.awake
    assert g.utterance_ended() is Admission.WOKE
    g.speech_started()  # the next utterance starts awake
    assert g.follow_up and g.utterance_ended() is Admission.FOLLOW_UP
    assert g.wake(2.0) is False  # already awake: no second "woke"


def test_a_wake_word_heard_just_before_the_speech_start_counts_for_that_utterance():
    g = WakeGate(8.0, phrase_mode=False)
    g.wake(1.0)  # the detector fired before the endpointer's start_ms of speech
    g.speech_started()
    assert not g.follow_up and g.utterance_ended() is Admission.WOKE
    g.speech_started()  # the next one is a follow-up
    assert g.follow_up and g.utterance_ended() is Admission.FOLLOW_UP


@pytest.mark.parametrize("busy_until,sleep_at", [(None, 8.0), (5.0, 13.0), (20.0, 28.0)])
def test_sleeps_after_follow_up_s_of_quiet_measured_from_the_last_busy_moment(busy_until, sleep_at):
    g = WakeGate(8.0, phrase_mode=False)
    g.wake(0.0)
    t, slept_at = 0.0, None
    while t < 40 and slept_at is None:
        busy = busy_until is not None and t <= busy_until
        if g.tick(t, busy):
            slept_at = t
        t = round(t + 0.5, 1)
    assert slept_at == sleep_at
    assert g.state is WakeState.ASLEEP
    assert g.tick(100.0, False) is False  # asleep stays asleep, reported once


def test_an_utterance_that_started_asleep_is_not_a_follow_up_even_if_awake_later_by_phrase():
    g = WakeGate(8.0, phrase_mode=True)
    g.speech_started()
    assert not g.follow_up
    assert g.utterance_ended() is Admission.CHECK


# --- the phrase ------------------------------------------------------------------------
@pytest.mark.parametrize("transcript,phrase,rest", [
    ("Hey computer, what time is it?", "hey computer", "what time is it?"),
    ("Hey, Computer! What time is it?", "hey computer", "What time is it?"),
    ("Okay so hey computer turn on the light", "hey computer", "turn on the light"),
    ("Hey Jarvis.", "hey jarvis", ""),
    ("Hey Jarvis, what is the capital of France?", "hey jarvis", "what is the capital of France?"),
    ("Hey Javis, what is the capital of France?", "hey jarvis", "what is the capital of France?"),  # STT slip
    ("Hey, Jervis. What is it?", "hey jarvis", "What is it?"),
    ("What is the capital of France?", "hey computer", None),
    ("Hey, how are you?", "hey computer", None),
    ("Go forward ten meters.", "hey jarvis", None),
    ("", "hey computer", None),
    ("anything", "", None),
])
def test_after_phrase(transcript, phrase, rest):
    assert after_phrase(transcript, phrase) == rest


@pytest.mark.parametrize("model,phrase", [("hey_jarvis", "hey jarvis"), ("alexa", "alexa"),
                                          ("/m/hey_computer_v0.1.onnx", "hey computer"), ("/m/ok-nabu.onnx", "ok nabu")])
def test_spoken_phrase_of_a_model(model, phrase):
    assert spoken_phrase(model) == phrase


# --- Waking: decisions over a scripted detector ----------------------------------------
class ScriptedDetector:
    """Scores from a list, one per frame (a fake for the surroundings: the policy is under test)."""

    name = "hey_jarvis"
    phrase = "hey jarvis"

    def __init__(self) -> None:
        self.next_score = 0.0
        self.resets = 0

    def score(self, samples16k):
        s, self.next_score = self.next_score, 0.0
        return s

    def reset(self):
        self.resets += 1


class Harness:
    def __init__(self, detector=None, follow_up_s=8.0, cue="off"):
        self.now = 0.0
        self.events: list = []
        self.turns: list[tuple[str, float, float]] = []
        self.transcribed: list[np.ndarray] = []
        self.transcript = ""
        self.deferred: list[tuple[concurrent.futures.Future, str]] | None = None
        """When a list: transcriptions wait here until :meth:`finish_stt` (a slow STT worker)."""
        self.player_chunks: list = []
        player = type("P", (), {"enqueue": lambda _s, rid, piece, chunk: self.player_chunks.append((rid, chunk))})()
        opts = WakeOptions(phrase="hey jarvis" if detector else "hey computer",
                           model="hey_jarvis" if detector else None, follow_up_s=follow_up_s, cue=cue)
        self.w = Waking(opts, detector, WakeHooks(self._transcribe, lambda fn: fn(), self._start,
                                                  self.events.append), player, clock=lambda: self.now)

    def _transcribe(self, audio):
        self.transcribed.append(audio)
        fut: concurrent.futures.Future = concurrent.futures.Future()
        if self.deferred is not None:
            self.deferred.append((fut, self.transcript))
        else:
            fut.set_result((Transcription(self.transcript, "en", 1.0, 1.0), 5.0))
        return fut

    def finish_stt(self):
        for fut, text in self.deferred or []:
            fut.set_result((Transcription(text, "en", 1.0, 1.0), 5.0))
        self.deferred = None

    def _start(self, text, eos, started):
        self.turns.append((text, eos, started))

    def frames(self, seconds, busy=False):
        for _ in range(int(seconds / 0.032)):
            self.now += 0.032
            self.w.frame(np.zeros(512, np.float32), busy)

    def utterance(self, seconds=1.0, transcript="", wake_at=None):
        self.transcript = transcript
        self.w.speech_started()
        for i in range(int(seconds / 0.032)):
            if wake_at is not None and i == int(wake_at / 0.032):
                self.w.detector.next_score = 0.9
            self.now += 0.032
            self.w.frame(np.zeros(512, np.float32), busy=True)
        return self.w.utterance_ended(np.zeros(16000, np.float32), self.now, 1000.0, None)

    def wake_events(self):
        return [(e.awake, e.reason) for e in self.events if isinstance(e, WakeChanged)]


def test_model_mode_scenario_ignores_then_answers_the_question_after_the_wake_word_then_follow_up_then_sleeps():
    h = Harness(ScriptedDetector(), follow_up_s=8.0)
    h.frames(0.5)
    assert h.utterance(2.0, "go forward ten meters") is True  # asleep: dropped ...
    assert h.transcribed == [] and h.turns == []  # ... and never transcribed
    assert IGNORED in [e.message for e in h.events if isinstance(e, NoticeRaised)]
    h.frames(1.0)
    assert h.utterance(3.0, "Hey Jarvis, what is the capital of France?", wake_at=0.6) is True
    assert [t[0] for t in h.turns] == ["what is the capital of France?"]
    h.frames(4.0, busy=True)  # the reply
    h.w.reply_ended()
    h.frames(3.0)
    assert h.w.may_listen and h.w.follow_up is False  # (no utterance in progress yet)
    assert h.utterance(2.0, "Tell me a story") is False  # a follow-up: the conversation answers it
    h.frames(4.0, busy=True)
    h.w.reply_ended()
    h.frames(7.5)
    assert h.w.gate.awake
    h.frames(1.0)
    assert not h.w.gate.awake
    assert h.utterance(2.0, "She had your dark suit") is True
    assert len(h.turns) == 1 and len(h.transcribed) == 1
    assert h.wake_events() == [(False, "start"), (True, "wake word"), (False, "quiet")]


def test_wake_word_alone_wakes_without_a_turn_and_the_next_utterance_is_a_follow_up():
    h = Harness(ScriptedDetector())
    assert h.utterance(1.0, "Hey Jarvis.", wake_at=0.5) is True
    assert h.turns == [] and h.w.gate.awake
    h.frames(2.0)
    assert h.utterance(2.0, "What time is it?") is False


def test_a_wake_word_detected_just_after_a_short_utterance_ended_claims_it():
    h = Harness(ScriptedDetector())
    assert h.utterance(1.5, "Hey Jarvis, what time is it?") is True  # ended before the model fired
    assert h.turns == []
    h.frames(LATE_WAKE_S / 2)
    h.w.detector.next_score = 0.9
    h.frames(0.064)
    assert [t[0] for t in h.turns] == ["what time is it?"]


def test_a_wake_word_in_the_next_utterance_does_not_revive_the_ignored_one():
    h = Harness(ScriptedDetector())
    h.utterance(1.5, "private words")
    h.frames(0.1)
    h.utterance(1.0, "Hey Jarvis.", wake_at=0.2)  # starts right after: the wake word is its own
    assert h.turns == [] and h.transcribed and h.w.gate.awake
    assert len(h.transcribed) == 1


def test_a_wake_word_long_after_an_ignored_utterance_does_not_revive_it():
    h = Harness(ScriptedDetector())
    h.utterance(1.5, "private words")
    h.frames(LATE_WAKE_S + 0.5)
    h.w.detector.next_score = 0.9
    h.frames(0.064)
    assert h.turns == [] and h.transcribed == [] and h.w.gate.awake


def test_phrase_mode_transcribes_asleep_speech_and_answers_only_after_the_phrase():
    h = Harness(None)
    assert h.utterance(2.0, "What is the capital of France?") is True
    assert h.turns == [] and not h.w.gate.awake
    assert h.utterance(3.0, "Hey computer, what is the capital of France?") is True
    assert [t[0] for t in h.turns] == ["what is the capital of France?"]
    assert h.wake_events() == [(False, "start"), (True, "wake phrase")]
    assert h.utterance(2.0, "and of Spain?") is False  # follow-up


def test_phrase_mode_question_as_a_second_utterance_while_the_first_is_still_being_checked():
    h = Harness(None)
    h.deferred = []
    assert h.utterance(1.0, "Hey computer.") is True
    h.frames(0.3)
    assert h.utterance(2.0, "What is the capital of France?") is True  # started asleep: checked too
    assert h.w.pending == 2
    h.finish_stt()
    assert [t[0] for t in h.turns] == ["What is the capital of France?"]
    assert h.w.pending == 0


def test_phrase_mode_speech_before_the_phrase_is_not_answered_when_checks_are_slow():
    h = Harness(None)
    h.deferred = []
    h.utterance(2.0, "my private words")
    h.utterance(1.0, "Hey computer.")
    h.finish_stt()
    assert h.turns == [] and h.w.gate.awake


def test_chime_on_waking_only_when_asked():
    quiet = Harness(ScriptedDetector())
    quiet.utterance(1.0, "Hey Jarvis.", wake_at=0.3)
    assert quiet.player_chunks == []
    h = Harness(ScriptedDetector(), cue="chime")
    h.utterance(1.0, "Hey Jarvis.", wake_at=0.3)
    assert len(h.player_chunks) == 1
    rid, chunk = h.player_chunks[0]
    assert rid == 0 and chunk.sample_rate_hz == 16000 and 0.05 < np.abs(chunk.samples).max() <= 0.25
    assert np.abs(chime().samples[:10]).max() < 0.05  # faded in: no click


def test_disabled_waking_lets_everything_through():
    w = Waking(None, None, WakeHooks(lambda a: None, lambda fn: fn(), lambda *a: None, lambda e: None))  # type: ignore
    w.frame(np.zeros(512, np.float32), busy=False)
    w.speech_started()
    assert w.may_listen and w.follow_up
    assert w.utterance_ended(np.zeros(10, np.float32), 0.0, 0.0, None) is False


def test_wake_event_json():
    assert event_to_json(WakeChanged(True, "wake word", 0.98765)) == {
        "type": "wake", "state": "awake", "reason": "wake word", "score": 0.988}
    assert event_to_json(WakeChanged(False, "quiet"))["state"] == "asleep"


# --- config → options ------------------------------------------------------------------
@pytest.mark.parametrize("word,phrase,model", [
    ("hey_jarvis", "hey jarvis", "hey_jarvis"),
    ("Hey Jarvis", "hey jarvis", "hey_jarvis"),
    ("/m/hey_computer_v0.1.onnx", "hey computer", "/m/hey_computer_v0.1.onnx"),
    ('phrase:"hey computer"', "hey computer", None),
    ("phrase:ok house", "ok house", None),
])
def test_wake_options_from_settings(tmp_path, word, phrase, model):
    from voicecli.config import resolve
    from voicecli.pipeline.options import wake_options

    s = resolve({"wake.word": word}, env={"VOICECLI_WAKE_FOLLOW_UP_S": "3"}, file=tmp_path / "none.toml").settings
    o = wake_options(s)
    assert o is not None and (o.phrase, o.model, o.follow_up_s, o.cue) == (phrase, model, 3.0, "off")


def test_no_wake_word_means_always_awake(tmp_path):
    from voicecli.config import resolve
    from voicecli.pipeline.options import wake_options

    assert wake_options(resolve({}, env={}, file=tmp_path / "none.toml").settings) is None


@pytest.mark.parametrize("key,value,message", [
    ("wake.word", "phrase:", "invalid value for wake.word"),
    ("wake.follow_up_s", "0", "invalid value for wake.follow_up_s"),
    ("wake.cue", "bell", "invalid value for wake.cue"),
    ("wake.threshold", "1.5", "invalid value for wake.threshold"),
])
def test_bad_wake_settings_are_one_clear_line(tmp_path, key, value, message):
    from voicecli.config import env_name, resolve
    from voicecli.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        resolve({}, env={env_name(key): value}, file=tmp_path / "none.toml")
    assert message in e.value.one_line() and "\n" not in e.value.one_line()


# --- what the screen and the plain lines show ------------------------------------------
def test_talk_screen_and_plain_lines_show_asleep_and_awake():
    import io

    from voicecli.pipeline.events import AssistantState, StateChanged
    from voicecli.tui.printers import PlainPrinter
    from voicecli.tui.view import TalkView, _state_line

    view = TalkView()
    assert "ASLEEP" not in _state_line(view).plain  # no wake word: as before
    view.apply(WakeChanged(False, "start"))
    assert "ASLEEP" in _state_line(view).plain
    view.apply(WakeChanged(True, "wake word", 0.9))
    assert "ASLEEP" not in _state_line(view).plain and "LISTENING" in _state_line(view).plain
    view.apply(StateChanged(AssistantState.SPEAKING))
    view.apply(WakeChanged(False, "quiet"))
    assert "SPEAKING" in _state_line(view).plain  # (a reply in progress keeps its state shown)
    out = io.StringIO()
    printer = PlainPrinter(out)
    printer(WakeChanged(True, "wake phrase"))
    printer(WakeChanged(False, "quiet"))
    assert out.getvalue() == "[awake: wake phrase]\n[asleep]\n"


def test_missing_openwakeword_is_one_line_saying_how_to_install_or_use_a_phrase(monkeypatch):
    import sys

    from voicecli.errors import ModelLoadError
    from voicecli.vad.wake import OpenWakeWordDetector

    monkeypatch.setitem(sys.modules, "openwakeword", None)
    monkeypatch.setitem(sys.modules, "openwakeword.model", None)
    with pytest.raises(ModelLoadError) as e:
        OpenWakeWordDetector("hey_jarvis")
    line = e.value.one_line()
    assert "needs openWakeWord" in line and "--no-deps openwakeword==0.5.1" in line and "--wake-phrase" in line
