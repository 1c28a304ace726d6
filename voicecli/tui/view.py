"""The talk screen's state (updated from events) and its Rich rendering. Fits 80×24."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from voicecli.pipeline.events import (
    AssistantState,
    Event,
    LevelMeasured,
    NoticeRaised,
    PipelineFailed,
    ReplyDelta,
    ReplyInterrupted,
    SessionStarted,
    StateChanged,
    TurnCompleted,
    TurnRecord,
    UserTranscribed,
)

STATE_STYLE = {AssistantState.LISTENING: "green", AssistantState.HEARING: "bold cyan",
               AssistantState.THINKING: "yellow", AssistantState.SPEAKING: "magenta"}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


@dataclass
class TalkView:
    state: AssistantState = AssistantState.LISTENING
    level_dbfs: float = -100.0
    muted: bool = False
    lines: list[tuple[str, str]] = field(default_factory=list)
    """(speaker, text) for the transcript; speaker is "you", "assistant" or "note"."""
    partial_reply: str = ""
    turns: list[TurnRecord] = field(default_factory=list)
    notice: str = ""
    models: dict[str, str] = field(default_factory=dict)
    keys_help: str = "space: interrupt  m: mute  q: quit"

    def apply(self, ev: Event) -> None:
        if isinstance(ev, StateChanged):
            self.state = ev.state
        elif isinstance(ev, LevelMeasured):
            self.level_dbfs, self.muted = ev.dbfs, ev.muted
        elif isinstance(ev, UserTranscribed):
            self.lines.append(("you", ev.text))
            self.partial_reply = ""
        elif isinstance(ev, ReplyDelta):
            self.partial_reply += ev.text
        elif isinstance(ev, ReplyInterrupted):
            self.notice = f"interrupted ({ev.reason})"
        elif isinstance(ev, TurnCompleted):
            rec = ev.record
            self.turns.append(rec)
            text = rec.assistant + (" [interrupted]" if rec.interrupted else "")
            self.lines.append(("assistant", text))
            self.partial_reply = ""
        elif isinstance(ev, NoticeRaised):
            self.notice = ev.message
        elif isinstance(ev, PipelineFailed):
            self.notice = f"error: {ev.message}"
        elif isinstance(ev, SessionStarted):
            self.models = ev.models

    @property
    def v2v(self) -> list[float]:
        return [t.latency.voice_to_voice for t in self.turns if t.latency.voice_to_voice is not None]


def _meter(dbfs: float, width: int = 24) -> Text:
    filled = int(max(0.0, min(1.0, (dbfs + 60) / 60)) * width)
    bar = Text("█" * filled, style="green" if filled < width * 0.8 else "red")
    bar.append("░" * (width - filled), style="dim")
    return bar


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def render(view: TalkView, height: int = 24) -> Group:
    head = Text()
    head.append(" ● ", style=STATE_STYLE[view.state])
    head.append(view.state.value.upper().ljust(12), style=STATE_STYLE[view.state])
    head.append(" mic ")
    head.append(_meter(view.level_dbfs) if not view.muted else Text("MUTED".ljust(24), style="bold red"))
    head.append(f" {view.level_dbfs:5.0f} dBFS")
    p50, p95 = percentile(view.v2v, 50), percentile(view.v2v, 95)
    head.append(f"\n voice-to-voice p50 {_ms(p50)} ms · p95 {_ms(p95)} ms · turns {len(view.turns)}")

    convo = Text()
    lines = list(view.lines)
    if view.partial_reply:
        lines.append(("assistant", view.partial_reply + " …"))
    for who, text in lines[-6:]:
        style = "bold cyan" if who == "you" else "magenta"
        convo.append(f"{'you' if who == 'you' else 'bot'}: ", style=style)
        convo.append(_clip(text, 300) + "\n")
    convo.rstrip()

    lat = Table(box=None, padding=(0, 1), expand=False, header_style="bold")
    for col in ("turn", "endpoint", "stt", "llm 1st", "tts 1st", "voice→voice"):
        lat.add_column(col, justify="right")
    for t in view.turns[-3:]:
        la = t.latency
        lat.add_row(str(t.turn), _ms(la.endpoint_wait), _ms(la.stt), _ms(la.llm_first_token),
                    _ms(la.tts_first_audio), _ms(la.voice_to_voice))

    footer = Text(f" {view.keys_help}", style="dim")
    if view.notice:
        footer.append(f"   {_clip(view.notice, 40)}", style="yellow")
    return Group(Panel(head, title="voicecli talk", title_align="left", padding=(0, 0)),
                 Panel(convo or Text("Say something…", style="dim"), title="conversation",
                       title_align="left", height=max(5, height - 14), padding=(0, 1)),
                 Panel(lat, title="latency (ms)", title_align="left", padding=(0, 0), height=6),
                 footer)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
