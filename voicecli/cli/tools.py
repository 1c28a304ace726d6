"""``voicecli tools``: the tools talk can offer the model (built-ins and the configured MCP
servers' tools), where each comes from, and whether it is enabled."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from voicecli.cli.common import JsonOpt, VerboseOpt, err_console, handle_errors, out_console, settings_from


def register(app: typer.Typer) -> None:
    app.command("tools")(tools)


def tools(
    json_out: JsonOpt = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", help="How long each MCP server may take to start.")] = 20.0,
    verbose: VerboseOpt = False,
) -> None:
    """List the tools talk can use (talk --tools): built-ins and MCP servers from config.toml."""
    from voicecli.tools.runner import LocalTools

    with handle_errors(verbose):
        settings = settings_from({}).settings
        notices: list[str] = []
        config = settings.tools.model_copy(update={"tool_choice": "auto"})  # list even if the choice is off
        runner = LocalTools.start(config, on_notice=notices.append, connect_timeout_s=timeout)
        try:
            rows = runner.listing()
        finally:
            runner.close()
        for line in notices:
            err_console.print(f"note: {line}", markup=False, soft_wrap=True)
        if json_out:
            out_console.print_json(json.dumps({
                "use": settings.tools.use, "tool_choice": settings.tools.tool_choice,
                "tools": [dataclasses.asdict(r) for r in rows], "notices": notices}))
            return
        from voicecli.cli.tables import WordsText, is_piped, new_table, print_tsv

        if is_piped(out_console):
            print_tsv(["tool", "source", "enabled", "description"],
                      [[r.name, r.source, "yes" if r.enabled else "no", r.description] for r in rows])
            return
        state = "on" if settings.tools.use else "off (talk --tools, or tools.use = true)"
        table = new_table("tool", "source", "enabled", "description",
                          title=f"tools in talk: {state} · tool_choice: {settings.tools.tool_choice}")
        for r in rows:
            table.add_row(r.name, r.source, "yes" if r.enabled else "[dim]no[/]", WordsText(r.description, 60))
        out_console.print(table)
