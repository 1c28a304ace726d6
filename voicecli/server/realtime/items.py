"""The conversation as the client sees it: items as frozen dataclasses (user, system and assistant
messages, function calls and their outputs), their wire form per dialect, and the ordered store that announces each
item it adds (``conversation.item.added``/``.done``, beta ``.created``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from voicecli.server.realtime.outbox import EventSender
from voicecli.server.realtime.protocol import GA, Dialect, Role, content_type

Status = Literal["completed", "in_progress", "incomplete"]


@dataclass(frozen=True)
class InputText:
    text: str

    def to_wire(self, dialect: Dialect) -> dict[str, Any]:
        return {"type": "input_text", "text": self.text}


@dataclass(frozen=True)
class InputAudio:
    transcript: str | None = None
    """None until the audio is transcribed."""

    def to_wire(self, dialect: Dialect) -> dict[str, Any]:
        return {"type": "input_audio", "transcript": self.transcript}


@dataclass(frozen=True)
class OutputAudio:
    transcript: str

    def to_wire(self, dialect: Dialect) -> dict[str, Any]:
        return {"type": content_type("output_audio", dialect), "transcript": self.transcript}


@dataclass(frozen=True)
class OutputText:
    text: str

    def to_wire(self, dialect: Dialect) -> dict[str, Any]:
        return {"type": content_type("output_text", dialect), "text": self.text}


ContentPart = InputText | InputAudio | OutputAudio | OutputText


@dataclass(frozen=True)
class MessageItem:
    id: str
    role: Role
    content: tuple[ContentPart, ...]
    status: Status = "completed"

    def to_wire(self, dialect: Dialect) -> dict[str, Any]:
        return {"id": self.id, "object": "realtime.item", "type": "message", "status": self.status,
                "role": self.role, "content": [part.to_wire(dialect) for part in self.content]}


@dataclass(frozen=True)
class FunctionCallOutputItem:
    id: str
    call_id: str
    output: str
    status: Status = "completed"

    def to_wire(self, dialect: Dialect) -> dict[str, Any]:
        return {"id": self.id, "object": "realtime.item", "type": "function_call_output", "status": self.status,
                "call_id": self.call_id, "output": self.output}


@dataclass(frozen=True)
class FunctionCallItem:
    """A call the assistant made (a response's output); the client answers it with a
    :class:`FunctionCallOutputItem` of the same ``call_id``."""

    id: str
    call_id: str
    name: str
    arguments: str
    status: Status = "completed"

    def to_wire(self, dialect: Dialect) -> dict[str, Any]:
        return {"id": self.id, "object": "realtime.item", "type": "function_call", "status": self.status,
                "call_id": self.call_id, "name": self.name, "arguments": self.arguments}


Item = MessageItem | FunctionCallOutputItem | FunctionCallItem


def text_bytes(item: Item) -> int:
    """The UTF-8 size of the text ``item`` holds (text parts, transcripts, tool output)."""
    if isinstance(item, FunctionCallOutputItem):
        return len(item.output.encode())
    if isinstance(item, FunctionCallItem):
        return len(item.name.encode()) + len(item.arguments.encode())
    total = 0
    for part in item.content:
        text = part.text if isinstance(part, InputText | OutputText) else part.transcript
        total += len(text.encode()) if text else 0
    return total


class ItemStore:
    """The session's items in conversation order. Items are values: a change (a transcript
    arrives, a reply is truncated) replaces the stored item. Keeps count of the text the items
    hold (``text_bytes``), which the session bounds."""

    def __init__(self, sender: EventSender) -> None:
        self._send = sender
        self._order: list[str] = []
        self._items: dict[str, Item] = {}
        self.text_bytes = 0

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def first_id(self) -> str | None:
        return self._order[0] if self._order else None

    def last_id(self) -> str | None:
        return self._order[-1] if self._order else None

    def previous(self, item_id: str) -> str | None:
        """The item before ``item_id`` (before the end if ``item_id`` is not in the list)."""
        i = self._order.index(item_id) if item_id in self._order else len(self._order)
        return self._order[i - 1] if i > 0 else None

    def add(self, item: Item) -> None:
        """Append ``item`` and announce it (GA also says ``done`` for a completed item)."""
        self._order.append(item.id)
        self._items[item.id] = item
        self.text_bytes += text_bytes(item)
        prev = self.previous(item.id)
        wire = item.to_wire(self._send.dialect)
        self._send.send("conversation.item.added", item=wire, previous_item_id=prev)
        if self._send.dialect == GA and item.status == "completed":
            self._send.send("conversation.item.done", item=wire, previous_item_id=prev)

    def replace(self, item: Item) -> None:
        """Store the new value of an item still in the conversation (a deleted one stays deleted)."""
        old = self._items.get(item.id)
        if old is not None:
            self._items[item.id] = item
            self.text_bytes += text_bytes(item) - text_bytes(old)

    def delete(self, item_id: str) -> Item:
        self._order.remove(item_id)
        item = self._items.pop(item_id)
        self.text_bytes -= text_bytes(item)
        return item

    def wire(self, item_id: str) -> dict[str, Any] | None:
        item = self._items.get(item_id)
        return item.to_wire(self._send.dialect) if item is not None else None
