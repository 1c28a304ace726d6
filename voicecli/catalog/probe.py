"""A quick speed probe for ``voicecli models --available --probe``: the installed default LLM
(the bundled SmolLM2-135M, ~0.1 GB) generates a few dozen tokens, and its decode rate is scaled
to every catalogue GGUF by file size. Decoding on a CPU reads every weight once per token, so it
is roughly bound by memory bandwidth and the rate falls in proportion to the model's size. An
estimate, not a measurement: a tiny model's fixed per-token cost makes it pessimistic for big
ones, and other work on the machine slows the probe (``voicecli bench`` measures a real model)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicecli.catalog.resolve import ManifestEntry, ModelResolver
    from voicecli.config import Settings

PROBE_TOKENS = 48
PROBE_PROMPT = "Count from one to fifty in words, separated by commas."


@dataclass(frozen=True)
class Probe:
    model: str
    size_bytes: int
    tokens_per_s: float
    """Decode rate measured on ``model`` (after its first token: prompt time excluded)."""

    def estimate(self, entry: ManifestEntry) -> float | None:
        """Expected decode tokens/s of a catalogue LLM (None: not an LLM, or size unknown)."""
        if entry.kind != "llm":
            return None
        if entry.name == self.model:
            return self.tokens_per_s
        if not entry.size_mb:
            return None
        return self.tokens_per_s * self.size_bytes / (entry.size_mb * 1_000_000)


def probe(settings: Settings, res: ModelResolver) -> Probe:
    from voicecli.llm.llama import LlamaChat
    from voicecli.llm.tools import ReplyEnded, TextDelta
    from voicecli.llm.types import ChatMessage, GenerationOptions

    model = res.resolve("llm", None)
    chat = LlamaChat(str(model.path), model.name, threads=settings.llm.threads, context_tokens=512)
    first = last = 0.0
    tokens = 0
    options = GenerationOptions(max_tokens=PROBE_TOKENS, temperature=0.0)
    for event in chat.stream_reply([ChatMessage("user", PROBE_PROMPT)], options):
        if isinstance(event, TextDelta):
            last = time.perf_counter()
            first = first or last
        elif isinstance(event, ReplyEnded):
            tokens = event.completion_tokens or 0
    rate = (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0
    return Probe(model.name, model.size_bytes, rate)
