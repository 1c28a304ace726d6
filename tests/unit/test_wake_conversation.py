"""The wake word wired into the conversation, on fake engines (tests/unit/pipeline_fakes.py):
ignored speech never reaches STT (model mode), the LLM or the history; the words after the wake
word are the question; follow-ups need no wake word; the quiet time puts it back to sleep;
barge-in still works while awake."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np

from tests.unit.pipeline_fakes import FakeEngines, Harness, until
from voicecli.pipeline.conversation import Conversation, ConversationOptions
from voicecli.pipeline.events import NoticeRaised, ReplyInterrupted, TurnCompleted, WakeChanged
from voicecli.pipeline.wake_gate import WakeOptions
from voicecli.pipeline.waking import IGNORED
from voicecli.vad.endpointer import EndpointerParams

WAKE_FRAME = 0.55
"""Frames of this value are the spoken wake word (the scripted detector fires on them)."""
PHRASES = {WAKE_FRAME: "Hey Jarvis,", 0.5: "Hey computer,", 0.6: "Go forward ten meters.",
           0.8: "What time is it?", 0.9: "Tell me a story."}
REPLIES = {"What time is it?": "It is noon.", "Tell me a story.": "One two three four. Five six seven eight."}
END = 14
"""Silent frames that end a turn (400 ms at 32 ms frames, plus one)."""


class ScriptedDetector:
    """Fires on the 6th wake-word frame in a row (a real model fires once the word is complete,
    after the endpointer has counted the speech as started)."""

    name = "hey_jarvis"
    phrase = "hey jarvis"

    def __init__(self) -> None:
        self.run = 0

    def score(self, samples16k: np.ndarray) -> float:
        self.run = self.run + 1 if round(float(samples16k.max()), 2) == WAKE_FRAME else 0
        return 0.9 if self.run == 6 else 0.0

    def reset(self) -> None:
        pass


def harness(detector: ScriptedDetector | None, follow_up_s: float = 8.0, stepped: bool = False) -> Harness:
    phrase = "hey jarvis" if detector else "hey computer"
    options = ConversationOptions(endpointer=EndpointerParams(), speculative_reply=False,
                                  wake=WakeOptions(phrase=phrase, model="hey_jarvis" if detector else None,
                                                   follow_up_s=follow_up_s))
    return Harness(lambda *a: Conversation(*a, wake_detector=detector), FakeEngines(PHRASES, REPLIES), options,
                   stepped=stepped)


def turns(h: Harness) -> list[tuple[str, str]]:
    return [(e.record.user, e.record.assistant) for e in h.of(TurnCompleted)]


def asked(h: Harness) -> list[str]:
    return [m.content for call in h.engines.chat.calls for m in call if m.role == "user"]


def ignored(h: Harness) -> int:
    return sum(1 for e in h.of(NoticeRaised) if e.message == IGNORED)


def run(scenario) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_model_mode_ignores_untranscribed_then_answers_after_the_wake_word_and_a_follow_up():
    async def scenario() -> None:
        async with harness(ScriptedDetector()) as h:
            await h.silence(3)
            await h.speak(0.6, 10)
            await h.silence(END)
            await until(lambda: ignored(h) == 1, what="ignored")
            assert h.engines.transcriber.calls == []  # asleep speech is not even transcribed
            await h.speak(WAKE_FRAME, 8)
            await h.speak(0.8, 10)
            await h.silence(END)
            await until(lambda: len(turns(h)) == 1, what="first turn")
            await h.speak(0.9, 10)  # a follow-up, no wake word
            await h.silence(END)
            await until(lambda: len(turns(h)) == 2, what="follow-up")
        assert turns(h) == [("What time is it?", "It is noon."),
                            ("Tell me a story.", "One two three four. Five six seven eight.")]
        assert asked(h)[-1] == "Tell me a story." and "Go forward ten meters." not in " ".join(asked(h))
        assert [(e.awake, e.reason) for e in h.of(WakeChanged)] == [(False, "start"), (True, "wake word")]
        assert [m.content for m in h.conv.history if m.role == "user"] == ["What time is it?", "Tell me a story."]

    run(scenario)


def test_phrase_mode_answers_only_after_the_phrase_then_sleeps_after_the_quiet_time():
    async def scenario() -> None:
        async with harness(None, follow_up_s=0.3) as h:
            await h.silence(3)
            await h.speak(0.8, 10)  # "What time is it?" while asleep: transcribed, not answered
            await h.silence(END)
            await until(lambda: ignored(h) == 1, what="ignored")
            await h.speak(0.5, 8)
            await h.speak(0.9, 10)
            await h.silence(END)
            await until(lambda: len(turns(h)) == 1, what="turn after the phrase")
            await asyncio.sleep(0.4)
            await h.silence(2)  # the next frames see the quiet time over
            await until(lambda: any(not e.awake for e in h.of(WakeChanged)[1:]), what="asleep again")
            await h.speak(0.8, 10)
            await h.silence(END)
            await until(lambda: ignored(h) == 2, what="ignored after the window")
        assert turns(h) == [("Tell me a story.", "One two three four. Five six seven eight.")]
        assert asked(h) == ["Tell me a story."]
        assert [(e.awake, e.reason) for e in h.of(WakeChanged)] == [
            (False, "start"), (True, "wake phrase"), (False, "quiet")]

    run(scenario)


def test_barge_in_while_awake_still_interrupts_the_reply():
    async def scenario() -> None:
        async with harness(ScriptedDetector(), stepped=True) as h:
            await h.silence(3)
            await h.speak(WAKE_FRAME, 8)
            await h.speak(0.9, 10)
            await h.silence(END)
            await until(lambda: h.player.pending_samples() > 0, what="reply playing")
            h.output.play(1600)
            await h.speak(0.8, 10)  # talk over it
            await until(lambda: h.of(ReplyInterrupted), what="barge-in")
            await h.silence(END)
            while len(turns(h)) < 2:
                h.output.play(max(h.player.pending_samples(), 320))
                await asyncio.sleep(0.001)
        first, second = h.of(TurnCompleted)
        assert first.record.interrupted and first.record.user == "Tell me a story."
        assert second.record.user == "What time is it?"

    run(scenario)


def test_without_a_wake_word_everything_is_answered_as_before():
    async def scenario() -> None:
        options = replace(ConversationOptions(endpointer=EndpointerParams()), speculative_reply=False)
        async with Harness(Conversation, FakeEngines(PHRASES, REPLIES), options) as h:
            await h.silence(3)
            await h.speak(0.8, 10)
            await h.silence(END)
            await until(lambda: len(turns(h)) == 1, what="turn")
        assert h.of(WakeChanged) == []

    run(scenario)
