"""The body of ``POST /v1/chat/completions`` (pydantic models) and its translation into the
LLM vocabulary: messages (text parts, assistant ``tool_calls``, ``tool`` results) and the tool
request (``tools``, ``tool_choice``, ``parallel_tool_calls``). Every problem becomes an
OpenAI-shaped 400 naming the field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from voicecli.llm.tool_checks import DEFAULT_TOOL_LIMITS, ToolLimits, ToolSpecError, check_tool_request
from voicecli.llm.tools import ToolCall, ToolChoice, ToolRequest, ToolSpec
from voicecli.llm.types import ChatMessage
from voicecli.server.http_errors import ApiError


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class FunctionCallIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    arguments: str


class ToolCallIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(..., min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: FunctionCallIn


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class FunctionIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    function: FunctionIn | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessageIn] = Field(..., min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    stop: str | list[str] | None = None
    n: int | None = Field(None, ge=1, le=1)
    tools: list[ToolIn] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None


_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}


def _text(content: str | list[TextPart] | None, i: int) -> str:
    if not isinstance(content, list):
        return content or ""
    texts = []
    for j, part in enumerate(content):
        if part.type != "text" or part.text is None:
            raise ApiError(400, f"messages[{i}].content[{j}]: only text parts are supported",
                           f"messages[{i}].content[{j}].type")
        texts.append(part.text)
    return "\n".join(texts)


def chat_messages(body: ChatRequest, max_chars: int, max_messages: int) -> list[ChatMessage]:
    """The conversation; a ``tool`` message must answer a call an earlier assistant message made."""
    if len(body.messages) > max_messages:
        raise ApiError(400, f"too many messages (at most {max_messages})", "messages")
    out: list[ChatMessage] = []
    call_ids: set[str] = set()
    total = 0
    for i, m in enumerate(body.messages):
        content = _text(m.content, i)
        calls: tuple[ToolCall, ...] = ()
        if m.tool_calls:
            if m.role != "assistant":
                raise ApiError(400, f"messages[{i}]: only assistant messages carry tool_calls",
                               f"messages[{i}].tool_calls")
            calls = tuple(ToolCall(c.id, c.function.name, c.function.arguments) for c in m.tool_calls)
            call_ids.update(c.id for c in calls)
        if m.role == "tool":
            if not m.tool_call_id:
                raise ApiError(400, f"messages[{i}]: a tool message needs tool_call_id", f"messages[{i}].tool_call_id")
            if m.tool_call_id not in call_ids:
                raise ApiError(400, f"messages[{i}].tool_call_id {m.tool_call_id[:80]!r} answers no earlier "
                               "assistant tool call", f"messages[{i}].tool_call_id", "invalid_tool_call_id")
        total += len(content) + sum(len(c.arguments) + len(c.name) for c in calls)
        if total > max_chars:
            raise ApiError(400, f"messages are longer than {max_chars} characters in total", "messages",
                           "context_length_exceeded")
        out.append(ChatMessage(_ROLES[m.role], content, calls,  # type: ignore[arg-type]
                               m.tool_call_id if m.role == "tool" else None))
    return out


def _tool_choice(raw: str | dict[str, Any] | None) -> ToolChoice:
    if raw is None:
        return ToolChoice()
    if isinstance(raw, str):
        if raw in ("auto", "none", "required"):
            return ToolChoice(raw)  # type: ignore[arg-type]
    else:
        function = raw.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if raw.get("type") == "function" and isinstance(name, str):
            return ToolChoice.function(name)
    raise ApiError(400, "tool_choice must be 'auto', 'none', 'required' or "
                   '{"type": "function", "function": {"name": ...}}', "tool_choice", "invalid_tool_choice")


def tool_request(body: ChatRequest, limits: ToolLimits = DEFAULT_TOOL_LIMITS) -> ToolRequest | None:
    """The tools on offer, checked (``None`` when the request has none)."""
    choice = _tool_choice(body.tool_choice)
    tools = body.tools or []
    if len(tools) > limits.max_tools:
        raise ApiError(400, f"too many tools: {len(tools)} (at most {limits.max_tools})", "tools", "too_many_tools")
    specs = []
    for i, tool in enumerate(tools):
        if tool.type != "function" or tool.function is None:
            raise ApiError(400, f"tools[{i}]: only tools of type 'function' are supported", f"tools[{i}].type",
                           "invalid_tool_type")
        f = tool.function
        specs.append(ToolSpec.of(f.name, f.description or "", f.parameters, f.strict))
    request = ToolRequest(tuple(specs), choice, body.parallel_tool_calls)
    try:
        check_tool_request(request, limits)
    except ToolSpecError as exc:
        raise ApiError(400, exc.message, exc.param, exc.code) from None
    return request if specs else None
