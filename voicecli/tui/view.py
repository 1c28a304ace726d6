"""The talk screen's state (updated from events) and its Rich rendering, for any terminal size
from 80×24 up. The conversation is wrapped, never clipped: the newest line stays in view and
older ones are a scroll away (↑/↓, PgUp/PgDn). Pure: state in, renderable out."""

from __future__ import annotations

import statistics
import textwrap
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
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
    ToolCalled,
    ToolFinished,
    TurnCompleted,
    TurnRecord,
    UserPartialTranscript,
    UserSpeechStarted,
    UserTranscribed,
    UserTurnDiscarded,
    WakeChanged,
)
from voicecli.tools.display import call_line
from voicecli.tui.latency import latency_lines
from voicecli.tui.text_input import LineEditor
from voicecli.tui.textfit import clip_words

STATE_STYLE = {AssistantState.LISTENING: "green", AssistantState.HEARING: "bold cyan",
               AssistantState.THINKING: "yellow", AssistantState.SPEAKING: "magenta"}
PTT_WAITING = "press space to talk"
"""What the state line says in push-to-talk mode while the microphone is closed."""
LABEL_WIDTH = len(PTT_WAITING) + 1
HEAD_ROWS = 4
LATENCY_ROWS = 6
INPUT_ROWS = 3
FOOTER_ROWS = 1
SPARE_ROWS = 1
"""Left free at the bottom, so a terminal that scrolls on its last line never does."""
CONVERSATION_MIN_ROWS = 5
PANEL_CHROME_COLUMNS = 4
"""A panel's borders and padding, left and right."""
SPEAKERS = {"you": ("you: ", "bold cyan"), "assistant": ("bot: ", "magenta"), "tool": ("tool: ", "yellow")}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


@dataclass(frozen=True)
class Message:
    """One line of the transcript."""

    speaker: str
    """"you", "assistant" or "tool"."""
    text: str
    turn: int
    call_id: str | None = None
    """A tool line: the call it shows (its result replaces the "…")."""


@dataclass
class TalkView:
    state: AssistantState = AssistantState.LISTENING
    level_dbfs: float = -100.0
    muted: bool = False
    lines: list[Message] = field(default_factory=list)
    """The transcript, in turn order (a reply cut short by the next question stays under its own)."""
    partial_reply: str = ""
    partial_turn: int = 0
    hearing: tuple[str, str] = ("", "")
    """The live partial transcript of what the user is saying: (stable, unstable) words."""
    """The turn ``partial_reply`` belongs to (deltas of an older, interrupted turn are dropped)."""
    turns: list[TurnRecord] = field(default_factory=list)
    notice: str = ""
    models: dict[str, str] = field(default_factory=dict)
    keys_help: str = "space: interrupt  m: mute  ↑↓: scroll  q: quit"
    ptt_open: bool | None = None
    """Push-to-talk: None when off, False while waiting for space, True while the microphone is open."""
    input: LineEditor | None = None
    """``--text``: the line being typed (None when the input is speech)."""
    awake: bool | None = None
    """``--wake-word``: awake (True) or asleep (False); None without a wake word."""
    scroll: int = 0
    """Lines scrolled back from the newest (0 = following the conversation)."""

    def apply(self, ev: Event) -> None:
        if isinstance(ev, StateChanged):
            self.state = ev.state
            if ev.state is AssistantState.LISTENING:  # the utterance was dropped (too short, no words)
                self.hearing = ("", "")
        elif isinstance(ev, LevelMeasured):
            self.level_dbfs, self.muted = ev.dbfs, ev.muted
        elif isinstance(ev, UserPartialTranscript):
            self.hearing = (ev.stable, ev.unstable)
        elif isinstance(ev, UserSpeechStarted | UserTurnDiscarded):
            self.hearing = ("", "")
        elif isinstance(ev, UserTranscribed):
            self.hearing = ("", "")
            self.lines.append(Message("you", f"[{ev.language}] {ev.text}" if ev.language else ev.text, ev.turn))
            self.partial_reply = ""
        elif isinstance(ev, ReplyDelta):
            if ev.turn > self.partial_turn:
                self.partial_reply, self.partial_turn = "", ev.turn
            if ev.turn == self.partial_turn:
                self.partial_reply += ev.text
        elif isinstance(ev, ReplyInterrupted):
            self.notice = f"interrupted ({ev.reason})"
        elif isinstance(ev, TurnCompleted):
            rec = ev.record
            self.turns.append(rec)
            text = (rec.assistant or "[no reply]") + (" [interrupted]" if rec.interrupted else "")
            later = next((i for i, m in enumerate(self.lines) if m.turn > rec.turn), len(self.lines))
            self.lines.insert(later, Message("assistant", text, rec.turn))
            if rec.turn >= self.partial_turn:
                self.partial_reply = ""
        elif isinstance(ev, ToolCalled):
            self.lines.append(Message("tool", call_line(ev.call.name, ev.call.arguments), ev.turn, ev.call.id))
        elif isinstance(ev, ToolFinished):
            o = ev.outcome
            line = Message("tool", call_line(o.call.name, o.call.arguments, o.output, o.error), ev.turn, o.call.id)
            at = next((i for i, m in enumerate(self.lines) if m.call_id == o.call.id), None)
            if at is None:
                self.lines.append(line)
            else:
                self.lines[at] = line
        elif isinstance(ev, NoticeRaised):
            self.notice = ev.message
        elif isinstance(ev, PipelineFailed):
            self.notice = f"error: {ev.message}"
        elif isinstance(ev, SessionStarted):
            self.models = ev.models
        elif isinstance(ev, WakeChanged):
            self.awake = ev.awake
            self.notice = f"awake ({ev.reason})" if ev.awake else "asleep: say the wake word"

    def scroll_by(self, lines: int, limit: int) -> None:
        """Scroll back (positive) or forward, within ``limit`` (see :func:`scroll_limit`)."""
        self.scroll = max(0, min(self.scroll + lines, limit))

    @property
    def v2v(self) -> list[float]:
        return [t.latency.voice_to_voice for t in self.turns if t.latency.voice_to_voice is not None]


# ---------------------------------------------------------------- layout

def conversation_rows(view: TalkView, height: int) -> int:
    """Lines of text the conversation panel shows in a terminal ``height`` rows tall."""
    fixed = HEAD_ROWS + LATENCY_ROWS + FOOTER_ROWS + SPARE_ROWS + (INPUT_ROWS if view.input is not None else 0)
    return max(CONVERSATION_MIN_ROWS, height - fixed) - 2


def wrap_conversation(view: TalkView, width: int) -> list[Text]:
    """Every message, oldest first, word-wrapped to ``width`` with a hanging indent under its speaker."""
    entries = [(m.speaker, m.text) for m in view.lines]
    stable, unstable = view.hearing
    if view.partial_reply.strip():
        entries.append(("assistant", view.partial_reply.strip() + " ▍"))
    live = len(entries) if stable or unstable else -1
    if live >= 0:  # what the user is saying, live (in italics until it is transcribed)
        entries.append(("you", f"{stable} {unstable}".strip() + " …"))
    out: list[Text] = []
    for n, (who, text) in enumerate(entries):
        prefix, style = SPEAKERS.get(who, ("", "dim"))
        wrapped = textwrap.wrap(" ".join(text.split()), max(width, len(prefix) + 10), initial_indent=prefix,
                                subsequent_indent=" " * len(prefix), break_on_hyphens=False) or [prefix]
        for i, line in enumerate(wrapped):
            rendered = Text(line, style="" if who in SPEAKERS else style)
            if i == 0 and prefix:
                rendered.stylize(style, 0, len(prefix))
            if n == live:
                rendered.stylize("italic")
            out.append(rendered)
    return out


def scroll_limit(view: TalkView, width: int, height: int) -> int:
    """How far back the conversation can be scrolled in a ``width``×``height`` terminal."""
    total = len(wrap_conversation(view, width - PANEL_CHROME_COLUMNS))
    return max(0, total - conversation_rows(view, height))


# ---------------------------------------------------------------- rendering

def _meter(dbfs: float, width: int = 24) -> Text:
    filled = int(max(0.0, min(1.0, (dbfs + 60) / 60)) * width)
    bar = Text("█" * filled, style="green" if filled < width * 0.8 else "red")
    bar.append("░" * (width - filled), style="dim")
    return bar


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def _state_line(view: TalkView) -> Text:
    head = Text()
    if view.ptt_open is False and view.state == AssistantState.LISTENING:
        head.append(" ○ ", style="bold yellow")
        head.append(PTT_WAITING.ljust(LABEL_WIDTH), style="bold yellow")
    elif view.awake is False and view.state in (AssistantState.LISTENING, AssistantState.HEARING):
        head.append(" ◌ ", style="blue")
        head.append("ASLEEP".ljust(LABEL_WIDTH), style="bold blue")
    else:
        style = STATE_STYLE[view.state]
        label = "ready" if view.input is not None and view.state == AssistantState.LISTENING else view.state.value
        head.append(" ● ", style=style)
        head.append(label.upper().ljust(LABEL_WIDTH), style=style)
    if view.input is not None:
        head.append(" typed input (no microphone)", style="dim")
        return head
    head.append(" mic ")
    head.append(_meter(view.level_dbfs) if not view.muted else Text("MUTED".ljust(24), style="bold red"))
    head.append(f" {view.level_dbfs:5.0f} dBFS")
    return head


def _conversation(view: TalkView, width: int, rows: int) -> Panel:
    lines = wrap_conversation(view, width - PANEL_CHROME_COLUMNS)
    scroll = min(view.scroll, max(0, len(lines) - rows))
    end = len(lines) - scroll
    shown = lines[max(0, end - rows):end]
    title = "conversation"
    if end - len(shown) > 0:
        title += f" · {end - len(shown)} more above (↑/PgUp)"
    if scroll:
        title += f" · {scroll} newer below (↓/End)"
    if shown:
        body: RenderableType = Text("\n").join(shown)
    else:
        hint = ("Type a message below." if view.input is not None
                else "Press space, talk, press space again." if view.ptt_open is not None else "Say something.")
        body = Text(hint, style="dim")
    return Panel(body, title=title, title_align="left", height=rows + 2, padding=(0, 1))


def _input(view: TalkView, width: int) -> Panel:
    assert view.input is not None
    room = max(10, width - PANEL_CHROME_COLUMNS - 1)
    typed = ("> " + view.input.text)[-room:]
    body = Text(typed, style="bold")
    body.append("▏", style="blink")
    return Panel(body, title="message · Enter sends (and interrupts a reply)", title_align="left", height=INPUT_ROWS,
                 padding=(0, 1))


def _latency_table(view: TalkView) -> Table:
    lat = Table(box=None, padding=(0, 1), expand=False, header_style="bold")
    for col in ("turn", "endpoint", "stt", "llm 1st", "tts 1st", "voice→voice"):
        lat.add_column(col, justify="right")
    for t in view.turns[-3:]:
        la = t.latency
        lat.add_row(str(t.turn), _ms(la.endpoint_wait), _ms(la.stt), _ms(la.llm_first_token),
                    _ms(la.tts_first_audio), _ms(la.voice_to_voice))
    return lat


def _footer(view: TalkView, width: int) -> Text:
    footer = Text(f" {view.keys_help}", style="dim")
    room = width - len(footer) - 4
    if view.notice and room >= 10:
        footer.append(f"   {clip_words(view.notice, room)}", style="yellow")
    return footer


def render(view: TalkView, height: int = 24, width: int = 80) -> Group:
    head = _state_line(view)
    p50, p95 = percentile(view.v2v, 50), percentile(view.v2v, 95)
    head.append(f"\n voice-to-voice p50 {_ms(p50)} ms · p95 {_ms(p95)} ms · turns {len(view.turns)}")
    parts: list[RenderableType] = [Panel(head, title="voicecli talk", title_align="left", padding=(0, 0)),
                                   _conversation(view, width, conversation_rows(view, height))]
    if view.input is not None:
        parts.append(_input(view, width))
    parts += [Panel(_latency_table(view), title="latency (ms)", title_align="left", padding=(0, 0),
                    height=LATENCY_ROWS),
              _footer(view, width)]
    return Group(*parts)


def transcript(view: TalkView, width: int) -> list[Text]:
    """What is printed when the screen closes (q, Ctrl-C or the end of the input): every message
    whole, each reply followed by its latency figures; a reply cut off by quitting is marked."""
    out: list[Text] = []
    records = {t.turn: t for t in view.turns}
    for m in view.lines:
        out.append(Text.assemble((f"{m.speaker}:", "bold"), " ", m.text))
        record = records.get(m.turn) if m.speaker == "assistant" else None
        if record is not None:
            out += [Text(line, style="dim") for line in latency_lines(record.latency.as_dict(), width)]
    if view.partial_reply.strip():
        out.append(Text.assemble(("assistant:", "bold"), " ", view.partial_reply.strip(), " [cut off]"))
    return out
