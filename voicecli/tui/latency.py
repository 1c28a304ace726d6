"""A turn's latency figures for people: the stages in pipeline order with their labels, packed
into lines that break only between stages. The live screen's exit summary and ``voicecli
history`` print them the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

LATENCY_STAGES = (("endpoint_wait", "endpoint"), ("stt", "stt"), ("stt_wait", "stt wait"),
                  ("llm_first_token", "llm 1st token"), ("tts_first_audio", "tts 1st audio"),
                  ("voice_to_voice", "voice-to-voice"))
"""``Latency`` field (``latency_ms`` key) and label, in the order the stages run."""
LEAD = "  latency: "


def latency_items(latency_ms: Mapping[str, float | None]) -> list[str]:
    """``["endpoint 400 ms", …, "voice-to-voice 910 ms"]``; stages that did not run are left out."""
    return [f"{label} {latency_ms[key]:,.0f} ms" for key, label in LATENCY_STAGES if latency_ms.get(key) is not None]


def pack(items: Sequence[str], width: int, separator: str = " · ") -> list[str]:
    """Join ``items`` with ``separator`` into lines of at most ``width`` characters, breaking only
    between items (an item wider than ``width`` gets a line of its own)."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + len(separator) + len(item) <= width:
            lines[-1] += separator + item
        else:
            lines.append(item)
    return lines


def latency_lines(latency_ms: Mapping[str, float | None], width: int) -> list[str]:
    """``  latency: endpoint 400 ms · stt 120 ms …`` wrapped to ``width`` with a hanging indent;
    no lines when no stage ran."""
    packed = pack(latency_items(latency_ms), max(width - len(LEAD), 20))
    return [(LEAD if i == 0 else " " * len(LEAD)) + line for i, line in enumerate(packed)]
