"""``voicecli`` entry point: the typer app, with each command registered from its own module."""

from __future__ import annotations

import typer

from voicecli.cli import bench, history, models, serve, talk, transcribe

app = typer.Typer(name="voicecli", help="A local voice assistant: talk, transcribe, bench, serve. No cloud.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

# Registration order is the order `voicecli --help` lists the commands in.
for _command_module in (transcribe, talk, bench, serve, models, history):
    _command_module.register(app)


def run() -> None:
    app()


if __name__ == "__main__":
    run()
