"""Tool calls inside a spoken reply (voicecli/pipeline/tool_use.py) driven through the real
Conversation on fake engines: a runner's calls are run and answered, the history keeps calls with
their results, a forced choice cannot loop, slow and failing tools, barge-in around a call, and a
call without a runner ending the reply for the adapter's client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from tests.unit.pipeline_fakes import SAMPLES_PER_WORD, FakeEngines, Harness, until
from voicecli.llm.tools import ToolCall, ToolChoice, ToolOutcome, ToolRequest, ToolSpec
from voicecli.llm.types import ChatMessage, message_tokens, trim_history
from voicecli.pipeline import tool_use
from voicecli.pipeline.chat_context import ChatContext
from voicecli.pipeline.conversation import Conversation, ConversationOptions
from voicecli.pipeline.events import (
    ReplyAudio,
    ReplyDelta,
    ReplyInterrupted,
    ReplyStarted,
    ToolCalled,
    ToolFinished,
    TurnCompleted,
    UserTranscribed,
)

SYSTEM = "Be brief."
WEATHER = ToolSpec.of("get_weather", "The weather in a city.",
                      {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
ASK = "What is the weather in Oslo?"
ARGS = '{"city": "Oslo"}'
RESULT = "sunny and mild"
FLOW = (UserTranscribed, ReplyStarted, ToolCalled, ToolFinished, ReplyAudio, ReplyInterrupted, TurnCompleted)


class FakeTools:
    """A ToolRunner: answers every call with ``output`` (after ``delay`` set, it waits for it)."""

    def __init__(self, request: ToolRequest | None, output: str = RESULT) -> None:
        self._request = request
        self.output = output
        self.ran: list[ToolCall] = []
        self.release: threading.Event | None = None
        self.fail = False

    def request(self) -> ToolRequest | None:
        return self._request

    def run(self, call: ToolCall, timeout_s: float) -> ToolOutcome:
        self.ran.append(call)
        if self.release is not None:
            self.release.wait(timeout_s + 2)
        if self.fail:
            raise RuntimeError("sensor offline")
        return ToolOutcome(call, self.output, elapsed_ms=5.0)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 8))


def harness(tools: FakeTools | None, stepped: bool = False, offered: ToolRequest | None = None,
            **options: object) -> Harness:
    engines = FakeEngines({0.9: ASK, 0.7: "Stop."}, {"Stop.": "Okay.", "Thanks.": "You are welcome."})
    engines.chat.tool_calls[ASK] = ("get_weather", ARGS)
    o = replace(ConversationOptions(system_prompt=SYSTEM, tools=offered), **options)
    return Harness(lambda *a: Conversation(*a, tools=tools), engines, o, stepped=stepped)


def records(h: Harness) -> list:
    return [e.record for e in h.of(TurnCompleted)]


def required() -> ToolRequest:
    return ToolRequest((WEATHER,), ToolChoice("required"))


def test_a_call_is_run_and_the_model_answers_with_its_result():
    tools = FakeTools(required())

    async def scenario() -> None:
        async with harness(tools) as h:
            h.conv.submit_text(ASK)
            await until(lambda: records(h), what="turn 1")
            h.conv.submit_text("Thanks.")
            await until(lambda: len(records(h)) == 2, what="turn 2")
        call = ToolCall("call_1", "get_weather", ARGS)
        outcome = ToolOutcome(call, RESULT, elapsed_ms=5.0)
        assert tools.ran == [call]
        assert h.names(*FLOW) == ["UserTranscribed", "ReplyStarted", "ToolCalled", "ToolFinished", "ReplyAudio",
                                  "ReplyAudio", "TurnCompleted", "UserTranscribed", "ReplyStarted", "ReplyAudio",
                                  "TurnCompleted"]  # "The answer is sunny | and mild."
        assert h.of(ToolCalled) == [ToolCalled(1, call)]
        assert h.of(ToolFinished) == [ToolFinished(1, outcome)]
        first, second = records(h)
        assert first.tools == (outcome,) and second.tools == ()
        assert first.assistant == "The answer is sunny and mild."
        assert "".join(e.text for e in h.of(ReplyDelta) if e.turn == 1) == first.assistant
        turn1 = [ChatMessage("user", ASK), ChatMessage("assistant", "", tool_calls=(call,)),
                 ChatMessage("tool", RESULT, tool_call_id="call_1")]
        chat = h.engines.chat
        assert chat.calls[1] == [ChatMessage("system", SYSTEM), *turn1]  # the follow-up round sees the result
        assert [r.choice.mode if r else None for r in chat.requests] == ["required", "auto", "required"]
        assert chat.calls[2] == [ChatMessage("system", SYSTEM), *turn1, ChatMessage("assistant", first.assistant),
                                 ChatMessage("user", "Thanks.")]  # later turns see the call and result
        assert h.conv.history[-1] == ChatMessage("assistant", "You are welcome.")
    run(scenario)


def test_a_model_that_keeps_calling_gets_three_rounds_then_must_speak():
    tools = FakeTools(ToolRequest((WEATHER,), ToolChoice.function("get_weather")))

    async def scenario() -> None:
        async with harness(tools) as h:
            h.engines.chat.always_call = "get_weather"
            h.conv.submit_text(ASK)
            await until(lambda: records(h), what="turn 1")
        chat = h.engines.chat
        assert len(tools.ran) == tool_use.MAX_TOOL_ROUNDS == 3
        assert [r.choice.mode if r else None for r in chat.requests] == ["function", "auto", "auto"]
        assert len(chat.calls) == 4  # the fourth round was offered no tools: plain text
        (record,) = records(h)
        assert [o.call.id for o in record.tools] == ["call_1", "call_2", "call_3"]
        assert record.assistant == "The answer is sunny and mild."
        roles = [m.role for m in h.conv.history]
        assert roles == ["user"] + ["assistant", "tool"] * 3 + ["assistant"]
    run(scenario)


def test_a_slow_tool_gets_a_spoken_filler_that_stays_out_of_the_history(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tool_use, "FILLER_AFTER_S", 0.05)
    tools = FakeTools(required())
    tools.release = threading.Event()

    async def scenario() -> None:
        async with harness(tools) as h:
            h.conv.submit_text(ASK)
            await until(lambda: tool_use.FILLER in h.engines.speaker.calls, what="filler")
            assert not h.of(ToolFinished)
            tools.release.set()
            await until(lambda: records(h), what="turn 1")
        assert h.engines.speaker.calls == [tool_use.FILLER, "The answer is sunny", "and mild."]
        (record,) = records(h)
        assert record.assistant == record.full_reply == "The answer is sunny and mild."
        assert h.conv.history[-1] == ChatMessage("assistant", record.assistant)
    run(scenario)


def test_a_failing_or_overrunning_tool_is_reported_to_the_model(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tool_use, "TOOL_TIMEOUT_S", 0.05)
    monkeypatch.setattr(tool_use, "FILLER_AFTER_S", 5.0)
    tools = FakeTools(required())
    tools.fail = True
    slow = FakeTools(required())
    slow.release = threading.Event()

    async def scenario() -> None:
        async with harness(tools) as h:
            h.conv.submit_text(ASK)
            await until(lambda: records(h), what="turn 1")
        (failed,) = [e.outcome for e in h.of(ToolFinished)]
        assert failed.error and failed.output == "error: RuntimeError: sensor offline"
        assert h.conv.history[2] == ChatMessage("tool", failed.output, tool_call_id="call_1")
        async with harness(slow) as h:
            h.conv.submit_text(ASK)
            await until(lambda: records(h), timeout_s=5, what="turn 1")
            slow.release.set()
        (late,) = [e.outcome for e in h.of(ToolFinished)]
        assert late.error and late.output == "error: the tool 'get_weather' did not answer within 0 s"
    run(scenario)


def test_barge_in_while_the_tool_runs_leaves_no_call_without_a_result():
    tools = FakeTools(required())
    tools.release = threading.Event()

    async def scenario() -> None:
        async with harness(tools) as h:
            await h.silence(3)
            await h.speak(0.9, 10)
            await h.silence(13)
            await until(lambda: tools.ran, what="tool running")
            await h.speak(0.7, 10)  # the user talks over the wait
            tools.release.set()
            await h.silence(13)
            await until(lambda: len(records(h)) == 2, what="turn 2")
        first, second = records(h)
        assert first.interrupted and first.tools == () and first.assistant == ""
        assert h.names(ToolCalled, ToolFinished, ReplyInterrupted) == ["ToolCalled", "ReplyInterrupted"]
        assert h.conv.history == [ChatMessage("user", ASK), ChatMessage("user", "Stop."),
                                  ChatMessage("assistant", "Okay.")]
    run(scenario)


def test_barge_in_after_the_result_keeps_the_call_and_the_words_heard():
    tools = FakeTools(required(), output="seventeen degrees and sunny")

    async def scenario() -> None:
        async with harness(tools, stepped=True) as h:
            await h.silence(3)
            await h.speak(0.9, 10)
            await h.silence(13)
            await until(lambda: h.player.progress(1).queued_samples, what="answer queued")
            h.output.play(4 * SAMPLES_PER_WORD)  # "The answer is seventeen"
            await h.speak(0.7, 10)
            await h.silence(13)
            while len(records(h)) < 2:
                h.output.play(max(h.player.pending_samples(), 320))
                await asyncio.sleep(0.001)
            assert h.conv.truncate_history(1, "The answer")
        first = records(h)[0]
        assert first.interrupted and first.assistant == "The answer is seventeen"
        assert first.full_reply == "The answer is seventeen degrees and sunny."
        call = ToolCall("call_1", "get_weather", ARGS)
        assert h.conv.history == [ChatMessage("user", ASK), ChatMessage("assistant", "", tool_calls=(call,)),
                                  ChatMessage("tool", "seventeen degrees and sunny", tool_call_id="call_1"),
                                  ChatMessage("assistant", "The answer"), ChatMessage("user", "Stop."),
                                  ChatMessage("assistant", "Okay.")]
    run(scenario)


def test_without_a_runner_a_call_ends_the_reply_and_the_adapter_answers_it():
    async def scenario() -> None:
        async with harness(None, offered=required()) as h:
            h.conv.submit_text(ASK)
            await until(lambda: records(h), what="turn 1")
            call = ToolCall("call_1", "get_weather", ARGS)
            assert h.names(*FLOW) == ["UserTranscribed", "ReplyStarted", "ToolCalled", "TurnCompleted"]
            (record,) = records(h)
            assert record.tools == () and record.assistant == ""
            assert h.conv.history == [ChatMessage("user", ASK), ChatMessage("assistant", "", tool_calls=(call,))]
            assert not h.conv.add_tool_result("call_9", RESULT)  # no such call waits
            assert h.conv.add_tool_result("call_1", RESULT)
            assert not h.conv.add_tool_result("call_1", RESULT)  # answered once
            h.conv.reply_to(None)  # go on from the result: no user message
            await until(lambda: len(records(h)) == 2, what="turn 2")
            assert h.conv.truncate_history(2, "The answer")  # the client played only that
        chat = h.engines.chat
        turn1 = [ChatMessage("user", ASK), ChatMessage("assistant", "", tool_calls=(call,)),
                 ChatMessage("tool", RESULT, tool_call_id="call_1")]
        assert chat.calls[-1] == [ChatMessage("system", SYSTEM), *turn1]
        assert [r.choice.mode if r else None for r in chat.requests] == ["required", "auto"]  # not forced again
        assert records(h)[1].user == "" and records(h)[1].assistant == "The answer is sunny and mild."
        assert h.conv.history == [*turn1, ChatMessage("assistant", "The answer")]
        assert h.names(UserTranscribed) == ["UserTranscribed"]
    run(scenario)


def test_history_trimming_keeps_a_call_with_its_result():
    ctx = ChatContext()
    call = ToolCall("call_1", "get_weather", ARGS)
    ctx.add_turn(ASK, "It is mild.", False, [ToolOutcome(call, RESULT)])
    ctx.add_turn("Thanks.", "You are welcome.", False)
    assert not ctx.add_tool_result("call_1", "late")  # answered already (and not the last turn)
    system, turns = ChatMessage("system", SYSTEM), [*ctx.messages, ChatMessage("user", "Bye.")]

    def words(text: str) -> int:
        return len(text.split())

    costs = [message_tokens(m, words) for m in turns]
    assert costs == [10, 11, 7, 7, 5, 7, 5]  # the call counts its name and arguments
    whole = words(SYSTEM) + sum(costs)
    assert trim_history(system, turns, whole, words) == [system, *turns]
    for budget in (whole - 1, whole - 10, whole - 21):  # without the question the call and result go too
        assert trim_history(system, turns, budget, words) == [system, *turns[4:]]


def test_a_speculative_reply_runs_no_tool_before_the_turn_is_confirmed():
    tools = FakeTools(required())

    async def scenario() -> None:
        async with harness(tools) as h:
            await h.silence(3)
            await h.speak(0.9, 10)
            await h.silence(2)  # the pause: the prepared reply makes its call behind the gate ...
            await until(lambda: h.engines.chat.calls, what="prepared reply's call")
            await asyncio.sleep(0.05)
            assert tools.ran == [] and not h.of(ToolCalled)  # ... and waits there
            await h.speak(0.9, 5)  # the user goes on: it is dropped unrun
            await h.silence(13)
            await until(lambda: records(h), what="turn 1")
        assert len(tools.ran) == 1 and h.names(ToolCalled, ToolFinished) == ["ToolCalled", "ToolFinished"]
        assert records(h)[0].tools[0].call == tools.ran[0]
    run(scenario)


def test_a_call_the_client_never_answered_is_left_out_of_the_prompt():
    ctx = ChatContext()
    call = ToolCall("call_1", "get_weather", ARGS)
    ctx.add_turn(ASK, "Let me look.", False, pending=[call])
    assert ctx.messages[-1] == ChatMessage("assistant", "Let me look.", tool_calls=(call,))  # the history keeps it
    prompt = ctx.prompt(SYSTEM, "Never mind.", 1000, lambda t: len(t.split()))
    assert prompt == [ChatMessage("system", SYSTEM), ChatMessage("user", ASK), ChatMessage("assistant", "Let me look."),
                      ChatMessage("user", "Never mind.")]
    ctx = ChatContext()
    ctx.add_turn(ASK, "", False, pending=[call])
    assert ctx.prompt(SYSTEM, "Never mind.", 1000, lambda t: len(t.split()))[1:] == [
        ChatMessage("user", ASK), ChatMessage("user", "Never mind.")]
    assert ctx.add_tool_result("call_1", RESULT)
    assert ctx.prompt(SYSTEM, None, 1000, lambda t: len(t.split()))[1:] == [
        ChatMessage("user", ASK), ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", RESULT, tool_call_id="call_1")]
