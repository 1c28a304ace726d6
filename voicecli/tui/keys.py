"""Single-key input from the terminal in cbreak mode, restored on every exit path."""

from __future__ import annotations

import atexit
import os
import select
import sys
import threading
from collections.abc import Callable


class KeyReader:
    """Reads single keys on a background thread and calls ``on_key``. A no-op when stdin is not
    a terminal."""

    def __init__(self, on_key: Callable[[str], None]) -> None:
        self.on_key = on_key
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: list | None = None
        self._fd = -1

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

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.05)
            if ready:
                ch = os.read(self._fd, 1).decode(errors="ignore")
                if ch:
                    self.on_key(ch)

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
