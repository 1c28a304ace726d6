"""Timers and reminders for talk: each one waits on its own timer thread and, when due, is
handed to ``on_due`` (talk speaks it and shows it). Bounded: at most ``MAX_PENDING`` at once, at
most a day ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from voicecli.errors import VoicecliError

MAX_PENDING = 20
MAX_DELAY_S = 24 * 3600.0
MAX_TEXT_CHARS = 200


class ReminderError(VoicecliError):
    """A reminder that cannot be set."""


@dataclass(frozen=True)
class Reminder:
    id: int
    text: str
    due_at: float
    """Unix time."""

    def due_clock(self) -> str:
        return datetime.fromtimestamp(self.due_at).astimezone().strftime("%H:%M:%S")


class Reminders:
    """Pending reminders; ``on_due`` is called on a timer thread (keep it short and thread-safe)."""

    def __init__(self, on_due: Callable[[Reminder], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.on_due = on_due
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[Reminder, threading.Timer]] = {}
        self._next_id = 1

    def add(self, delay_s: float, text: str) -> Reminder:
        text = " ".join(text.split())[:MAX_TEXT_CHARS] or "time is up"
        if not 0 < delay_s <= MAX_DELAY_S:
            raise ReminderError(f"a reminder must be due in more than 0 s and at most {MAX_DELAY_S / 3600:g} hours")
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                raise ReminderError(f"already {MAX_PENDING} reminders pending")
            reminder = Reminder(self._next_id, text, self._clock() + delay_s)
            self._next_id += 1
            timer = threading.Timer(delay_s, self._fire, (reminder.id,))
            timer.daemon = True
            self._pending[reminder.id] = (reminder, timer)
            timer.start()
        return reminder

    def pending(self) -> list[Reminder]:
        with self._lock:
            return sorted((r for r, _ in self._pending.values()), key=lambda r: r.due_at)

    def cancel(self, reminder_id: int) -> bool:
        with self._lock:
            entry = self._pending.pop(reminder_id, None)
        if entry is not None:
            entry[1].cancel()
        return entry is not None

    def close(self) -> None:
        """Cancel everything still pending."""
        with self._lock:
            entries, self._pending = list(self._pending.values()), {}
        for _, timer in entries:
            timer.cancel()

    def _fire(self, reminder_id: int) -> None:
        with self._lock:
            entry = self._pending.pop(reminder_id, None)
        if entry is not None and self.on_due is not None:
            self.on_due(entry[0])
