"""--plain (readable lines) and --json (one JSON object per line) renderers."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from voicecli.pipeline.events import (
    Event,
    LevelMeasured,
    NoticeRaised,
    PipelineFailed,
    ReplyDelta,
    ReplyInterrupted,
    SessionStarted,
    StateChanged,
    ToolCalled,
    ToolFinished,
    TurnCompleted,
    UserTranscribed,
    WakeChanged,
    event_to_json,
)
from voicecli.tools.display import call_line


class JsonPrinter:
    def __init__(self, out: TextIO = sys.stdout, levels: bool = False) -> None:
        self.out = out
        self.levels = levels

    def __call__(self, ev: Event) -> None:
        if isinstance(ev, (LevelMeasured, ReplyDelta)) and not self.levels:
            return
        obj = event_to_json(ev)
        if obj is None:
            return
        self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.out.flush()


class PlainPrinter:
    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    def __call__(self, ev: Event) -> None:
        line = None
        if isinstance(ev, StateChanged):
            line = f"[{ev.state.value}]"
        elif isinstance(ev, UserTranscribed):
            line = f"you [{ev.language}]: {ev.text}" if ev.language else f"you: {ev.text}"
        elif isinstance(ev, TurnCompleted):
            r = ev.record
            la = r.latency
            lat = " ".join(f"{k}={v:.0f}ms" for k, v in la.as_dict().items() if v is not None)
            line = f"assistant: {r.assistant}{' [interrupted]' if r.interrupted else ''}\n  latency: {lat}"
        elif isinstance(ev, ReplyInterrupted):
            line = f"[interrupted by {ev.reason}]"
        elif isinstance(ev, ToolCalled):
            line = f"tool: {call_line(ev.call.name, ev.call.arguments)}"
        elif isinstance(ev, ToolFinished):
            o = ev.outcome
            line = f"tool: {call_line(o.call.name, o.call.arguments, o.output, o.error)}"
        elif isinstance(ev, NoticeRaised):
            line = f"note: {ev.message}"
        elif isinstance(ev, WakeChanged):
            line = f"[awake: {ev.reason}]" if ev.awake else "[asleep]"
        elif isinstance(ev, PipelineFailed):
            line = f"error: {ev.message}"
        elif isinstance(ev, SessionStarted):
            models = ", ".join(f"{k}={v}" for k, v in ev.models.items())
            line = f"session {ev.session_id or '(not saved)'} · {models}"
        if line is not None:
            self.out.write(line + "\n")
            self.out.flush()
