"""Tool calls and results as short text (the talk screen, --plain, ``voicecli history``)."""

from __future__ import annotations

import json
from typing import Any

RESULT_MAX_CHARS = 160


def describe_args(arguments: str, limit: int = 80) -> str:
    """A call's arguments in one short line: ``minutes=2, text="tea"``."""
    try:
        value: Any = json.loads(arguments or "{}")
    except ValueError:
        return arguments[:limit]
    if isinstance(value, dict):
        text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in value.items())
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def call_line(name: str, arguments: str, output: str | None = None, error: bool = False) -> str:
    """``name(args) → result`` (``… `` while it runs, ``failed: why`` when it failed)."""
    head = f"{name}({describe_args(arguments)})"
    if output is None:
        return head + " …"
    result = " ".join(output.split())
    if len(result) > RESULT_MAX_CHARS:
        result = result[:RESULT_MAX_CHARS - 1] + "…"
    return f"{head} {'failed: ' if error else '→ '}{result}"
