"""The conversation pipeline driven with fake engines (tests/unit/pipeline_fakes.py): turn-taking,
the speculative reply gate, barge-in truncation, push-to-talk, typed turns and key interrupts,
asserted on concrete transcripts, chat history and event order. Milliseconds per test."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

import numpy as np
import pytest

from tests.unit.pipeline_fakes import SAMPLES_PER_WORD, FakeEngines, FakeSynth, Harness, until
from voicecli.llm.types import ChatMessage
from voicecli.pipeline.conversation import Conversation, ConversationOptions
from voicecli.pipeline.events import (
    NoticeRaised,
    ReplyAudio,
    ReplyDelta,
    ReplyInterrupted,
    ReplyStarted,
    TurnCompleted,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscribed,
    UserTurnDiscarded,
    event_to_json,
)
from voicecli.vad.endpointer import EndpointerParams

SYSTEM = "Be brief."
STORY = "One two three four. Five six seven eight."
PHRASES = {0.9: "Tell me a story.", 0.8: "What time is it?", 0.7: "Stop."}
REPLIES = {"Tell me a story.": STORY, "What time is it?": "It is noon.", "Stop.": "Okay.",
           "Tell me a story. What time is it?": "It is noon.", "Stop. What time is it?": "It is noon."}
END_SILENCE_FRAMES = 13
"""400 ms of silence at 32 ms frames ends a turn (EndpointerParams defaults)."""

OPTIONS = ConversationOptions(endpointer=EndpointerParams(), barge_in_ms=192, system_prompt=SYSTEM)
FLOW = (UserSpeechStarted, UserSpeechStopped, UserTranscribed, ReplyStarted, ReplyAudio, ReplyInterrupted,
        TurnCompleted, UserTurnDiscarded)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 8))


def harness(stepped: bool = False, **options: object) -> Harness:
    from dataclasses import replace

    return Harness(Conversation, FakeEngines(PHRASES, REPLIES), replace(OPTIONS, **options), stepped=stepped)


def records(h: Harness) -> list:
    return [e.record for e in h.of(TurnCompleted)]


def users(h: Harness) -> list[str]:
    return [call[-1].content for call in h.engines.chat.calls]


async def play_until_completed(h: Harness, turns: int) -> None:
    """Drive a stepped output until ``turns`` turns have completed."""
    while len(records(h)) < turns:
        h.output.play(max(h.player.pending_samples(), 320))
        await asyncio.sleep(0.001)


def test_speculative_reply_is_prepared_in_the_pause_and_played_only_after_the_endpoint():
    async def scenario() -> None:
        async with harness() as h:
            await h.silence(3)
            await h.speak(0.9, 10)
            await h.silence(1)  # silence begins: speculative STT and reply start now
            await until(lambda: h.engines.speaker.calls, what="prepared reply's first audio")
            await asyncio.sleep(0.05)
            assert h.engines.speaker.calls == ["One two three four."]  # the rest waits for the turn's end
            assert h.names(*FLOW) == ["UserSpeechStarted"]  # nothing shown yet ...
            assert h.player.progress(1).queued_samples == {}  # ... and nothing played
            await h.silence(END_SILENCE_FRAMES - 1)  # the endpointer confirms the turn
            await until(lambda: records(h), what="turn completed")
        assert h.names(*FLOW) == ["UserSpeechStarted", "UserSpeechStopped", "UserTranscribed", "ReplyStarted",
                                  "ReplyAudio", "ReplyAudio", "TurnCompleted"]
        assert "".join(e.text for e in h.of(ReplyDelta)) == STORY
        assert [e.text for e in h.of(ReplyAudio)] == ["One two three four.", "Five six seven eight."]
        assert h.engines.transcriber.calls == ["Tell me a story."]  # the speculative transcript was used
        assert h.engines.chat.calls == [[ChatMessage("system", SYSTEM), ChatMessage("user", "Tell me a story.")]]
        (rec,) = records(h)
        assert (rec.turn, rec.user, rec.assistant, rec.interrupted) == (1, "Tell me a story.", STORY, False)
        assert rec.latency.endpoint_wait is not None and rec.latency.voice_to_voice is not None
        assert h.conv.history == [ChatMessage("user", "Tell me a story."), ChatMessage("assistant", STORY)]
    run(scenario)


def test_speculative_reply_is_discarded_when_the_user_goes_on():
    async def scenario() -> None:
        async with harness() as h:
            h.engines.chat.hold = hold = threading.Event()  # the LLM stalls after its first token
            await h.silence(3)
            await h.speak(0.9, 10)
            await h.silence(4)
            await until(lambda: h.engines.chat.yielded == [1], what="speculative reply started")
            await h.speak(0.8, 10)  # the user was not done: the speculative reply is dropped ...
            hold.set()
            await h.silence(END_SILENCE_FRAMES)
            await until(lambda: records(h), what="turn completed")
        # ... and its LLM stream stopped at the next token: the worker may see the stop before it
        # asks for token 2 (yielded 1) or just after (yielded 2), never runs the reply to its end
        assert h.engines.chat.yielded[0] in (1, 2)
        assert h.engines.chat.finished == 1  # only the second (merged) reply ran to its end
        assert users(h) == ["Tell me a story.", "Tell me a story. What time is it?"]
        assert [e.text for e in h.of(UserTranscribed)] == ["Tell me a story. What time is it?"]
        assert "".join(e.text for e in h.of(ReplyDelta)) == "It is noon."
        assert [e.text for e in h.of(ReplyAudio)] == ["It is noon."]
        assert h.player.progress(1).queued_samples == {0: 3 * SAMPLES_PER_WORD}
        assert h.engines.transcriber.calls == ["Tell me a story.", "Tell me a story. What time is it?"]
        (rec,) = records(h)
        assert (rec.turn, rec.user, rec.assistant) == (1, "Tell me a story. What time is it?", "It is noon.")
    run(scenario)


def test_barge_in_keeps_only_what_was_played_in_the_history():
    async def scenario() -> None:
        async with harness(stepped=True) as h:
            await h.silence(3)
            await h.speak(0.9, 10)
            await h.silence(END_SILENCE_FRAMES)
            await until(lambda: len(h.player.progress(1).queued_samples) == 2, what="both pieces queued")
            h.output.play(4 * SAMPLES_PER_WORD + 2 * SAMPLES_PER_WORD)  # piece 0 and half of piece 1
            await h.speak(0.7, 10)  # the user talks over the reply
            assert h.names(ReplyInterrupted) == ["ReplyInterrupted"]
            assert h.player.pending_samples() == 0
            await h.silence(END_SILENCE_FRAMES)
            await play_until_completed(h, 2)
        (interrupted,) = h.of(ReplyInterrupted)
        assert (interrupted.turn, interrupted.reason, interrupted.output_s) == (1, "speech", 0.6)
        first, second = records(h)
        assert first.interrupted and first.interrupted_by == "speech"
        assert first.assistant == "One two three four. Five six seven"  # by letters: the middle of "seven" is at 12/24
        assert first.full_reply == STORY
        assert first.interrupt_output_s == 0.6
        assert (second.turn, second.user, second.assistant) == (2, "Stop.", "Okay.")
        assert h.engines.chat.calls[1] == [ChatMessage("system", SYSTEM), ChatMessage("user", "Tell me a story."),
                                           ChatMessage("assistant", "One two three four. Five six seven"),
                                           ChatMessage("user", "Stop.")]
        assert h.names(*FLOW) == ["UserSpeechStarted", "UserSpeechStopped", "UserTranscribed", "ReplyStarted",
                                  "ReplyAudio", "ReplyAudio", "UserSpeechStarted", "ReplyInterrupted",
                                  "TurnCompleted", "UserSpeechStopped", "UserTranscribed", "ReplyStarted",
                                  "ReplyAudio", "TurnCompleted"]
    run(scenario)


def test_push_to_talk_hears_only_while_the_key_is_down():
    async def scenario() -> None:
        async with harness(push_to_talk=True) as h:
            await h.silence(3)
            await h.speak(0.9, 10)  # key not pressed: the microphone is closed
            assert h.of(UserSpeechStarted) == []
            h.conv.push_to_talk()
            await h.settle()
            await h.speak(0.8, 10)
            await h.silence(3)
            h.conv.push_to_talk()
            await h.settle()
            await until(lambda: records(h), what="turn completed")
        assert [e.message for e in h.of(NoticeRaised)] == ["talk now; press space again when done", "sent"]
        assert [e.text for e in h.of(UserTranscribed)] == ["What time is it?"]
        assert users(h) == ["What time is it?"]  # no speculative reply in push-to-talk
        (rec,) = records(h)
        assert (rec.turn, rec.user, rec.assistant) == (1, "What time is it?", "It is noon.")
    run(scenario)


def test_push_to_talk_without_speech_starts_no_turn():
    async def scenario() -> None:
        async with harness(push_to_talk=True) as h:
            await h.silence(3)
            h.conv.push_to_talk()
            await h.settle()
            await h.silence(5)
            h.conv.push_to_talk()
            await h.settle()
        assert records(h) == [] and h.engines.transcriber.calls == [] and h.conv.turn == 0
    run(scenario)


def test_typed_turns_are_answered_with_the_history_so_far():
    async def scenario() -> None:
        async with harness() as h:
            h.conv.submit_text("   ")  # nothing to say: ignored
            h.conv.submit_text("  What time is it? ")
            await h.settle()
            await until(lambda: records(h), what="first turn")
            h.conv.submit_text("Stop.")
            await h.settle()
            await until(lambda: len(records(h)) == 2, what="second turn")
        assert h.names(UserTranscribed, ReplyStarted, ReplyAudio, TurnCompleted) == [
            "UserTranscribed", "ReplyStarted", "ReplyAudio", "TurnCompleted",
            "UserTranscribed", "ReplyStarted", "ReplyAudio", "TurnCompleted"]
        assert [(e.turn, e.text) for e in h.of(UserTranscribed)] == [(1, "What time is it?"), (2, "Stop.")]
        assert h.engines.transcriber.calls == []
        assert h.engines.chat.calls[1] == [ChatMessage("system", SYSTEM), ChatMessage("user", "What time is it?"),
                                           ChatMessage("assistant", "It is noon."), ChatMessage("user", "Stop.")]
        assert h.conv.turn == 2
        assert [m.content for m in h.conv.history] == ["What time is it?", "It is noon.", "Stop.", "Okay."]
    run(scenario)


def test_key_interrupt_stops_playback_and_keeps_the_played_piece():
    async def scenario() -> None:
        async with harness(stepped=True) as h:
            h.conv.submit_text("Tell me a story.")
            await h.settle()
            await until(lambda: len(h.player.progress(1).queued_samples) == 2, what="both pieces queued")
            h.output.play(4 * SAMPLES_PER_WORD)
            h.conv.interrupt("key")
            await h.settle()
            await until(lambda: records(h), what="turn completed")
            assert h.player.pending_samples() == 0
        assert [(e.turn, e.reason, e.output_s) for e in h.of(ReplyInterrupted)] == [(1, "key", 0.4)]
        (rec,) = records(h)
        assert (rec.assistant, rec.interrupted, rec.interrupted_by) == ("One two three four.", True, "key")
        assert h.conv.history == [ChatMessage("user", "Tell me a story."),
                                  ChatMessage("assistant", "One two three four.")]
    run(scenario)


def test_speech_without_words_is_discarded_with_a_notice():
    async def scenario() -> None:
        async with harness() as h:
            await h.silence(3)
            await h.speak(0.6, 10)  # the fake STT has no phrase for 0.6
            await h.silence(END_SILENCE_FRAMES)
            await until(lambda: h.of(UserTurnDiscarded), what="discarded turn")
        assert [(e.turn, e.reason) for e in h.of(UserTurnDiscarded)] == [(1, "no words")]
        assert [event_to_json(e) for e in h.of(UserTurnDiscarded)] == [  # talk --json shows it
            {"type": "discarded", "turn": 1, "reason": "no words"}]
        assert "heard something, but no words" in [e.message for e in h.of(NoticeRaised)]
        assert records(h) == [] and h.engines.chat.calls == []
    run(scenario)


def test_adapter_turns_hold_a_transcript_then_answer_it_with_a_one_off_system_prompt():
    async def scenario() -> None:
        async with harness() as h:
            turn = h.conv.submit_audio(np.full(512 * 10, 0.8, np.float32), respond=False)
            await until(lambda: h.of(UserTranscribed), what="transcript")
            await h.settle()
            assert (turn, h.names(ReplyStarted), h.conv.history) == (1, [], [])
            turn = h.conv.reply_to("What time is it?", system_prompt="Answer in one word.")
            await until(lambda: records(h), what="reply")
            assert turn == 2
            assert h.engines.chat.calls == [[ChatMessage("system", "Answer in one word."),
                                             ChatMessage("user", "What time is it?")]]
            assert h.conv.truncate_history(2, "It is")
            assert not h.conv.truncate_history(7, "x")
        assert h.conv.history == [ChatMessage("user", "What time is it?"), ChatMessage("assistant", "It is")]
        assert (h.conv.completed[-1].assistant, h.conv.completed[-1].interrupted) == ("It is", True)
    run(scenario)


def test_cancel_reply_stops_the_reply_like_barge_in():
    async def scenario() -> None:
        async with harness(stepped=True) as h:
            assert not h.conv.cancel_reply("client")
            h.conv.reply_to("Tell me a story.")
            await until(lambda: h.of(ReplyAudio), what="audio")
            assert h.conv.cancel_reply("client")
            await until(lambda: records(h), what="turn completed")
        assert [(e.turn, e.reason) for e in h.of(ReplyInterrupted)] == [(1, "client")]
        assert records(h)[0].assistant == "" and h.conv.history == [ChatMessage("user", "Tell me a story.")]
    run(scenario)


@pytest.mark.parametrize("legacy", [False, True])
def test_a_new_voice_applies_from_the_next_reply(legacy: bool):
    async def scenario() -> None:
        async with harness() as h:
            other = FakeSynth("other-voice")
            h.engines.chat.hold = hold = threading.Event()
            h.conv.submit_text("What time is it?")
            await h.settle()
            await until(lambda: h.engines.chat.calls, what="first reply started")
            if legacy:
                h.engines.speaker = other  # what the realtime server does today
            else:
                h.conv.use_speaker(other)
            hold.set()
            await until(lambda: records(h), what="first turn")
            h.conv.submit_text("Stop.")
            await h.settle()
            await until(lambda: len(records(h)) == 2, what="second turn")
        assert other.calls == ["Okay."]
    run(scenario)


def test_a_voice_that_fails_stops_the_reply_at_once_and_the_next_turn_works():
    """A remote TTS down mid-session: one error event at once (the LLM used to wait on the
    failed first piece's audio, up to a second per token), and the next typed turn is spoken."""
    from voicecli.errors import RemoteEngineError
    from voicecli.pipeline.events import PipelineFailed

    class DownSynth(FakeSynth):
        def synthesize(self, text: str, speed: float = 1.0):  # type: ignore[override]
            raise RemoteEngineError("speech server http://127.0.0.1:9 is down", "check --tts-url")

    async def scenario() -> None:
        async with harness() as h:
            h.conv.use_speaker(DownSynth("down"))
            words = h.engines.chat._words

            def slow_words(messages):  # a real LLM's pace: the first piece is spoken before the rest exists
                for token in words(messages):
                    time.sleep(0.05)
                    yield token
            h.engines.chat._words = slow_words  # type: ignore[method-assign]
            t0 = time.monotonic()
            h.conv.submit_text("Tell me a story.")  # two sentences: the second waits on the first's audio
            await h.settle()
            await until(lambda: h.of(PipelineFailed), what="the TTS error reported")
            assert time.monotonic() - t0 < 1.0  # not after a second's wait per remaining token
            assert [e.fatal for e in h.of(PipelineFailed)] == [False]
            assert "is down" in h.of(PipelineFailed)[0].message
            h.conv.use_speaker(FakeSynth("back"))
            h.conv.submit_text("Stop.")
            await h.settle()
            await until(lambda: [e.text for e in h.of(ReplyAudio)] == ["Okay."], what="next turn spoken")
    run(scenario)


async def story_queued(h: Harness) -> None:
    """The user asks for a story and stops; the reply's two pieces are queued, none played."""
    await h.silence(3)
    await h.speak(0.9, 10)
    await h.silence(END_SILENCE_FRAMES)
    await until(lambda: len(h.player.progress(1).queued_samples) == 2, what="both pieces queued")


def test_speech_soon_after_the_turn_ended_that_cuts_the_reply_continues_that_turn():
    # a long pause inside a sentence ended the turn; the user went on before the reply was heard:
    # one turn with both parts, the cut reply is no turn and not in the history
    async def scenario() -> None:
        async with harness(stepped=True, continue_ms=1500) as h:
            await story_queued(h)
            await h.speak(0.8, 10)  # 0.4 s after the turn's end, nothing played yet: the same turn
            assert h.names(ReplyInterrupted) == ["ReplyInterrupted"]
            await h.silence(END_SILENCE_FRAMES)
            await play_until_completed(h, 1)
        (rec,) = records(h)
        assert (rec.turn, rec.user, rec.assistant, rec.interrupted) == (2, "Tell me a story. What time is it?",
                                                                         "It is noon.", False)
        assert [(e.turn, e.reason) for e in h.of(UserTurnDiscarded)] == [
            (1, "the user went on: one turn with the next")]
        assert h.conv.history == [ChatMessage("user", "Tell me a story. What time is it?"),
                                  ChatMessage("assistant", "It is noon.")]
    run(scenario)


def test_speech_after_the_reply_began_playing_without_a_canceller_is_a_new_turn():
    # it might be the reply's own echo (loudspeakers, no echo canceller): never merged unchecked
    async def scenario() -> None:
        async with harness(stepped=True, continue_ms=1500) as h:
            await story_queued(h)
            h.output.play(2 * SAMPLES_PER_WORD)
            await h.speak(0.7, 10)
            await h.silence(END_SILENCE_FRAMES)
            await play_until_completed(h, 2)
        first, second = records(h)
        assert (first.user, first.interrupted, second.user) == ("Tell me a story.", True, "Stop.")
        assert not h.of(UserTurnDiscarded)
    run(scenario)


def test_a_barge_in_after_the_continue_window_is_a_new_turn():
    async def scenario() -> None:
        async with harness(stepped=True, continue_ms=300) as h:
            await story_queued(h)
            await h.speak(0.7, 10)  # 0.4 s after the turn's end, longer than the window
            await h.silence(END_SILENCE_FRAMES)
            await play_until_completed(h, 2)
        first, second = records(h)
        assert (first.user, first.interrupted, second.user) == ("Tell me a story.", True, "Stop.")
        assert not h.of(UserTurnDiscarded)
    run(scenario)


def test_a_dropped_continuation_asks_the_first_part_again():
    # the sound that cut the reply was too short for a turn (a cough): the turn it seemed to
    # continue is answered as it was, not lost
    async def scenario() -> None:
        async with harness(stepped=True, continue_ms=1500) as h:
            await story_queued(h)
            await h.speak(0.8, 7)  # 224 ms: cuts the reply (192 ms), too short for a turn (250 ms)
            assert h.names(ReplyInterrupted) == ["ReplyInterrupted"]
            await h.silence(END_SILENCE_FRAMES)
            await play_until_completed(h, 1)
        (rec,) = records(h)
        assert (rec.turn, rec.user, rec.assistant, rec.interrupted) == (2, "Tell me a story.", STORY, False)
        assert h.conv.history == [ChatMessage("user", "Tell me a story."), ChatMessage("assistant", STORY)]
    run(scenario)


class HeardEcho:
    """An echo path whose microphone hears the loudspeaker: every utterance over a reply is
    checked (it is suspect), and no canceller output is kept for transcripts."""

    def __init__(self) -> None:
        from voicecli.pipeline.echo_path import EchoState

        self.state = EchoState(heard=True, delay_ms=60.0, erle_db=20.0, far_active=True)

    def evidence(self, first: int, last: int) -> object:
        from voicecli.pipeline.echo_check import AcousticEvidence

        return AcousticEvidence(1.0, None)

    def transcript_audio(self, first: int, last: int) -> None:
        return None


def test_going_on_while_the_first_part_is_still_being_checked_is_one_turn():
    # the echo rig: "Excuse me, … what time is it in Tokyo?" over a story on loudspeakers; the
    # second part began before the check of "Excuse me" had ended, so it was no continuation and
    # "Excuse me" became a turn of its own, cut by the rest
    async def scenario() -> None:
        async with harness(stepped=True, continue_ms=1000) as h:
            h.conv._echo = h.conv.talk_over._echo = HeardEcho()
            gate, transcribe = threading.Event(), h.engines.transcriber.transcribe

            def slow_check(audio, options):  # the own-voice check of "Stop." takes a while
                text = transcribe(audio, options)
                if text.text == "Stop.":
                    gate.wait(5)
                return text

            h.engines.transcriber.transcribe = slow_check
            await story_queued(h)
            h.output.play(2 * SAMPLES_PER_WORD)  # the story is playing
            await h.silence(25)  # past the continue window of the story's turn
            await h.speak(0.7, 10)  # "Stop." over the story: checked
            await h.silence(END_SILENCE_FRAMES)
            await h.speak(0.8, 5)  # the user goes on before the check is done
            gate.set()
            await until(lambda: h.of(ReplyInterrupted), what="the story cut by the checked turn")
            await h.speak(0.8, 5)
            await h.silence(END_SILENCE_FRAMES)
            await play_until_completed(h, 2)
        story, rec = records(h)
        assert (story.turn, story.interrupted) == (1, True)
        assert (rec.turn, rec.user, rec.assistant, rec.interrupted) == (3, "Stop. What time is it?", "It is noon.",
                                                                         False)
        assert [(e.turn, e.reason) for e in h.of(UserTurnDiscarded)] == [
            (2, "the user went on: one turn with the next")]
    run(scenario)
