"""Plain, conventional ``--help`` for every command, as click, git and uv print it::

    Usage: voicecli talk [OPTIONS]

      Talk with the assistant: microphone → VAD → Whisper → llama.cpp → Piper, with barge-in.

    Options:
      -i, --input FILE         Play this recording into the pipeline in real time instead …
          --ptt                Push-to-talk: space starts listening, space again sends.

A flag shows no placeholder; an option that takes a value shows its own ``metavar`` or a short
one from its type (NAME, N, MS, PATH): no type names, no ranges. The command list shows each
command's one-line summary, wrapped at word boundaries. Nothing here imports Rich, so a help
screen costs only the import of the command modules."""

from __future__ import annotations

import enum
import inspect
import re
import textwrap
import typing
from pathlib import Path
from typing import Any

from typer.core import TyperCommand, TyperGroup

HELP_MAX_WIDTH = 100
"""Help text is wrapped to the terminal, but never wider than this (long lines read badly)."""
TERM_COLUMN_MAX = 30
"""Option names longer than this get a line of their own, their help on the next."""

_UNIT_METAVARS = {"ms": "MS", "s": "SECONDS", "mb": "MB", "hz": "HZ"}
"""An option named after its unit (``--end-silence-ms``) takes that unit as its placeholder."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def summary(help_text: str | None) -> str:
    """A command's one-line summary: the first sentence of its help, whitespace collapsed."""
    first_paragraph = (help_text or "").strip().split("\n\n")[0]
    text = " ".join(first_paragraph.split())
    return _SENTENCE_END.split(text, maxsplit=1)[0]


def _annotation(param: Any) -> object:
    """The Python type the option was declared with (typer ≥ 0.20), else click's type object."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:
        return getattr(descriptor, "annotation", None)
    return getattr(param, "type", None)


def _element_type(annotation: object) -> object:
    """``list[Path]`` → ``Path``; ``Path | None`` → ``Path``; anything else unchanged."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def _choices(annotation: object) -> list[str]:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [str(member.value) for member in annotation]
    return list(getattr(annotation, "choices", None) or [])  # click.Choice on older typer


def placeholder(param: Any) -> str:
    """What follows an option in help: its ``metavar``, else one derived from its type and name;
    empty for flags."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if param.metavar:
        return str(param.metavar)
    long_name = next((o for o in param.opts if o.startswith("--")), param.opts[0]).lstrip("-")
    last_word = long_name.rsplit("-", 1)[-1].lower()
    kind = _element_type(_annotation(param))
    type_name = getattr(kind, "name", "")  # click ParamType names on older typer
    if _choices(kind):
        return long_name.upper().replace("-", "_")
    if kind is Path or type_name == "path":
        return "PATH"
    if kind is int or type_name in ("integer", "integer range"):
        return _UNIT_METAVARS.get(last_word, "N")
    if kind is float or type_name in ("float", "float range"):
        return _UNIT_METAVARS.get(last_word, "NUMBER")
    return last_word.upper()


def _default_text(param: Any) -> str:
    default = param.default
    if (not getattr(param, "show_default", True) or default is None or getattr(param, "is_flag", False)
            or callable(default) or default == [] or default == ""):
        return ""
    if isinstance(default, enum.Enum):
        return str(default.value)
    if isinstance(default, (list, tuple)):
        return ", ".join(str(d) for d in default)
    return str(default)


def _help_of(param: Any) -> str:
    text = " ".join((getattr(param, "help", None) or "").split())
    notes = []
    choices = _choices(_element_type(_annotation(param)))
    if choices:
        notes.append("one of: " + ", ".join(choices))
    default = _default_text(param)
    if default:
        notes.append(f"default: {default}")
    return f"{text}  [{'; '.join(notes)}]" if notes else text


def option_row(param: Any, indent_long: bool) -> tuple[str, str]:
    """``("-i, --input FILE", "help [default: …]")``; a long-only option is indented under the
    long names of the others when ``indent_long``."""
    shorts = [o for o in param.opts if not o.startswith("--")]
    longs = [o for o in param.opts if o.startswith("--")]
    names = ", ".join(shorts + longs)
    if param.secondary_opts:
        names += " / " + ", ".join(param.secondary_opts)
    if not shorts and indent_long:
        names = "    " + names
    value = placeholder(param)
    return (f"{names} {value}" if value else names), _help_of(param)


def argument_label(param: Any) -> str:
    label = str(param.metavar or param.name).upper()
    return label + ("..." if param.nargs == -1 else "")


def wrap(text: str, width: int) -> list[str]:
    """Word-wrap without breaking a word or an option name at its hyphen."""
    return textwrap.wrap(text, max(width, 20), break_on_hyphens=False, break_long_words=False) or [""]


def write_rows(formatter: Any, rows: list[tuple[str, str]]) -> None:
    """A definition list (term, then its text wrapped in a column), as click's ``write_dl`` but
    never splitting words at hyphens (``--vad-`` / ``filter``)."""
    indent = " " * formatter.current_indent
    column = max((len(term) for term, _ in rows if len(term) <= TERM_COLUMN_MAX), default=TERM_COLUMN_MAX) + 2
    pad = indent + " " * column
    for term, text in rows:
        lines = wrap(text, formatter.width - len(pad))
        if len(term) + 2 <= column:
            out = [indent + term.ljust(column) + lines[0]]
        else:
            out = [indent + term, pad + lines[0]]
        out += [pad + line for line in lines[1:]]
        formatter.write("".join(line.rstrip() + "\n" for line in out))


class _PlainHelp:
    """The usage line and the Arguments/Options sections, shared by commands and the group."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if getattr(self, "options_metavar", None) else []  # type: ignore[attr-defined]
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if param.param_type_name == "argument":
                label = argument_label(param)
                pieces.append(label if param.required else f"[{label}]")
        return pieces

    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        text = inspect.cleandoc(getattr(self, "help", None) or "").partition("\f")[0]
        if not text:
            return
        formatter.write_paragraph()
        indent = " " * (formatter.current_indent + 2)
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
        formatter.write("\n\n".join("\n".join(indent + line for line in wrap(p, formatter.width - len(indent)))
                                     for p in paragraphs) + "\n")

    def format_options(self, ctx: Any, formatter: Any) -> None:
        params = [p for p in self.get_params(ctx) if not getattr(p, "hidden", False)]  # type: ignore[attr-defined]
        arguments = [p for p in params if p.param_type_name == "argument"]
        options = [p for p in params if p.param_type_name == "option"]
        if arguments:
            with formatter.section("Arguments"):
                write_rows(formatter, [(argument_label(p), _help_of(p)) for p in arguments])
        if options:
            indent_long = any(not o.startswith("--") for p in options for o in p.opts)
            with formatter.section("Options"):
                write_rows(formatter, [option_row(p, indent_long) for p in options])


class PlainHelpCommand(_PlainHelp, TyperCommand):
    """A typer command whose ``--help`` is plain text (see the module docstring)."""


class PlainHelpGroup(_PlainHelp, TyperGroup):
    """The top-level group: plain help, and each command's one-line summary."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*super().collect_usage_pieces(ctx), self.subcommand_metavar]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        self.format_commands(ctx, formatter)
        super().format_options(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.short_help or summary(command.help)))
        if rows:
            with formatter.section("Commands"):
                write_rows(formatter, rows)
