"""``voicecli models`` (what can be used), ``voicecli doctor`` (is this machine ready) and
``voicecli config`` (effective settings and where each came from)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from voicecli.cli.common import handle_errors, out_console, settings_from


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("doctor")(doctor)
    app.command("config")(config)


def _console() -> Any:
    """The stdout console; piped output gets a wide fixed width so paths are never cut."""
    if out_console.is_terminal:
        return out_console
    from rich.console import Console

    return Console(width=200, highlight=False)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def models(
    kind: str | None = typer.Option(None, "--kind", "-k", help="Only this kind: stt, tts, llm or vad."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks."),
) -> None:
    """List every model voicecli can use now (kind, name, size, source, path), then the ones it
    could download."""
    from rich.table import Table

    from voicecli.engines import resolver
    from voicecli.errors import ConfigError

    with handle_errors(verbose):
        if kind is not None and kind not in ("stt", "tts", "llm", "vad"):
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
            more = Table("kind", "name", "languages", "hub repo", title=f"downloadable from the hub (downloads {state})")
            for e in hub:
                more.add_row(e.kind, escape(e.name), ",".join(e.languages), escape(e.hub or ""))
            _console().print(more)


_MARK = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]", "info": "[dim]-[/]"}


def doctor(verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks.")) -> None:
    """Check the environment in one screen: Python, backends, models, audio devices, llama.cpp
    CPU features, config; and say what to fix. Exit code 1 when something must be fixed."""
    from rich.table import Table

    from voicecli.catalog import doctor as d
    from voicecli.catalog.resolve import ModelResolver
    from voicecli.config import config_path
    from voicecli.engines import search_dirs
    from voicecli.errors import ConfigError

    with handle_errors(verbose):
        checks: list[Any] = [d.check_python()]
        try:
            settings = settings_from({}).settings
            checks.append(d.Check("config", "ok", f"{config_path()}"
                                  + ("" if config_path().exists() else " (not present: defaults apply)")))
        except ConfigError as exc:
            from voicecli.config import resolve

            checks.append(d.Check("config", "fail", exc.message, exc.hint or ""))
            settings = resolve({}, env={}, file=config_path().with_suffix(".ignored")).settings
        checks += d.check_backends()
        checks += d.check_models(ModelResolver(search_dirs(settings), allow_download=False),
                                 [("stt", settings.stt.model), ("tts", settings.tts.voice),
                                  ("llm", None if settings.llm.url else settings.llm.model), ("vad", None)])
        checks.append(d.check_audio_devices())
        checks.append(d.check_llama())
        downloads = "allowed" if settings.models.allow_download else "off (models.allow_download)"
        checks.append(d.Check("model downloads", "info", downloads))

        table = Table("check", "", "found", "fix", title="voicecli doctor", expand=False)
        table.columns[2].overflow = table.columns[3].overflow = "fold"
        for c in checks:
            table.add_row(escape(c.area), _MARK[c.status], escape(c.detail), escape(c.fix))
        console = _console()
        console.print(table)
        failures = [c for c in checks if c.status == "fail"]
        if failures:
            console.print(f"[bold red]{len(failures)} problem(s) to fix[/] (see the fix column)")
            raise typer.Exit(1)
        console.print("[green]ready[/]" + (" (warnings above are optional)" if any(
            c.status == "warn" for c in checks) else ""))


def config(
    path: bool = typer.Option(False, "--path", help="Print only the config file path."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks."),
) -> None:
    """Show every effective setting, where it came from (cli, env, file, default) and what it does."""
    from rich.table import Table

    from voicecli.config import all_keys, config_path, describe, env_name, value_of

    with handle_errors(verbose):
        if path:
            print(config_path())
            return
        resolved = settings_from({})
        rows = [(k, _shown_value(k, value_of(resolved.settings, k)), resolved.sources[k], env_name(k), describe(k))
                for k in all_keys()]
        if json_out:
            print(json.dumps({k: {"value": v, "source": s, "env": e, "description": d}
                              for k, v, s, e, d in rows}, indent=2, ensure_ascii=False))
            return
        table = Table("key", "value", "source", "description", title=f"config file: {escape(str(config_path()))}")
        for k, v, s, e, d in rows:
            shown = "" if v is None else str(v)
            if len(shown) > 60:
                shown = shown[:57] + "…"
            table.add_row(k, escape(shown), escape(s), escape(d) + f" [dim]({e})[/]")
        _console().print(table)


def _shown_value(key: str, value: Any) -> Any:
    return "***" if key == "llm.api_key" and value else value
