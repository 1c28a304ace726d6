"""The realtime session's caps through Starlette's TestClient on fake engines: items and their text
are bounded (and deleting makes room), deleted system and tool items leave the prompt, the prompt
sent to the LLM stays within its budget however many items there are, a client over the rate
limit gets one error and close 1008, and the latency event is sent only on request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.unit.test_realtime_handler import (  # noqa: F401 - _no_hang is an autouse fixture
    FakeEngines,
    Session,
    _no_hang,
    error,
    open_session,
    user_text,
)
from voicecli.llm.types import ChatMessage
from voicecli.server.app import create_app
from voicecli.server.config import Limits, ServerConfig


@pytest.fixture()
def engines() -> FakeEngines:
    return FakeEngines()


def item(text: str, role: str = "user", item_id: str | None = None) -> dict[str, Any]:
    event = user_text(text)
    event["item"]["role"] = role
    if item_id:
        event["item"]["id"] = item_id
    return event


FULL_COUNT = error("the conversation holds 5 items, the limit; delete some (conversation.item.delete) first",
                   "item", "conversation_full")


def test_items_are_capped_and_deleting_makes_room(engines: FakeEngines) -> None:
    for rt in open_session(engines, Limits(max_items=5)):
        for i in range(5):
            rt.send(item(f"item {i}", item_id=f"i{i}"))
        assert len(rt.drain()) == 10  # added + done each
        assert rt.error_for(item("one too many")) == FULL_COUNT
        assert rt.error_for({"type": "conversation.item.create",
                             "item": {"type": "function_call_output", "call_id": "c", "output": "x"}}) == FULL_COUNT
        rt.send({"type": "conversation.item.delete", "item_id": "i0"})
        rt.send(item("now it fits"))
        assert [e["type"] for e in rt.drain()] == ["conversation.item.deleted", "conversation.item.added",
                                                   "conversation.item.done"]


def test_item_text_is_capped_in_bytes(engines: FakeEngines) -> None:
    for rt in open_session(engines, Limits(max_item_text_bytes=100)):
        rt.send(item("é" * 30, item_id="a"))  # 60 bytes
        rt.drain()
        assert rt.error_for(item("é" * 30)) == error(
            "the conversation's items would hold more than 100 bytes of text; delete some "
            "(conversation.item.delete) first", "item", "conversation_full")
        rt.send({"type": "conversation.item.delete", "item_id": "a"})
        rt.send(item("é" * 30))
        assert [e["type"] for e in rt.drain()][-1] == "conversation.item.done"


def test_a_flood_of_items_is_refused_past_the_cap(engines: FakeEngines) -> None:
    for rt in open_session(engines, Limits(max_items=50)):
        for i in range(200):
            rt.send(item(f"item {i}"))
        events = rt.drain()
        assert sum(e["type"] == "conversation.item.added" for e in events) == 50
        assert sum(e["type"] == "error" and e["error"]["code"] == "conversation_full" for e in events) == 150


class CountingTokens:
    def __init__(self) -> None:
        self.chars = 0

    def __call__(self, text: str) -> int:
        self.chars += len(text)
        return max(1, len(text) // 4)


def test_the_prompt_stays_within_the_llm_budget_whatever_the_items(engines: FakeEngines) -> None:
    """Issue 12: a response.create after 2000 items tokenised everything (110 s of CPU), then
    failed on the context size."""
    counter = CountingTokens()
    engines.chat.count_tokens = counter  # type: ignore[method-assign]
    budget = engines.settings.llm.history_tokens
    for rt in open_session(engines):
        rt.update(output_modalities=["text"])
        n = 0
        while True:  # fill the conversation to its text cap with 4000-character items
            rt.send(item(f"item {n} " + "word " * 800))
            if any(e["type"] == "error" for e in rt.drain()):
                break
            n += 1
        assert n > 200
        rt.send(item("What is two plus two?", role="user"))
        counter.chars = 0
        rt.send({"type": "response.create"})
        assert rt.until("response.done")[-1]["response"]["status"] == "completed"
        system, *_, user = engines.chat.calls[-1]
        assert user.content.endswith("What is two plus two?")
        assert counter(system.content) + counter(user.content) <= budget
        assert counter.chars < 40 * budget  # a bounded number of characters tokenised, not 1 MB


def test_deleted_system_and_tool_items_leave_the_prompt(engines: FakeEngines) -> None:
    for rt in open_session(engines):
        rt.update(output_modalities=["text"], instructions="Be kind.")
        rt.send(item("Speak like a pirate.", role="system", item_id="sys"))
        rt.send({"type": "conversation.item.create",
                 "item": {"type": "function_call_output", "id": "tool", "call_id": "c", "output": "42"}})
        rt.send({"type": "conversation.item.delete", "item_id": "sys"})
        rt.send({"type": "conversation.item.delete", "item_id": "tool"})
        rt.send(item("Hello?"))
        rt.send({"type": "response.create"})
        assert rt.until("response.done")[-1]["response"]["status"] == "completed"
        assert engines.chat.calls[-1][0] == ChatMessage("system", "Be kind.")
        assert engines.chat.calls[-1][-1] == ChatMessage("user", "Hello?")


def test_a_client_over_the_rate_limit_gets_one_error_and_close_1008(engines: FakeEngines) -> None:
    limits = Limits(realtime_event_burst=10, realtime_events_per_s=0.01)
    app = create_app(engines, ServerConfig(limits=limits))
    with TestClient(app) as client, client.websocket_connect("ws://localhost/v1/realtime") as ws:
        assert json.loads(ws.receive_text())["type"] == "session.created"
        for _ in range(30):
            ws.send_text('{"type": "nope"}')
        messages = []
        while (msg := ws.receive())["type"] != "websocket.close":
            messages.append(json.loads(msg["text"]))
        codes = [m["error"]["code"] for m in messages]
        assert codes == ["unknown_event_type"] * 10 + ["rate_limit_exceeded"], codes
        assert messages[-1]["error"]["message"].startswith("client sends events too fast")
        assert (msg["code"], msg["reason"]) == (1008, "client sends events too fast")


def latency_events(rt: Session) -> list[dict[str, Any]]:
    rt.update(output_modalities=["text"])
    rt.send(item("Hi"))
    rt.send({"type": "response.create"})
    events = rt.until("response.done") + rt.drain()
    return [e for e in events if e["type"] == "voicecli.turn.latency"]


def open_with_query(engines: FakeEngines, query: str) -> Iterator[Session]:
    app = create_app(engines, ServerConfig())
    with TestClient(app) as client, client.websocket_connect(f"ws://localhost/v1/realtime?{query}") as ws:
        rt = Session(ws)
        assert rt.recv()["type"] == "session.created"
        yield rt
        ws.close(1000)


def test_the_latency_event_only_on_request(engines: FakeEngines) -> None:
    for rt in open_session(engines):
        assert latency_events(rt) == []
    for rt in open_session(engines):
        rt.update(voicecli={"latency_events": True})
        (event,) = latency_events(rt)
        assert event["response_id"].startswith("resp_") and "voice_to_voice" in event["latency_ms"]
    for rt in open_with_query(engines, "voicecli_latency=1"):
        assert len(latency_events(rt)) == 1
    for rt in open_with_query(engines, "voicecli_latency=0"):
        assert latency_events(rt) == []
