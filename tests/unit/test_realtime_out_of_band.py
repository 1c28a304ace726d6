"""Out-of-band responses (``response.create`` with ``conversation: "none"``) through the WebSocket
handler on fake engines (the harness of test_realtime_handler.py): no conversation item events, the
response's metadata and a null conversation id in its events, the reply absent from the next
in-band prompt; its own ``input`` (messages and item references) replaces the history as context;
bad input and metadata get exact error events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.test_realtime_handler import ANSWER, FakeEngines, Session, error, open_session, user_text

ANSWER_TEXT = "".join(ANSWER)


@pytest.fixture()
def engines() -> FakeEngines:
    return FakeEngines()


@pytest.fixture()
def rt(engines: FakeEngines) -> Iterator[Session]:
    yield from open_session(engines)


def respond(rt: Session, **response: Any) -> list[dict[str, Any]]:
    rt.send({"type": "response.create", "response": {"output_modalities": ["text"], **response}})
    return rt.until("response.done")


def test_out_of_band_response_leaves_the_conversation_alone(rt: Session, engines: FakeEngines) -> None:
    rt.send(user_text("hello there"))
    in_band = respond(rt)
    items_before = [e["item"]["id"] for e in in_band if e["type"] == "conversation.item.added"]
    assert len(items_before) == 2  # the user's message and the reply

    events = respond(rt, conversation="none", metadata={"purpose": "classify"},
                     instructions="Say which topic the user raised.")
    kinds = [e["type"] for e in events]
    assert not [k for k in kinds if k.startswith("conversation.")], kinds
    created, done = events[0]["response"], events[-1]["response"]
    assert created["metadata"] == done["metadata"] == {"purpose": "classify"}
    assert created["conversation_id"] is None and done["conversation_id"] is None
    assert done["status"] == "completed"
    (item,) = done["output"]
    assert item["content"][0]["text"] == ANSWER_TEXT
    assert engines.chat.calls[-1][0].content == "Say which topic the user raised."
    assert rt.error_for({"type": "conversation.item.retrieve", "item_id": item["id"]})["code"] == "item_not_found"

    rt.send(user_text("and again"))
    respond(rt)
    prompt = [(m.role, m.content) for m in engines.chat.calls[-1][1:]]
    assert prompt == [("user", "hello there"), ("assistant", ANSWER_TEXT), ("user", "and again")]


def test_in_band_response_has_the_conversation_id_and_no_metadata(rt: Session) -> None:
    rt.send(user_text("hello"))
    done = respond(rt)[-1]["response"]
    assert done["conversation_id"] and done["metadata"] is None


def test_out_of_band_input_replaces_the_history(rt: Session, engines: FakeEngines) -> None:
    rt.send(user_text("my name is Ada"))
    first = respond(rt)
    user_item = next(e["item"]["id"] for e in first if e["type"] == "conversation.item.added")
    events = respond(rt, conversation="none", input=[
        {"type": "item_reference", "id": user_item},
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Answer in one word."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "What is my name?"}]}])
    assert events[-1]["response"]["status"] == "completed"
    messages = engines.chat.calls[-1]
    assert messages[0].role == "system" and messages[0].content.endswith("Answer in one word.")
    assert [(m.role, m.content) for m in messages[1:]] == [("user", "my name is Ada"), ("user", "What is my name?")]


def test_out_of_band_with_empty_input_answers_without_history(rt: Session, engines: FakeEngines) -> None:
    rt.send(user_text("my name is Ada"))
    respond(rt)
    respond(rt, conversation="none", input=[])
    assert [m.role for m in engines.chat.calls[-1]] == ["system", "user"]


def test_bad_input_and_metadata_get_exact_errors(rt: Session) -> None:
    def create(**response: Any) -> dict[str, Any]:
        return rt.error_for({"type": "response.create", "response": {"conversation": "none", **response}})

    assert create(metadata={"k": 3}) == error(
        "'response.metadata': keys are at most 64 characters, values strings of at most 512",
        "response.metadata.k", "invalid_value")
    assert create(metadata={str(i): "v" for i in range(17)})["param"] == "response.metadata"
    assert create(input="hi") == error("'response.input' must be an array of items", "response.input",
                                       "invalid_type")
    assert create(input=[{"type": "item_reference", "id": "item_nope"}]) == error(
        "'response.input[0].id': no message item 'item_nope' in this session", "response.input[0].id",
        "item_not_found")
    assert create(input=[{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]) == error(
        "'response.input[0].type' 'function_call' is not supported here (use 'message' or 'item_reference')",
        "response.input[0].type", "invalid_value")
    assert create(input=[{"type": "message", "role": "user", "content": []}])["param"] == "response.input[0].content"
    assert create(input=[{"type": "message", "role": "user",
                          "content": [{"type": "input_audio", "audio": "AAAA"}]}])["code"] == "unsupported_item"
