"""Single-key input from the terminal in cbreak mode, restored on every exit path.

Keys reach ``on_key`` as one character (UTF-8 decoded), or as a name for the few escape
sequences the live screen uses (:data:`NAMED_KEYS`: arrows, Page Up/Down, Home/End) and a
lone Escape ("esc"). Ctrl-C still raises KeyboardInterrupt (cbreak keeps signals on)."""

from __future__ import annotations

import atexit
import codecs
import os
import select
import sys
import threading
from collections.abc import Callable

ESCAPE_WAIT_S = 0.03
"""How long after ESC the rest of an escape sequence may take to arrive (else it is the Esc key)."""
NAMED_KEYS = {"[A": "up", "[B": "down", "OA": "up", "OB": "down", "[5~": "pgup", "[6~": "pgdn",
              "[H": "home", "[F": "end", "OH": "home", "OF": "end", "[1~": "home", "[4~": "end"}
"""Escape sequence (after ESC) → key name."""


def parse_escape(sequence: str) -> str | None:
    """The name of the key an escape sequence (the part after ESC) stands for; "esc" for none,
    None for a sequence the screen does not use."""
    if not sequence:
        return "esc"
    return NAMED_KEYS.get(sequence)


class KeyReader:
    """Reads keys on a background thread and calls ``on_key``. A no-op when stdin is not a terminal."""

    def __init__(self, on_key: Callable[[str], None]) -> None:
        self.on_key = on_key
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: list | None = None
        self._fd = -1
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")

    def __enter__(self) -> KeyReader:
        if not sys.stdin.isatty():
            return self
        import termios
        import tty

        self._fd = sys.stdin.fileno()
        self._saved = termios.tcgetattr(self._fd)
        atexit.register(self.restore)
        tty.setcbreak(self._fd)
        self._thread = threading.Thread(target=self._run, name="keys", daemon=True)
        self._thread.start()
        return self

    def _ready(self, timeout_s: float) -> bool:
        return bool(select.select([self._fd], [], [], timeout_s)[0])

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._ready(0.05):
                continue
            data = os.read(self._fd, 1)
            if not data:
                return
            if data == b"\x1b":
                self._escape()
                continue
            text = self._decoder.decode(data)
            if text:
                self.on_key(text)

    def _escape(self) -> None:
        sequence = b""
        while len(sequence) < 8 and self._ready(ESCAPE_WAIT_S):
            sequence += os.read(self._fd, 1)
            if len(sequence) >= 2 and (sequence[-1:].isalpha() or sequence.endswith(b"~")):
                break
        name = parse_escape(sequence.decode(errors="ignore"))
        if name is not None:
            self.on_key(name)

    def restore(self) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=0.5)
        self.restore()
