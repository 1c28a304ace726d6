"""``voicecli history``: list saved sessions, or show one session's transcript."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Annotated

import typer

from voicecli.cli.common import HistoryPathOpt, JsonOpt, VerboseOpt, handle_errors, out_console, settings_from
from voicecli.errors import VoicecliError

FIRST_WORDS_MAX_CHARS = 40
"""How much of each session's first question the listing shows."""


def register(app: typer.Typer) -> None:
    app.command("history")(history)


def history(
    session: Annotated[str | None, typer.Argument(
        help="Session id (or a unique prefix, or 'last') to show.")] = None,
    path: HistoryPathOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List conversations, or print one conversation's transcript with latencies."""
    from rich.table import Table

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
            table = Table("session", "started", "turns", "first words")
            for r in rows:
                table.add_row(r.id, time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at)), str(r.turns),
                              r.first_user[:FIRST_WORDS_MAX_CHARS])
            out_console.print(table)
            return
        sid = store.find_session(session)
        if sid is None:
            raise VoicecliError(f"no single session matches '{session}'", "run `voicecli history` to list them")
        turns = store.turns(sid)
        if json_out:
            out_console.print_json(json.dumps({"session": sid, "turns": turns}))
            return
        out_console.print(f"[bold]session {sid}[/]")
        for t in turns:
            out_console.print(f"[cyan]you:[/] {t['user']}", highlight=False)
            mark = " [red][interrupted][/]" if t["interrupted"] else ""
            out_console.print(f"[magenta]assistant:[/] {t['assistant']}{mark}", highlight=False)
            v2v = t["latency_ms"].get("voice_to_voice")
            if v2v is not None:
                out_console.print(f"  [dim]voice-to-voice {v2v:.0f} ms[/]")
