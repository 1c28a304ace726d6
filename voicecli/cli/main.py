"""``voicecli`` entry point: the typer app. Each command lives in its own module and is imported
only when it runs (or its ``--help`` is asked for), so ``voicecli --help`` imports no engine,
no pydantic and no Rich (``benchmarks/bench_help.py`` times it)."""

from __future__ import annotations

import difflib
import importlib
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand

from voicecli.cli.help import HELP_MAX_WIDTH, PlainHelpCommand, PlainHelpGroup, write_rows

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module under voicecli.cli that registers it, the one line `voicecli --help` shows)
    "transcribe": ("transcribe", "Transcribe audio and video files to text or subtitles."),
    "talk": ("talk", "Talk with the assistant: speak, and hear its reply."),
    "devices": ("devices", "List the microphones and speakers you can use."),
    "bench": ("bench", "Measure latency and accuracy, stage by stage and end to end."),
    "serve": ("serve", "Serve an OpenAI-compatible API, realtime WebSocket, Wyoming."),
    "models": ("models", "List the models you can use now and the ones to download."),
    "doctor": ("models", "Check that this machine is ready, and say what to fix."),
    "config": ("models", "Show every setting, its value and where that came from."),
    "history": ("history", "List past conversations, or show one with its latencies."),
    "tools": ("tools", "List the tools talk can use: built-ins and MCP servers."),
}
"""Every command, in the order ``voicecli --help`` lists them; each line fits an 80-column terminal."""


def load_command(name: str) -> Any:
    """Import the module that owns ``name``, let it register its commands on a Typer of its own,
    and return the click command (with plain help) for ``name``."""
    module = importlib.import_module(f"voicecli.cli.{COMMANDS[name][0]}")
    sub = typer.Typer(rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False)
    module.register(sub)
    for info in sub.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = PlainHelpCommand
    built = typer.main.get_command(sub)
    return built.commands[name] if len(sub.registered_commands) > 1 else built  # type: ignore[attr-defined]


class VoicecliGroup(PlainHelpGroup):
    """Lists the commands from :data:`COMMANDS` and imports one only when it is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS and not ctx.resilient_parsing:
            close = difflib.get_close_matches(name, COMMANDS)
            ctx.fail(f"No such command {name!r}." + (f" Did you mean {close[0]!r}?" if close else ""))
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            write_rows(formatter, [(name, line) for name, (_, line) in COMMANDS.items()])


app = typer.Typer(name="voicecli", help="A local voice assistant: talk, transcribe, bench, serve. No cloud.",
                  cls=VoicecliGroup, rich_markup_mode=None, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"], "max_content_width": HELP_MAX_WIDTH})


@app.callback()
def _main() -> None:
    """The group itself does nothing; each command is loaded by :class:`VoicecliGroup`."""


def run() -> None:
    app(prog_name="voicecli")  # also under `python -m voicecli.cli.main`


if __name__ == "__main__":
    run()
