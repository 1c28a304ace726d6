"""Out-of-band responses with real models through the official ``openai`` SDK
(``client.realtime.connect``): a ``response.create`` with ``conversation: "none"``, metadata and its
own input (a request) is answered, carries its metadata and a null
conversation id, and leaves every conversation item exactly as it was (retrieved before and after);
its output item is not in the conversation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.serve.rt_client import until

pytestmark = [pytest.mark.models]


def retrieve_all(conn: Any, ids: list[str]) -> list[dict[str, Any]]:
    items = []
    for item_id in ids:
        conn.conversation.item.retrieve(item_id=item_id)
        items.append(until(conn, "conversation.item.retrieved")[-1].item.model_dump())
    return items


def test_out_of_band_response_leaves_the_conversation_items_unchanged(server):
    with server.client().realtime.connect(model="voicecli") as conn:
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"],
                                     "audio": {"input": {"turn_detection": None}}})
        until(conn, "session.updated")
        conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "My favourite colour is green. Please remember it."}]})
        conn.response.create()
        first = until(conn, "response.done")
        ids = [e.item.id for e in first if e.type == "conversation.item.added"]
        assert len(ids) == 2, [e.type for e in first]
        before = retrieve_all(conn, ids)

        conn.response.create(response={
            "conversation": "none", "output_modalities": ["text"], "metadata": {"purpose": "recall"},
            "input": [{"type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "Please say the word banana."}]}]})
        events = until(conn, "response.done")
        assert not [e.type for e in events if e.type.startswith("conversation.")]
        created, done = events[0].response, events[-1].response
        assert created.metadata == done.metadata == {"purpose": "recall"}
        assert created.conversation_id is None and done.conversation_id is None
        assert done.status == "completed"
        answer = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert "banana" in answer.lower(), answer  # its own input was its context

        assert retrieve_all(conn, ids) == before
        conn.conversation.item.retrieve(item_id=done.output[0].id)
        err = next(e for e in conn if e.type == "error")
        assert err.error.code == "item_not_found"
