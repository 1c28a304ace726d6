"""The chat vocabulary: messages, generation options, and the :class:`ChatModel` seam.
Tools (specs, choices, calls, reply events) are in :mod:`voicecli.llm.tools`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from voicecli.llm.tools import ReplyDelta, ToolCall, ToolRequest

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    """Calls an assistant message made (its ``content`` may then be empty)."""
    tool_call_id: str | None = None
    """For a ``tool`` message: the call whose result ``content`` is."""


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 96
    temperature: float = 0.3
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamEnd:
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


class ChatModel(Protocol):
    """A chat LLM (``LlamaChat`` in process, ``OpenAIChat`` over HTTP). Blocking calls; the
    caller chooses the thread."""

    name: str

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        """Yield text deltas. Closing the generator cancels generation."""
        ...

    def stream_reply(self, messages: Sequence[ChatMessage], options: GenerationOptions,
                     tools: ToolRequest | None = None) -> Iterator[ReplyDelta]:
        """Yield the reply as :class:`TextDelta` and :class:`ToolCallDelta` events, then one
        :class:`ReplyEnded`. With ``tools`` the model may (``auto``) or must (``required``, a
        named function) call one; ``messages`` may hold earlier calls and ``tool`` results.
        Raises :class:`ToolSchemaError` before the first event if a forced call's schema cannot
        be enforced. Closing the generator cancels generation."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the model's context (an estimate for remote models)."""
        ...

    def warm_up(self, system_prompt: str) -> None:
        """Evaluate ``system_prompt`` once so the first reply starts from a warm cache."""
        ...


def message_tokens(msg: ChatMessage, count: Callable[[str], int]) -> int:
    """About what ``msg`` takes in the prompt: its text, its calls, and the template's framing."""
    return count(msg.content) + sum(count(c.name) + count(c.arguments) + 4 for c in msg.tool_calls) + 4


def trim_history(system: ChatMessage, turns: Sequence[ChatMessage], budget_tokens: int,
                 count: Callable[[str], int]) -> list[ChatMessage]:
    """Keep the system prompt and the newest messages within ``budget_tokens``; the oldest
    user/assistant pairs go first. The latest message is always kept."""
    used = count(system.content)
    kept: list[ChatMessage] = []
    for msg in reversed(turns):
        cost = message_tokens(msg, count)
        if kept and used + cost > budget_tokens:
            break
        kept.append(msg)
        used += cost
    kept.reverse()
    while len(kept) > 1 and kept[0].role in ("assistant", "tool"):
        kept.pop(0)
    return [system, *kept]


def messages_to_forget(system: ChatMessage, turns: Sequence[ChatMessage], budget_tokens: int,
                       count: Callable[[str], int]) -> int:
    """How many of the oldest messages to drop for good. Nothing while the history fits the
    budget; once it overflows, enough to come back to half the budget. Dropping in such steps
    keeps the prompt's prefix the same from turn to turn, so llama.cpp reuses its KV cache
    instead of re-reading the whole history every turn (seen as multi-second first tokens)."""
    costs = [message_tokens(m, count) for m in turns]
    total = count(system.content) + sum(costs)
    if total <= budget_tokens:
        return 0
    target = budget_tokens // 2
    drop = 0
    while drop < len(turns) - 1 and total > target:
        total -= costs[drop]
        drop += 1
    while drop < len(turns) - 1 and turns[drop].role in ("assistant", "tool"):
        drop += 1
    return drop
