"""``voicecli`` entry point: registers the commands, each in its own module."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(name="voicecli", help="A local voice assistant: talk, transcribe, bench, serve. No cloud.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

# Each module defines `register(app)`. A module that is not written yet is skipped.
COMMAND_MODULES = ["transcribe", "talk", "bench", "serve", "models", "history"]

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"voicecli.cli.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"voicecli.cli.{_name}":
            raise
        continue
    _mod.register(app)


def run() -> None:
    app()


if __name__ == "__main__":
    run()
