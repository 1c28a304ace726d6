"""Realtime function calling through the WebSocket handler on fake engines (the harness of
test_realtime_handler.py, with a chat model that calls when it must): bad tools get exact error
events; a reply that calls sends a ``function_call`` item with its argument events (GA and beta
names); the client's ``function_call_output`` + ``response.create`` makes the model answer from the
result with the call and its output in the history; the call item is retrievable and deletable."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from tests.unit.test_realtime_handler import ANSWER, FakeChat, FakeEngines, Session, error, open_session, user_text
from voicecli.llm.tools import ReplyDelta, ReplyEnded, TextDelta, ToolCall, ToolCallDelta, ToolRequest
from voicecli.llm.types import ChatMessage, GenerationOptions

WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
ARGS = '{"city": "Oslo"}'


class CallingChat(FakeChat):
    """Calls the first offered tool when the choice forces a call; after a ``tool`` message,
    says ``It is <result>.``; otherwise ``ANSWER``."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[ToolRequest | None] = []

    def stream_reply(self, messages: Sequence[ChatMessage], options: GenerationOptions,
                     tools: ToolRequest | None = None) -> Iterator[ReplyDelta]:
        self.requests.append(tools)
        if tools is not None and tools.choice.forces_call:
            self.calls.append(list(messages))
            name = tools.choice.name or tools.tools[0].name
            yield ToolCallDelta(0, id=f"call_{len(self.calls)}", name=name)
            yield ToolCallDelta(0, ARGS)
            yield ReplyEnded("tool_calls", 2)
            return
        if messages[-1].role == "tool":
            self.calls.append(list(messages))
            yield TextDelta(f"It is {messages[-1].content}.")
            yield ReplyEnded("stop", 1)
            return
        for text in self.stream(messages, options):
            yield TextDelta(text)
        yield ReplyEnded("stop", len(ANSWER))


@pytest.fixture()
def engines() -> FakeEngines:
    e = FakeEngines()
    e.chat = CallingChat()
    return e


@pytest.fixture()
def rt(engines: FakeEngines) -> Iterator[Session]:
    yield from open_session(engines)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


@pytest.mark.parametrize(("session", "expected"), [
    ({"tools": [{**WEATHER, "name": "get weather"}]},
     error("session.tools[0].name 'get weather' must be 1 to 64 letters, digits, _ or -", "session.tools[0].name",
           "invalid_function_name")),
    ({"tools": [{**WEATHER, "parameters": {"type": "object", "properties": {"city": {"type": "text"}}}}]},
     error("invalid schema for function 'get_weather': /properties/city/type: \"text\" is not a JSON Schema type",
           "session.tools[0].parameters", "invalid_function_parameters")),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "get_time"}},
     error("tool_choice names function 'get_time', which is not among the tools", "session.tool_choice",
           "invalid_tool_choice")),
    ({"tools": [{"type": "mcp", "server_label": "x"}]},
     error("'session.tools[0].type' 'mcp' is not supported (only 'function' tools)", "session.tools[0].type",
           "invalid_tool_type")),
    ({"tool_choice": "required"}, error("tool_choice 'required' needs tools", "session.tool_choice",
                                        "invalid_value")),
])
def test_bad_tools_are_refused_and_the_session_keeps_its_own(rt: Session, session: Any,
                                                             expected: dict[str, Any]) -> None:
    assert rt.error_for({"type": "session.update", "session": session}) == expected
    assert rt.update()["tools"] == [] and rt.update()["tool_choice"] == "auto"


def test_bad_response_tools_are_refused(rt: Session) -> None:
    assert rt.error_for({"type": "response.create", "response": {"tool_choice": {"type": "function",
                                                                                "name": "get_weather"}}}) == \
        error("tool_choice 'function' needs tools", "response.tool_choice", "invalid_value")


def test_a_forced_call_then_its_output_is_answered_from_the_history(rt: Session, engines: FakeEngines) -> None:
    chat = engines.chat
    assert rt.update(output_modalities=["text"], tools=[WEATHER], tool_choice="required")["tools"] == [WEATHER]
    rt.send(user_text("Weather in Oslo?"))
    rt.drain()
    rt.send({"type": "response.create"})
    evs = rt.until("response.done")
    assert types(evs) == ["response.created", "response.output_item.added", "conversation.item.added",
                          "response.function_call_arguments.delta", "response.function_call_arguments.done",
                          "response.output_item.done", "conversation.item.done", "response.done"]
    item_id = evs[1]["item"]["id"]
    assert evs[1]["item"] == {"id": item_id, "object": "realtime.item", "type": "function_call",
                              "status": "in_progress", "call_id": "call_1", "name": "get_weather", "arguments": ""}
    ids = {"response_id": evs[0]["response"]["id"], "item_id": item_id, "output_index": 0, "call_id": "call_1"}
    assert {k: evs[3][k] for k in ids} == ids and evs[3]["delta"] == ARGS
    assert {k: evs[4][k] for k in ids} == ids and (evs[4]["name"], evs[4]["arguments"]) == ("get_weather", ARGS)
    call_item = {**evs[1]["item"], "status": "completed", "arguments": ARGS}
    assert evs[5]["item"] == evs[6]["item"] == call_item
    done = evs[-1]["response"]
    assert done["status"] == "completed" and done["output"] == [call_item]

    rt.send({"type": "conversation.item.retrieve", "item_id": item_id})
    assert rt.until("conversation.item.retrieved")[-1]["item"] == call_item
    rt.send({"type": "conversation.item.create",
             "item": {"type": "function_call_output", "call_id": "call_1", "output": '{"temperature_c": 17}'}})
    rt.drain()
    rt.send({"type": "response.create"})
    evs = rt.until("response.done")
    assert evs[-1]["response"]["output"][0]["content"] == [{"type": "output_text",
                                                            "text": 'It is {"temperature_c": 17}.'}]
    call = ToolCall("call_1", "get_weather", ARGS)
    assert chat.calls[-1][1:] == [ChatMessage("user", "Weather in Oslo?"),
                                  ChatMessage("assistant", "", tool_calls=(call,)),
                                  ChatMessage("tool", '{"temperature_c": 17}', tool_call_id="call_1")]
    assert [r.choice.mode if r else None for r in chat.requests] == ["required", "auto"]  # not forced again
    rt.send({"type": "conversation.item.delete", "item_id": item_id})
    assert types(rt.drain()) == ["conversation.item.deleted"]
    assert rt.error_for({"type": "conversation.item.retrieve", "item_id": item_id})["code"] == "item_not_found"


def test_a_response_can_bring_its_own_tools_and_beta_names_apply(engines: FakeEngines) -> None:
    for rt in open_session(engines, headers={"OpenAI-Beta": "realtime=v1"}):
        rt.send({"type": "session.update", "session": {"modalities": ["text"]}})
        rt.until("session.updated")
        rt.send(user_text("Weather?"))
        rt.drain()
        rt.send({"type": "response.create", "response": {
            "tools": [WEATHER], "tool_choice": {"type": "function", "name": "get_weather"}}})
        evs = rt.until("response.done")
        assert types(evs) == ["response.created", "response.output_item.added", "conversation.item.created",
                              "response.function_call_arguments.delta", "response.function_call_arguments.done",
                              "response.output_item.done", "response.done"]
        assert "name" not in evs[4] and json.loads(evs[4]["arguments"]) == {"city": "Oslo"}
        assert evs[-1]["response"]["output"][0]["type"] == "function_call"
        rt.send(user_text("And now?"))
        rt.drain()
        rt.send({"type": "response.create"})  # the session has no tools: the override ended
        evs = rt.until("response.done")
        assert evs[-1]["response"]["output"][0]["type"] == "message"
        assert len(engines.chat.requests) == 1  # (the plain text stream answered)


def test_the_spoken_answer_to_a_result_can_be_truncated_and_the_next_turn_sees_it(rt: Session,
                                                                                  engines: FakeEngines) -> None:
    rt.update(tools=[WEATHER], tool_choice="required")
    rt.send(user_text("Weather in Oslo?"))
    rt.drain()
    rt.send({"type": "response.create"})
    call_id = rt.until("response.done")[-1]["response"]["output"][0]["call_id"]
    rt.send({"type": "conversation.item.create",
             "item": {"type": "function_call_output", "call_id": call_id, "output": "sunny and mild"}})
    rt.drain()
    rt.send({"type": "response.create"})
    done = rt.until("response.done")[-1]["response"]
    (message,) = done["output"]
    assert message["content"][0]["transcript"] == "It is sunny and mild."
    rt.send({"type": "conversation.item.truncate", "item_id": message["id"], "content_index": 0,
             "audio_end_ms": 500})  # half of it: "It is sunny" by the letters-proportion rule
    rt.until("conversation.item.truncated")
    rt.send({"type": "response.create", "response": {"tool_choice": "none"}})
    rt.until("response.done")
    call = ToolCall(call_id, "get_weather", ARGS)
    assert engines.chat.calls[-1][1:] == [
        ChatMessage("user", "Weather in Oslo?"), ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "sunny and mild", tool_call_id=call_id), ChatMessage("assistant", "It is sunny"),
        ChatMessage("user", "Continue.")]
