"""Fitting free text into a width: cut after a whole word, with "…" whenever anything was left out."""

from __future__ import annotations


def clip_words(text: str, max_chars: int) -> str:
    """``text`` (whitespace collapsed) in at most ``max_chars``: cut after a whole word, with "…"
    whenever anything was left out. Only a single word longer than that is cut inside."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    if max_chars <= 1:
        return "…"[:max_chars]
    cut = text[:max_chars - 1]
    if text[max_chars - 1] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"
