"""The chat vocabulary in OpenAI's chat-completions JSON, both ways: messages, tools, tool
choices and calls out (for a remote server, and for our own responses), streamed deltas in
(:class:`StreamDecoder`, for a remote server's chunks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from voicecli.llm.tools import (
    FinishReason,
    ReplyDelta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolRequest,
    ToolSpec,
)
from voicecli.llm.types import ChatMessage


def tool_json(spec: ToolSpec) -> dict[str, object]:
    function: dict[str, object] = {"name": spec.name, "description": spec.description,
                                   "parameters": spec.parameters}
    if spec.strict is not None:
        function["strict"] = spec.strict
    return {"type": "function", "function": function}


def choice_json(choice: ToolChoice) -> str | dict[str, object]:
    if choice.mode == "function":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def tool_call_json(call: ToolCall) -> dict[str, object]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def tool_call_delta_json(delta: ToolCallDelta) -> dict[str, object]:
    """One entry of ``choices[0].delta.tool_calls``: id, type and name only on a call's first."""
    function: dict[str, object] = {"arguments": delta.arguments}
    out: dict[str, object] = {"index": delta.index}
    if delta.id is not None:
        out.update(id=delta.id, type="function")
    if delta.name is not None:
        function = {"name": delta.name, **function}
    out["function"] = function
    return out


def message_json(message: ChatMessage) -> dict[str, object]:
    out: dict[str, object] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [tool_call_json(c) for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def tools_body(tools: ToolRequest) -> dict[str, object]:
    """The request fields for ``tools``."""
    body: dict[str, object] = {"tools": [tool_json(t) for t in tools.tools], "tool_choice": choice_json(tools.choice)}
    if tools.parallel_calls is not None:
        body["parallel_tool_calls"] = tools.parallel_calls
    return body


_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
                                    "function_call": "tool_calls"}


@dataclass
class StreamDecoder:
    """A server's ``chat.completion.chunk`` objects → reply events. Servers that repeat a
    call's id and name in every chunk (llama-cpp-python's) are normalised to OpenAI's shape:
    id and name on the call's first delta only."""

    finish_reason: FinishReason | None = None
    completion_tokens: int | None = None
    _sent: set[tuple[int, str]] = field(default_factory=set)

    def feed(self, chunk: Mapping[str, object]) -> list[ReplyDelta]:
        usage = chunk.get("usage")
        if isinstance(usage, Mapping) and isinstance(usage.get("completion_tokens"), int):
            self.completion_tokens = int(usage["completion_tokens"])
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            return []
        choice = choices[0]
        reason = choice.get("finish_reason")
        if isinstance(reason, str):
            self.finish_reason = _FINISH.get(reason, "stop")
        delta = choice.get("delta")
        if not isinstance(delta, Mapping):
            return []
        out: list[ReplyDelta] = []
        content = delta.get("content")
        if isinstance(content, str) and content:
            out.append(TextDelta(content))
        calls = delta.get("tool_calls")
        for position, call in enumerate(calls if isinstance(calls, list) else []):
            if isinstance(call, Mapping):
                out.append(self._call_delta(call, position))
        return out

    def _call_delta(self, call: Mapping[str, object], position: int) -> ToolCallDelta:
        index = call.get("index")
        index = index if isinstance(index, int) else position
        function = call.get("function")
        function = function if isinstance(function, Mapping) else {}
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else ""
        return ToolCallDelta(index, text, self._first(index, "id", call.get("id")),
                             self._first(index, "name", function.get("name")))

    def _first(self, index: int, key: str, value: object) -> str | None:
        if not isinstance(value, str) or not value or (index, key) in self._sent:
            return None
        self._sent.add((index, key))
        return value
