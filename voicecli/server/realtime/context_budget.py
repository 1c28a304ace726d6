"""What of a realtime session's text reaches the LLM: the system prompt (instructions, then the
system items the client added) and the user input of the next response, cut to the LLM's history
budget *before* the pipeline tokenises anything. Tokens are counted newest first, on slices no
longer than the budget could hold, so the work per response is bounded by the budget and not by
how much text a client sent (2000 items once cost 110 s of tokenising before failing). Pure: the
token counter is passed in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from voicecli.server.realtime.options import system_prompt

Count = Callable[[str], int]

MAX_CHARS_PER_TOKEN = 8
"""Text longer than ``budget × this`` cannot fit and is cut before it is tokenised (ordinary text
runs 3–5 characters per token; a conservative bound only makes us keep a little less)."""
SHRINK_TRIES = 4
"""Proportional re-cuts of a slice that still has too many tokens."""
SYSTEM_SHARE = 0.5
"""The system prompt gets at most this share of the budget; the user's input the rest."""
RESERVE_TOKENS = 16
"""Room for the chat template around the messages."""
PARTIAL_WORD_CHARS = 32
"""A cut that lands inside a word drops that word's remnant if it is at most this long."""


@dataclass(frozen=True)
class SystemPrompt:
    instructions: str
    items: tuple[str, ...]
    """The system items that fit, oldest first."""
    tokens: int

    @property
    def text(self) -> str:
        return system_prompt(self.instructions, self.items)


def fit(text: str, budget_tokens: int, count: Count, keep_end: bool) -> tuple[str, int]:
    """The longest prefix (or, ``keep_end``, suffix) of ``text`` found within ``budget_tokens``,
    and its token count; ``("", 0)`` if nothing fits. At most ``budget × MAX_CHARS_PER_TOKEN``
    characters are ever tokenised, a few times over."""
    if budget_tokens <= 0 or not text:
        return "", 0
    limit = budget_tokens * MAX_CHARS_PER_TOKEN
    cut = _cut(text, limit, keep_end)
    for _ in range(SHRINK_TRIES):
        tokens = count(cut)
        if tokens <= budget_tokens:
            return cut, tokens
        cut = _cut(cut, int(len(cut) * budget_tokens / tokens * 0.95), keep_end)
        if not cut:
            break
    return "", 0


def _cut(text: str, chars: int, keep_end: bool) -> str:
    if len(text) <= chars:
        return text
    if chars <= 0:
        return ""
    if keep_end:
        cut = text[-chars:]
        space = cut.find(" ")
        return cut[space + 1:] if 0 <= space < PARTIAL_WORD_CHARS else cut
    cut = text[:chars]
    space = cut.rfind(" ")
    return cut[:space] if len(cut) - PARTIAL_WORD_CHARS < space else cut


def newest_within(pieces: Sequence[str], budget_tokens: int, count: Count) -> tuple[list[str], int]:
    """The newest ``pieces`` (kept in order) within ``budget_tokens`` together; the oldest one kept
    may be cut to its end. Pieces older than the budget reaches are never tokenised."""
    kept: list[str] = []
    left = budget_tokens
    for piece in reversed(pieces):
        text, tokens = fit(piece, left, count, keep_end=True)
        if not text:
            break
        kept.append(text)
        left -= tokens + 1  # the separator
        if text != piece:
            break
    kept.reverse()
    return kept, budget_tokens - left


class PromptBudget:
    """Cuts a session's prompt text to ``budget_tokens`` (the pipeline's history budget)."""

    def __init__(self, budget_tokens: int, count: Count) -> None:
        self.budget_tokens = budget_tokens
        self._count = count

    def system(self, instructions: str, items: Sequence[str]) -> SystemPrompt:
        """The instructions (their beginning if they alone are too long), then the newest system
        items that still fit, within :data:`SYSTEM_SHARE` of the budget."""
        budget = int(self.budget_tokens * SYSTEM_SHARE)
        head, used = fit(instructions, budget, self._count, keep_end=False)
        kept, item_tokens = newest_within([i for i in items if i], budget - used, self._count)
        return SystemPrompt(head, tuple(kept), used + item_tokens)

    def user(self, pieces: Sequence[str], system_tokens: int) -> str:
        """The newest user input that fits beside a system prompt of ``system_tokens``."""
        budget = self.budget_tokens - system_tokens - RESERVE_TOKENS
        kept, _ = newest_within([p for p in pieces if p.strip()], budget, self._count)
        return "\n".join(kept)
