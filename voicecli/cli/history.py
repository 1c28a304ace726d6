"""``voicecli history``: list saved sessions, or show one session's transcript with every
latency stage."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voicecli.cli.common import HistoryPathOpt, JsonOpt, VerboseOpt, handle_errors, out_console, settings_from
from voicecli.errors import VoicecliError

if TYPE_CHECKING:
    from voicecli.pipeline.history import HistoryStore, SessionSummary

FIRST_WORDS_MAX_CHARS = 40
"""How much of each session's first question the listing shows (cut after a word, with "…")."""
CANDIDATES_SHOWN = 10
"""An ambiguous id prefix lists at most this many of the sessions it matches."""


def register(app: typer.Typer) -> None:
    app.command("history")(history)


def history(
    session: Annotated[str | None, typer.Argument(
        metavar="SESSION", help="Session id (or a unique prefix, or 'last') to show.")] = None,
    path: HistoryPathOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List conversations, or print one conversation's transcript with latencies."""
    from voicecli.config import history_db_path
    from voicecli.pipeline.history import HistoryStore

    with handle_errors(verbose):
        settings = settings_from({"history.path": str(path) if path else None}).settings
        db = history_db_path(settings.history)
        if not db.exists():
            raise VoicecliError(f"no history yet at {db}", "talk first, or pass --history PATH")
        store = HistoryStore(db)
        if session is None:
            rows = store.sessions()
            if json_out:
                out_console.print_json(json.dumps([dataclasses.asdict(r) for r in rows]))
                return
            _print_sessions(rows)
            return
        sid = _find(store, session)
        turns = store.turns(sid)
        if json_out:
            out_console.print_json(json.dumps({"session": sid, "turns": turns}))
            return
        _print_transcript(sid, store.sessions(limit=1, prefix=sid), turns)


def _find(store: HistoryStore, session: str) -> str:
    """The one session ``session`` names; else an error that lists what it could mean."""
    from voicecli.cli.common import err_console

    sid = store.find_session(session)
    if sid is not None:
        return sid
    candidates = [] if session == "last" else store.sessions(limit=CANDIDATES_SHOWN + 1, prefix=session)
    if not candidates:
        raise VoicecliError(f"no session matches '{session}'", "run `voicecli history` to list them")
    from voicecli.tui.textfit import clip_words

    more = " (the newest shown)" if len(candidates) > CANDIDATES_SHOWN else ""
    for c in candidates[:CANDIDATES_SHOWN]:
        head = f"  {c.id}  {_when(c.started_at)}  "
        words = clip_words(c.first_user, min(FIRST_WORDS_MAX_CHARS, err_console.width - len(head)))
        err_console.print(head + words, highlight=False, markup=False, crop=True)
    raise VoicecliError(f"'{session}' matches {len(candidates)}{'+' if more else ''} sessions{more}: listed above",
                        "give more of the id")


def _when(started_at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(started_at))


def _print_sessions(rows: list[SessionSummary]) -> None:
    from voicecli.cli.tables import WordsText, is_piped, new_table, print_tsv

    if is_piped(out_console):
        print_tsv(["session", "started", "turns", "first words"],
                  [[r.id, _when(r.started_at), r.turns, r.first_user] for r in rows])
        return
    if not rows:
        out_console.print("no conversations saved yet")
        return
    table = new_table("session", "started", "turns", "first words")
    table.columns[0].no_wrap = table.columns[1].no_wrap = True
    table.columns[2].justify = "right"
    for r in rows:
        table.add_row(r.id, _when(r.started_at), str(r.turns),
                      WordsText(r.first_user, FIRST_WORDS_MAX_CHARS))
    out_console.print(table)


def _print_transcript(sid: str, summary: list[SessionSummary], turns: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    from voicecli.tui.latency import latency_lines

    started = f" · {_when(summary[0].started_at)}" if summary else ""
    out_console.print(f"[bold]session {escape(sid)}[/]{started} · {len(turns)} turn{'s' * (len(turns) != 1)}",
                      highlight=False)
    for t in turns:
        lang = f" \\[{escape(t['language'])}]" if t.get("language") else ""
        out_console.print(f"[cyan]you{lang}:[/] {escape(t['user'])}", highlight=False)
        for call in t.get("tools", []):
            from voicecli.tools.display import call_line

            line = call_line(call["name"], call["arguments"], call["output"], call["error"])
            out_console.print(f"[yellow]tool:[/] {escape(line)}", highlight=False)
        mark = " [red]\\[interrupted][/]" if t["interrupted"] else ""
        out_console.print(f"[magenta]assistant:[/] {escape(t['assistant'])}{mark}", highlight=False)
        for line in latency_lines(t["latency_ms"], out_console.width):
            out_console.print(line, style="dim", highlight=False, markup=False)
