"""talk's built-in tools: the safe calculator, unit conversion, the clock and reminders."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from voicecli.tools.builtin import ToolArgumentError, builtin_tools, convert_units, get_time
from voicecli.tools.calc import CalcError, calculate
from voicecli.tools.reminders import MAX_PENDING, Reminder, ReminderError, Reminders


@pytest.mark.parametrize("expression,value", [
    ("2+2", "4"), ("12 times 7", "84"), ("(1 + 2) * 3", "9"), ("2 ** 10", "1024"), ("2^10", "1024"),
    ("1/3", "0.3333333333"), ("sqrt(16)", "4"), ("17 percent of 200", "34"), ("-3.5 x 2", "-7"),
    ("1,000 + 1", "1001"), ("10 // 3 + 10 % 3", "4"), ("round(pi, 2)", "3.14"), ("2**100", "1267650600228229401496703205376"),
    ("2**999", "5.357543035e+300"),
])
def test_calculate(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize("expression,message", [
    ("__import__('os').system('true')", "not allowed"), ("open('/etc/passwd')", "not allowed"),
    ("(1).__class__", "not allowed"), ("x + 1", "not allowed"), ("1/0", "division by zero"),
    ("9**9**9", "too large"), ("10**999 * 10**999", "too large"), ("'a' * 3", "not allowed"),
    ("2 +", "not an arithmetic expression"), ("", "empty"), ("1" * 300, "longer than"), ("sqrt(-1)", "cannot compute"),
])
def test_calculate_refuses_what_is_not_bounded_arithmetic(expression, message):
    with pytest.raises(CalcError) as e:
        calculate(expression)
    assert message in e.value.message and "\n" not in e.value.message


def test_convert_units_with_pint():
    assert convert_units({"value": 5, "from_unit": "mile", "to_unit": "km"}) == "5 mile is 8.04672 km"
    assert convert_units({"value": "100", "from_unit": "degC", "to_unit": "degF"}) == "100 degC is 212 degF"
    with pytest.raises(ToolArgumentError, match="cannot convert 'mile' to 'kg'"):
        convert_units({"value": 5, "from_unit": "mile", "to_unit": "kg"})
    with pytest.raises(ToolArgumentError, match="'value' must be a number"):
        convert_units({"value": "lots", "from_unit": "mile", "to_unit": "km"})


def test_get_time_says_local_time_and_date():
    fixed = datetime(2026, 3, 7, 9, 5, tzinfo=timezone(timedelta(hours=1), "CET"))
    assert get_time({}, now=lambda: fixed) == "It is 09:05 on Saturday, March 7, 2026 (CET)."
    assert str(datetime.now().year) in get_time({})


def test_reminder_fires_once_when_due_and_can_be_cancelled():
    fired: list[Reminder] = []
    done = threading.Event()
    reminders = Reminders(lambda r: (fired.append(r), done.set()))
    kept = reminders.add(0.05, "  take the tea   out ")
    dropped = reminders.add(0.05, "never")
    assert reminders.cancel(dropped.id) and not reminders.cancel(dropped.id)
    assert done.wait(5)
    reminders.close()
    assert [r.text for r in fired] == ["take the tea out"] and fired[0].id == kept.id
    assert reminders.pending() == []


def test_reminders_are_bounded():
    reminders = Reminders()
    try:
        with pytest.raises(ReminderError):
            reminders.add(0, "now")
        with pytest.raises(ReminderError):
            reminders.add(3 * 24 * 3600, "in three days")
        for _ in range(MAX_PENDING):
            reminders.add(600, "x")
        with pytest.raises(ReminderError, match="pending"):
            reminders.add(600, "one more")
    finally:
        reminders.close()


def test_reminder_tools_set_list_cancel():
    reminders = Reminders()
    tools = {t.spec.name: t.handler for t in builtin_tools(reminders)}
    try:
        assert tools["list_reminders"]({}) == "No reminders are set."
        said = tools["set_reminder"]({"minutes": 2, "text": "call mum"})
        assert said.startswith("Reminder 1 set for ") and said.endswith("(2 minutes): call mum")
        assert "1: call mum at " in tools["list_reminders"]({})
        assert tools["cancel_reminder"]({"id": 1}) == "Reminder 1 cancelled."
        assert tools["cancel_reminder"]({"id": 1}) == "There is no reminder 1."
        with pytest.raises(ToolArgumentError, match="at most 24 hours"):
            tools["set_reminder"]({"minutes": 100000, "text": "later"})
        with pytest.raises(ToolArgumentError, match="'minutes' must be a number"):
            tools["set_reminder"]({"text": "no time"})
    finally:
        reminders.close()
