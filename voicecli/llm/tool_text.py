"""Tool calls written as text by a model whose chat template supports tools (``tool_choice``
auto): Hermes/Qwen style ``<tool_call>{"name": …, "arguments": …}</tool_call>`` blocks, or a
reply that is one bare JSON call (Llama 3 style, ``arguments`` or ``parameters``).

:class:`ToolTextParser` streams plain text through as it comes, holding back only what might
be the start of a call; a held-back part that turns out not to be a valid call of an offered
function is given back as text, so nothing the model wrote is lost."""

from __future__ import annotations

import json
import re
from collections.abc import Collection

from voicecli.llm.tools import TextDelta, ToolCall, ToolCallDelta, new_call_id

OPEN_TAG = "<tool_call>"
_BLOCK_RE = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)


def _held_back(text: str) -> int:
    """Length of the longest end of ``text`` that could begin ``<tool_call>``."""
    for n in range(min(len(text), len(OPEN_TAG) - 1), 0, -1):
        if OPEN_TAG.startswith(text[-n:]):
            return n
    return 0


def parse_call(text: str, names: Collection[str]) -> ToolCall | None:
    """One JSON call of an offered function, or ``None``."""
    try:
        obj = json.loads(text.strip())
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("name") not in names:
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return None
    if not isinstance(args, dict):
        return None
    return ToolCall(new_call_id(), str(obj["name"]), json.dumps(args, ensure_ascii=False))


class ToolTextParser:
    def __init__(self, names: Collection[str]) -> None:
        self._names = names
        self._buffer = ""
        self._holding = False  # a call has (probably) begun: keep everything until the end
        self._started = False

    def feed(self, piece: str) -> list[TextDelta]:
        self._buffer += piece
        if self._holding:
            return []
        if not self._started:
            stripped = self._buffer.lstrip()
            if not stripped:
                return []
            self._started = True
            if stripped.startswith("{"):
                self._holding = True
                return []
        at = self._buffer.find(OPEN_TAG)
        if at >= 0:
            text, self._buffer, self._holding = self._buffer[:at], self._buffer[at:], True
        else:
            keep = _held_back(self._buffer)
            cut = len(self._buffer) - keep
            text, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return [TextDelta(text)] if text else []

    def finish(self) -> list[TextDelta | ToolCallDelta]:
        """The calls found in the held-back text, or that text itself."""
        held, self._buffer = self._buffer, ""
        if not held:
            return []
        if OPEN_TAG in held:
            blocks = _BLOCK_RE.findall(held)
            outside = _BLOCK_RE.sub("", held).strip()
        else:
            blocks, outside = [held], ""
        calls = [parse_call(b, self._names) for b in blocks]
        if outside or not calls or any(c is None for c in calls):
            return [TextDelta(held)]
        return [ToolCallDelta(i, c.arguments, c.id, c.name) for i, c in enumerate(calls) if c is not None]
