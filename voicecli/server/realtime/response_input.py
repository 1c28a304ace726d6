"""A ``response.create``'s own ``input`` (messages and ``item_reference``s to the session's items,
the context of an out-of-band response instead of the conversation) and its ``metadata`` (echoed in
the response's events). Validation raises :class:`~.protocol.ClientEventError` naming the field."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from voicecli.llm.types import ChatMessage
from voicecli.server.realtime.items import InputAudio, InputText, ItemStore, MessageItem, OutputAudio, OutputText
from voicecli.server.realtime.parsing import parse_message
from voicecli.server.realtime.protocol import ClientEventError, ResponseParams

MAX_INPUT_ITEMS = 64
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512
"""OpenAI's bounds on metadata: 16 pairs, keys up to 64 characters, values up to 512."""


def with_input(params: ResponseParams, r: Any, items: ItemStore, max_text_chars: int) -> ResponseParams:
    """``params`` with the ``input`` (resolved against ``items``) and ``metadata`` of the
    ``response`` object ``r``."""
    if not isinstance(r, dict):
        return params
    changes: dict[str, Any] = {}
    if r.get("metadata") is not None:
        changes["metadata"] = parse_metadata(r["metadata"])
    if r.get("input") is not None:
        changes["input"] = parse_input(r["input"], items, max_text_chars)
    return replace(params, **changes) if changes else params


def parse_metadata(value: Any) -> dict[str, str]:
    param = "response.metadata"
    if not isinstance(value, dict):
        raise ClientEventError(f"'{param}' must be an object of strings", param, "invalid_type")
    if len(value) > MAX_METADATA_KEYS:
        raise ClientEventError(f"'{param}' has {len(value)} keys; at most {MAX_METADATA_KEYS}", param)
    for key, v in value.items():
        if len(key) > MAX_METADATA_KEY_CHARS or not isinstance(v, str) or len(v) > MAX_METADATA_VALUE_CHARS:
            raise ClientEventError(f"'{param}': keys are at most {MAX_METADATA_KEY_CHARS} characters, values "
                                   f"strings of at most {MAX_METADATA_VALUE_CHARS}", f"{param}.{key[:40]}")
    return dict(value)


def parse_input(value: Any, items: ItemStore, max_text_chars: int) -> tuple[ChatMessage, ...]:
    """The messages of ``response.input``: message items (text, or audio with its transcript)
    and references to the session's message items."""
    param = "response.input"
    if not isinstance(value, list):
        raise ClientEventError(f"'{param}' must be an array of items", param, "invalid_type")
    if len(value) > MAX_INPUT_ITEMS:
        raise ClientEventError(f"'{param}' has {len(value)} items; at most {MAX_INPUT_ITEMS}", param)
    out: list[ChatMessage] = []
    total = 0
    for i, item in enumerate(value):
        where = f"{param}[{i}]"
        if not isinstance(item, dict):
            raise ClientEventError(f"'{where}' must be an object", where, "invalid_type")
        kind = item.get("type", "message")
        if kind == "item_reference":
            message = _referenced(item.get("id"), items, where)
        elif kind == "message":
            try:
                parsed = parse_message(item)
            except ClientEventError as exc:
                raise ClientEventError(exc.message.replace("'item.", f"'{where}."),
                                       exc.param and exc.param.replace("item", where, 1), exc.code) from None
            if parsed.audio_b64 is not None:
                raise ClientEventError(f"'{where}': audio in response.input needs its 'transcript' (it is not "
                                       "transcribed)", f"{where}.content", "unsupported_item")
            message = ChatMessage(parsed.role, parsed.text)
        else:
            raise ClientEventError(f"'{where}.type' {str(kind)[:40]!r} is not supported here (use 'message' or "
                                   "'item_reference')", f"{where}.type")
        total += len(message.content)
        if total > max_text_chars:
            raise ClientEventError(f"'{param}' holds more than {max_text_chars} characters of text", param,
                                   "string_above_max_length")
        out.append(message)
    return tuple(out)


def _referenced(item_id: Any, items: ItemStore, where: str) -> ChatMessage:
    item = items.get(item_id) if isinstance(item_id, str) else None
    if not isinstance(item, MessageItem):
        raise ClientEventError(f"'{where}.id': no message item {str(item_id)[:60]!r} in this session",
                               f"{where}.id", "item_not_found")
    texts = []
    for part in item.content:
        if isinstance(part, (InputText, OutputText)):
            texts.append(part.text)
        elif isinstance(part, (InputAudio, OutputAudio)) and part.transcript:
            texts.append(part.transcript)
    return ChatMessage(item.role, "\n".join(texts))
