"""Shared CLI plumbing: consoles, config resolution from flags, and error → exit-code mapping."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from voicecli.config import ResolvedSettings, resolve
from voicecli.errors import VoicecliError

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)

VerboseOpt = typer.Option(False, "--verbose", "-v", help="Show tracebacks and debug details.")


def print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)


def settings_from(cli: dict[str, Any]) -> ResolvedSettings:
    return resolve(cli)


@contextlib.contextmanager
def handle_errors(verbose: bool) -> Iterator[None]:
    """Turn project errors (and Ctrl-C) into one line and an exit code; tracebacks only with -v."""
    try:
        yield
    except typer.Exit:
        raise
    except VoicecliError as exc:
        if verbose:
            err_console.print_exception()
        print_error(exc.one_line())
        raise typer.Exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130)
    except Exception as exc:  # last resort: still one line unless --verbose
        if verbose:
            err_console.print_exception()
        else:
            print_error(f"unexpected {type(exc).__name__}: {exc} (run again with --verbose for details)")
        raise typer.Exit(1)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
