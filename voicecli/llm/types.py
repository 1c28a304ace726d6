"""The chat vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Literal, Protocol, Sequence

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


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
    name: str

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        """Yield text deltas. Closing the generator cancels generation."""
        ...

    def count_tokens(self, text: str) -> int:
        ...


def trim_history(system: ChatMessage, turns: Sequence[ChatMessage], budget_tokens: int,
                 count: Callable[[str], int]) -> list[ChatMessage]:
    """Keep the system prompt and the newest messages within ``budget_tokens``; the oldest
    user/assistant pairs go first. The latest message is always kept."""
    used = count(system.content)
    kept: list[ChatMessage] = []
    for msg in reversed(turns):
        cost = count(msg.content) + 4
        if kept and used + cost > budget_tokens:
            break
        kept.append(msg)
        used += cost
    kept.reverse()
    while len(kept) > 1 and kept[0].role == "assistant":
        kept.pop(0)
    return [system, *kept]
