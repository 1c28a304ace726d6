"""The tool-calling vocabulary every layer shares: the functions offered to a model
(:class:`ToolSpec`), how it must use them (:class:`ToolChoice`, bundled in a
:class:`ToolRequest`), the calls it makes (:class:`ToolCall`), and the events a streamed reply
is made of (:data:`ReplyDelta`: :class:`TextDelta`, :class:`ToolCallDelta`, :class:`ReplyEnded`).
:class:`ToolCallAssembler` joins streamed call deltas back into whole calls."""

from __future__ import annotations

import json
import secrets
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from voicecli.errors import VoicecliError

FinishReason = Literal["stop", "length", "tool_calls"]
ChoiceMode = Literal["auto", "none", "required", "function"]


class ToolSchemaError(VoicecliError):
    """A function's parameters schema cannot be used by this model (for a forced call in
    process: a keyword a grammar cannot enforce). ``tool`` names the function."""

    def __init__(self, tool: str, detail: str) -> None:
        super().__init__(f"function '{tool}': {detail}",
                         "simplify the parameters schema, or use tool_choice auto")
        self.tool = tool
        self.detail = detail


@dataclass(frozen=True)
class ToolSpec:
    """One function the model may call. ``parameters_json`` is the function's JSON Schema as
    compact JSON text (key order kept: it is the order the model writes arguments in); keeping
    text rather than a dict makes the spec immutable and hashable (grammar caches key on it)."""

    name: str
    description: str = ""
    parameters_json: str = '{"type":"object","properties":{}}'
    strict: bool | None = None
    """OpenAI's ``strict`` flag, passed through to remote servers (in process, forced calls are
    always constrained)."""

    @classmethod
    def of(cls, name: str, description: str = "", parameters: Mapping[str, object] | None = None,
           strict: bool | None = None) -> ToolSpec:
        schema = dict(parameters) if parameters is not None else {"type": "object", "properties": {}}
        return cls(name, description, json.dumps(schema, separators=(",", ":"), ensure_ascii=False), strict)

    @property
    def parameters(self) -> dict[str, object]:
        """The schema as a fresh dict (callers may change it)."""
        value: dict[str, object] = json.loads(self.parameters_json)
        return value


@dataclass(frozen=True)
class ToolChoice:
    """``auto`` (the model decides), ``none`` (text only), ``required`` (some call), or
    ``function`` with ``name`` (that call)."""

    mode: ChoiceMode = "auto"
    name: str | None = None

    @classmethod
    def function(cls, name: str) -> ToolChoice:
        return cls("function", name)

    @property
    def forces_call(self) -> bool:
        return self.mode in ("required", "function")


@dataclass(frozen=True)
class ToolRequest:
    """The tools offered for one reply and how the model must use them. Front ends check a
    client's request with :func:`voicecli.llm.tool_checks.check_tool_request` before passing it
    on (the adapters assume names and schemas within its limits)."""

    tools: tuple[ToolSpec, ...]
    choice: ToolChoice = ToolChoice()
    parallel_calls: bool | None = None
    """OpenAI's ``parallel_tool_calls``; passed through to remote servers. The in-process model
    makes at most one call per reply."""

    def candidates(self) -> tuple[ToolSpec, ...]:
        """The tools a forced call may pick (all for ``required``, the named one otherwise)."""
        if self.choice.mode == "function":
            return tuple(t for t in self.tools if t.name == self.choice.name)
        return self.tools if self.choice.mode == "required" else ()


@dataclass(frozen=True)
class ToolCall:
    """A call the model made. ``arguments`` is JSON text, as OpenAI sends it."""

    id: str
    name: str
    arguments: str = "{}"

    def parsed_arguments(self) -> object:
        """The arguments decoded (raises ``ValueError`` if the model wrote invalid JSON)."""
        return json.loads(self.arguments)


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply's text."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of call number ``index`` (counted in this reply): its first delta carries ``id``
    and ``name``, later ones only ``arguments`` text to append (OpenAI's streaming shape)."""

    index: int
    arguments: str = ""
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class ReplyEnded:
    """The last event of every reply."""

    finish_reason: FinishReason
    completion_tokens: int | None = None
    """Tokens generated, when the backend knows them."""


ReplyDelta = TextDelta | ToolCallDelta | ReplyEnded


@dataclass
class ToolCallAssembler:
    """Joins :class:`ToolCallDelta`\\ s into :class:`ToolCall`\\ s (in index order)."""

    _parts: dict[int, list[str]] = field(default_factory=dict)
    _heads: dict[int, tuple[str, str]] = field(default_factory=dict)

    def add(self, delta: ToolCallDelta) -> None:
        parts = self._parts.setdefault(delta.index, [])
        if delta.id is not None or delta.name is not None:
            old_id, old_name = self._heads.get(delta.index, ("", ""))
            self._heads[delta.index] = (delta.id or old_id, delta.name or old_name)
        parts.append(delta.arguments)

    def calls(self) -> list[ToolCall]:
        out = []
        for index in sorted(self._parts):
            call_id, name = self._heads.get(index, ("", ""))
            out.append(ToolCall(call_id or new_call_id(), name, "".join(self._parts[index])))
        return out


def text_reply(deltas: Iterable[str], max_tokens: int) -> Iterator[ReplyDelta]:
    """A text-only stream (``ChatModel.stream``) as reply events; one delta counts as one
    token, and reaching ``max_tokens`` means the reply was cut (``length``)."""
    count = 0
    iterator = iter(deltas)
    try:
        for text in iterator:
            count += 1
            yield TextDelta(text)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # closing this stream cancels the generation
    yield ReplyEnded("length" if count >= max_tokens else "stop", count)


def text_of(replies: Generator[ReplyDelta, None, None]) -> Iterator[str]:
    """Only the text deltas of a reply (``ChatModel.stream``); closing this closes ``replies``,
    which cancels the generation."""
    try:
        for event in replies:
            if isinstance(event, TextDelta):
                yield event.text
    finally:
        replies.close()


@dataclass(frozen=True)
class ToolOutcome:
    """What running one call gave: ``output`` is the text handed back to the model (a
    ``tool`` message), ``error`` True when the tool failed (``output`` then says why)."""

    call: ToolCall
    output: str
    error: bool = False
    elapsed_ms: float = 0.0


class ToolRunner(Protocol):
    """Tools that run on this machine (talk's built-in tools and MCP servers). The pipeline asks
    :meth:`request` before each reply and, when the model calls one, :meth:`run` on a worker
    thread, then lets the model answer with the result. Without a runner (the realtime server)
    a call ends the reply and is handed to the client."""

    def request(self) -> ToolRequest | None:
        """The tools offered for the next reply (None: none)."""
        ...

    def run(self, call: ToolCall, timeout_s: float) -> ToolOutcome:
        """Run ``call`` (blocking, at most ``timeout_s``); never raises for a tool's own failure
        (that is an outcome with ``error=True``)."""
        ...
