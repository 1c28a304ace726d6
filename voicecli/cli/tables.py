"""Tables for the CLI's listing commands (models, doctor, config, history, devices): on a terminal
a light Rich table that fits its width (paths shortened at ``/`` boundaries, text wrapped at
words, one-line cells cut with "…"); piped, plain tab-separated lines with a header, so
``cut``/``awk`` can read them and nothing is cut."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from voicecli.tui.textfit import clip_words

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.measure import Measurement
    from rich.table import Table

PATH_MIN_CHARS = 16
"""A path cell is never squeezed narrower than this (its last folder and file name stay readable)."""


def tilde(path: str | Path) -> str:
    """``/home/me/x`` → ``~/x``; other paths unchanged."""
    text = str(path)
    home = os.path.expanduser("~")
    if home not in ("", "/") and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home):]
    return text


def shorten_path(path: str | Path, width: int) -> str:
    """``path`` in at most ``width`` characters: home as ``~``, then leading folders replaced by
    "…" at a ``/`` boundary, so the end (the file or model folder) stays whole. Only a last part
    longer than ``width`` itself is cut, and then visibly ("…" first)."""
    text = tilde(path)
    if len(text) <= width:
        return text
    parts = text.split("/")
    tail = parts[-1]
    for part in reversed(parts[:-1]):
        candidate = f"{part}/{tail}"
        if len(candidate) + 2 > width:
            break
        tail = candidate
    shortened = "…/" + tail
    if len(shortened) <= width:
        return shortened
    return "…" + text[-(width - 1):] if width > 1 else "…"


class PathText:
    """A Rich renderable for a path in a table cell: it asks for its full length, accepts as
    little as :data:`PATH_MIN_CHARS`, and renders shortened by :func:`shorten_path` to the width
    it gets (never wrapped mid-name, never a lone fragment on the next line)."""

    def __init__(self, path: str | Path, style: str = "") -> None:
        self.path = str(path)
        self.style = style

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        full = len(tilde(self.path))
        return Measurement(min(full, PATH_MIN_CHARS), full)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        yield Text(shorten_path(self.path, options.max_width), style=self.style, no_wrap=True, overflow="ellipsis")


class WordsText:
    """A Rich renderable for free text in a one-line table cell: cut after a whole word, with
    "…", to the width it gets (at most ``max_chars``; at least ``min_chars`` is asked for)."""

    def __init__(self, text: str, max_chars: int, min_chars: int = 12, style: str = "") -> None:
        self.text = clip_words(text, max_chars)
        self.min_chars = min_chars
        self.style = style

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        return Measurement(min(len(self.text), self.min_chars), len(self.text))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        yield Text(clip_words(self.text, options.max_width), style=self.style, no_wrap=True, overflow="ellipsis")


def new_table(*headers: str, title: str | None = None) -> Table:
    """A light table (a rule under the header, no boxes), title left-aligned above it."""
    from rich import box
    from rich.table import Table

    return Table(*headers, title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                 padding=(0, 1, 0, 0), header_style="bold", pad_edge=False, show_edge=False)


def is_piped(console: Console) -> bool:
    """Output goes to a file or pipe (plain lines), not a terminal (a table)."""
    return not console.is_terminal


def _cell(value: object) -> str:
    return " ".join(str("" if value is None else value).split())  # no tab or newline inside a cell


def print_tsv(header: Sequence[str], rows: Iterable[Sequence[object]], out: TextIO | None = None) -> None:
    """Tab-separated lines, the header first; None is an empty cell."""
    stream = out or sys.stdout
    stream.write("\t".join(header) + "\n")
    for row in rows:
        stream.write("\t".join(_cell(v) for v in row) + "\n")
    stream.flush()
