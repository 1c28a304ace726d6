"""``voicecli models`` (what can be used), ``voicecli doctor`` (is this machine ready) and
``voicecli config`` (effective settings and where each came from)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from voicecli.cli.common import JsonOpt, VerboseOpt, handle_errors, out_console, settings_from

KINDS = ("stt", "tts", "llm", "vad")
STATUS_MARKS = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]", "info": "[dim]-[/]"}
CONFIG_VALUE_MAX_CHARS = 60
"""Longer values are cut with "…" in the ``voicecli config`` table (``--json`` has them whole)."""


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("doctor")(doctor)
    app.command("config")(config)


def models(
    kind: Annotated[str | None, typer.Option(
        "--kind", "-k", metavar="KIND", help="Only this kind: stt, tts, llm or vad.")] = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List every model voicecli can use now (kind, name, size, source, path), then the ones it
    could download."""
    from rich.table import Table

    from voicecli.engines import resolver
    from voicecli.errors import ConfigError

    with handle_errors(verbose):
        if kind is not None and kind not in KINDS:
            raise ConfigError(f"unknown model kind '{kind}'", "choose stt, tts, llm or vad")
        settings = settings_from({}).settings
        res = resolver(settings)
        found = [m for m in res.available() if kind in (None, m.kind)]
        hub = [e for e in res.downloadable() if kind in (None, e.kind)]
        if json_out:
            print(json.dumps({
                "available": [{"kind": m.kind, "name": m.name, "size_bytes": m.size_bytes, "source": m.source,
                               "path": str(m.path), "languages": list(m.languages)} for m in found],
                "downloadable": [{"kind": e.kind, "name": e.name, "hub": e.hub, "languages": list(e.languages)}
                                 for e in hub],
                "allow_download": settings.models.allow_download}, indent=2, ensure_ascii=False))
            return
        table = Table("kind", "name", "size", "source", "path", title="models available now")
        for column in table.columns:
            column.overflow = "fold"  # never cut a name or path with "…"
        for m in found:
            table.add_row(m.kind, escape(m.name), _size(m.size_bytes), escape(m.source), escape(str(m.path)))
        _console().print(table)
        if hub:
            state = ("allowed" if settings.models.allow_download
                     else "off: pass --allow-download or set VOICECLI_MODELS_ALLOW_DOWNLOAD=1")
            more = Table("kind", "name", "languages", "hub repo",
                         title=f"downloadable from the hub (downloads {state})")
            for e in hub:
                more.add_row(e.kind, escape(e.name), ",".join(e.languages), escape(e.hub or ""))
            _console().print(more)


def doctor(verbose: VerboseOpt = False) -> None:
    """Check the environment in one screen: Python, backends, models, audio devices, llama.cpp
    CPU features, config; and say what to fix. Exit code 1 when something must be fixed."""
    from rich.table import Table

    from voicecli.catalog import doctor as d
    from voicecli.catalog.resolve import ModelResolver
    from voicecli.engines import search_dirs

    with handle_errors(verbose):
        config_check, settings = d.check_config()
        checks = d.run_checks(settings, config_check, ModelResolver(search_dirs(settings), allow_download=False))
        table = Table("check", "", "found", "fix", title="voicecli doctor", expand=False)
        table.columns[2].overflow = table.columns[3].overflow = "fold"
        for c in checks:
            table.add_row(escape(c.area), STATUS_MARKS[c.status], escape(c.detail), escape(c.fix))
        console = _console()
        console.print(table)
        failures = [c for c in checks if c.status == "fail"]
        if failures:
            console.print(f"[bold red]{len(failures)} problem(s) to fix[/] (see the fix column)")
            raise typer.Exit(1)
        warned = any(c.status == "warn" for c in checks)
        console.print("[green]ready[/]" + (" (warnings above are optional)" if warned else ""))


def config(
    path: Annotated[bool, typer.Option("--path", help="Print only the config file path.")] = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show every effective setting, where it came from (cli, env, file, default) and what it does."""
    from rich.table import Table

    from voicecli.config import config_path, explain

    with handle_errors(verbose):
        if path:
            print(config_path())
            return
        rows = explain(settings_from({}))
        if json_out:
            print(json.dumps({r.key: {"value": r.value, "source": r.source, "env": r.env, "description": r.description}
                              for r in rows}, indent=2, ensure_ascii=False))
            return
        table = Table("key", "value", "source", "description", title=f"config file: {escape(str(config_path()))}")
        for r in rows:
            shown = "" if r.value is None else str(r.value)
            if len(shown) > CONFIG_VALUE_MAX_CHARS:
                shown = shown[:CONFIG_VALUE_MAX_CHARS - 3] + "…"
            table.add_row(r.key, escape(shown), escape(r.source), escape(r.description) + f" [dim]({r.env})[/]")
        _console().print(table)


def _console() -> Console:
    """The stdout console; piped output gets a wide fixed width so paths are never cut."""
    return out_console if out_console.is_terminal else Console(width=200, highlight=False)


def _size(n: int | None) -> str:
    """Bytes for people: 512 B, 2.0 KB, 75.3 MB, 1.5 GB (powers of 1000)."""
    if n is None:
        return "-"
    if n < 1000:
        return f"{n} B"
    size = float(n)
    for unit in ("KB", "MB"):
        size /= 1000
        if size < 1000:
            return f"{size:.1f} {unit}"
    return f"{size / 1000:.1f} GB"
