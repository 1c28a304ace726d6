"""The terminal side of ``voicecli talk``: loading the models with ``q`` and Ctrl-C still
answered, the live screen (keys, scrolling, terminal size), and the transcript printed on every
way out of it (``q``, Ctrl-C, the end of the input)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from voicecli.cli.common import EXIT_INTERRUPTED, err_console

T = TypeVar("T")

LOADING_POLL_S = 0.1
QUIT_KEYS = frozenset({"q", "Q", "esc", "\x04"})
"""Keys that quit while the models load (q, Esc, Ctrl-D)."""
SCROLL_KEYS = frozenset({"up", "down", "pgup", "pgdn", "home", "end"})
"""Keys that scroll the conversation on the live screen."""


def load_quittable(load: Callable[[], T], status: str | None = None) -> T:
    """Run ``load`` (model loading: seconds of native code) on a worker thread while the terminal
    stays responsive: ``q`` quits at once with exit 0 and Ctrl-C with 130, without a traceback.

    Ctrl-C can no longer land inside a native module's import (pybind11 turns that into
    ``ImportError: initialization failed``): signals only reach the main thread, which just waits.
    A model half-loaded in native code cannot be stopped, so quitting ends the process right
    away (``os._exit``) after restoring the terminal.

    The spinner and the "interrupted" line go to a copy of the terminal's stderr taken before
    loading starts: llama.cpp's loader points fd 2 and ``sys.stderr`` at /dev/null while it
    runs, and a Ctrl-C in that window used to end the process without a word."""
    from voicecli.tui.keys import KeyReader

    outcome: list[Any] = []
    done, quit_requested = threading.Event(), threading.Event()

    def work() -> None:
        try:
            outcome.append(("ok", load()))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, raised there
            outcome.append(("error", exc))
        finally:
            done.set()

    terminal = _stderr_copy()
    threading.Thread(target=work, name="load-models", daemon=True).start()
    spinner = terminal.status(status) if status else contextlib.nullcontext()
    code = None
    try:
        with spinner, KeyReader(lambda key: quit_requested.set() if key in QUIT_KEYS else None):
            while not done.wait(LOADING_POLL_S):
                if quit_requested.is_set():
                    code = 0
                    break
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    if code is not None:
        exit_now(code, terminal)
    if terminal is not err_console:
        terminal.file.close()
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return value


def _stderr_copy() -> Any:
    """A console on a duplicate of stderr's file descriptor (``err_console`` when it has none)."""
    from rich.console import Console

    try:
        fd = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. captured in tests)
        return err_console
    return Console(file=os.fdopen(fd, "w"), highlight=False)


def exit_now(code: int, console: Any = err_console) -> None:
    """End the process at once (a model may still be loading on another thread)."""
    if code == EXIT_INTERRUPTED:
        console.print("interrupted")
    for stream in (sys.stdout, sys.stderr, console.file):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def scroll_key(view: Any, key: str, width: int, height: int) -> bool:
    """Scroll the conversation for an arrow/page key; False when ``key`` is not one."""
    from voicecli.tui.view import conversation_rows, scroll_limit

    if key not in SCROLL_KEYS:
        return False
    limit = scroll_limit(view, width, height)
    page = max(1, conversation_rows(view, height) - 1)
    delta = {"up": 1, "down": -1, "pgup": page, "pgdn": -page, "home": limit, "end": -view.scroll}[key]
    view.scroll_by(delta, limit)
    return True


def run_live(convo: Any, view: Any, on_key: Callable[[str], None], watchdog: float | None) -> None:
    """The live screen until the conversation ends; the transcript is printed however it ends
    (a Ctrl-C is raised again after it, for the caller's exit code 130)."""
    from rich.console import Console
    from rich.live import Live

    from voicecli.tui.keys import KeyReader
    from voicecli.tui.view import render, transcript

    console = Console()

    def keys(key: str) -> None:
        size = console.size
        if not scroll_key(view, key, size.width, size.height):
            on_key(key)

    try:
        with KeyReader(keys), Live(get_renderable=lambda: render(view, console.size.height, console.size.width),
                                   console=console, refresh_per_second=12, screen=True, redirect_stderr=False):
            asyncio.run(convo.run(watchdog))
    finally:
        for line in transcript(view, console.width):
            console.print(line, highlight=False)
