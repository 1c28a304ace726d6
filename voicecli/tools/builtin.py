"""talk's built-in tools, all offline: the time and date (local timezone), reminders and
timers (:mod:`voicecli.tools.reminders`), arithmetic (:mod:`voicecli.tools.calc`) and unit
conversion (the ``pint`` library, loaded on first use). Each is a :class:`LocalTool`: its
:class:`~voicecli.llm.tools.ToolSpec` and a handler from the call's arguments to the text the
model gets back; a handler raises :class:`~voicecli.errors.VoicecliError` for bad arguments."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voicecli.errors import VoicecliError
from voicecli.llm.tools import ToolSpec
from voicecli.tools.calc import calculate, format_number
from voicecli.tools.reminders import Reminders

Handler = Callable[[Mapping[str, Any]], str]
NO_ARGUMENTS = {"type": "object", "properties": {}, "additionalProperties": False}


class ToolArgumentError(VoicecliError):
    """Arguments a tool cannot use (missing, wrong type)."""


@dataclass(frozen=True)
class LocalTool:
    spec: ToolSpec
    handler: Handler
    source: str = "builtin"


def _string(args: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = args.get(key, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise ToolArgumentError(f"argument '{key}' must be a non-empty string")
    return value


def _number(args: Mapping[str, Any], key: str) -> float:
    value = args.get(key)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolArgumentError(f"argument '{key}' must be a number")
    return float(value)


def get_time(_args: Mapping[str, Any], now: Callable[[], datetime] = lambda: datetime.now().astimezone()) -> str:
    t = now()
    return t.strftime("It is %H:%M on %A, %B ") + str(t.day) + t.strftime(", %Y (%Z).")


_units_lock = threading.Lock()
_units: Any = None


def convert_units(args: Mapping[str, Any]) -> str:
    """``value`` in ``from_unit`` as ``to_unit`` (pint's unit names: km, mile, degC, degF, kg, lb…)."""
    global _units
    value, source, target = _number(args, "value"), _string(args, "from_unit"), _string(args, "to_unit")
    try:
        import pint
    except ImportError:
        raise ToolArgumentError("unit conversion needs pint: pip install 'voicecli[tools]'") from None

    with _units_lock:
        if _units is None:
            _units = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
        registry = _units
    try:
        result = registry.Quantity(value, source.strip()).to(target.strip())
    except (pint.errors.PintError, AttributeError, TypeError, ValueError, AssertionError) as exc:
        raise ToolArgumentError(f"cannot convert {source!r} to {target!r}: {exc}") from None
    return f"{format_number(value)} {source} is {format_number(round(float(result.magnitude), 6))} {target}"


def builtin_tools(reminders: Reminders) -> list[LocalTool]:
    def set_reminder(args: Mapping[str, Any]) -> str:
        minutes = _number(args, "minutes")
        what = _string(args, "text", "time is up")
        try:
            reminder = reminders.add(minutes * 60, what)
        except VoicecliError as exc:
            raise ToolArgumentError(exc.message) from None
        return f"Reminder {reminder.id} set for {reminder.due_clock()} ({format_number(minutes)} minutes): {what}"

    def list_reminders(_args: Mapping[str, Any]) -> str:
        pending = reminders.pending()
        if not pending:
            return "No reminders are set."
        return "; ".join(f"{r.id}: {r.text} at {r.due_clock()}" for r in pending)

    def cancel_reminder(args: Mapping[str, Any]) -> str:
        number = int(_number(args, "id"))
        return f"Reminder {number} cancelled." if reminders.cancel(number) else f"There is no reminder {number}."

    return [
        LocalTool(ToolSpec.of("get_time", "The current local time and date.", NO_ARGUMENTS), get_time),
        LocalTool(ToolSpec.of(
            "set_reminder", "Set a timer or a reminder: after the given minutes the assistant says the text.",
            {"type": "object", "properties": {
                "minutes": {"type": "number", "description": "Minutes from now"},
                "text": {"type": "string", "description": "What to remind the user of"}},
             "required": ["minutes", "text"]}), set_reminder),
        LocalTool(ToolSpec.of("list_reminders", "The reminders and timers that are set.", NO_ARGUMENTS),
                  list_reminders),
        LocalTool(ToolSpec.of(
            "cancel_reminder", "Cancel a reminder by its number.",
            {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}), cancel_reminder),
        LocalTool(ToolSpec.of(
            "calculate", "Work out an arithmetic expression, e.g. (12.5 + 7) * 3 or sqrt(2).",
            {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}),
            lambda args: calculate(_string(args, "expression"))),
        LocalTool(ToolSpec.of(
            "convert_units", "Convert a quantity between units, e.g. 5 mile to km, 70 degF to degC.",
            {"type": "object", "properties": {
                "value": {"type": "number"}, "from_unit": {"type": "string"}, "to_unit": {"type": "string"}},
             "required": ["value", "from_unit", "to_unit"]}), convert_units),
    ]
