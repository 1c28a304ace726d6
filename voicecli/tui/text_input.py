"""The line typed on the live screen with ``talk --text``: keys in, a finished line out.

Printable keys are appended, Backspace deletes, Ctrl-U clears, Enter hands the line over (the
caller sends it, interrupting a reply being spoken). Named keys (arrows, …) are not text."""

from __future__ import annotations

from dataclasses import dataclass

ENTER = frozenset({"\r", "\n"})
BACKSPACE = frozenset({"\x7f", "\x08"})
CLEAR_LINE = "\x15"  # Ctrl-U
END_OF_INPUT = "\x04"  # Ctrl-D


@dataclass
class LineEditor:
    text: str = ""
    """What has been typed so far."""

    def feed(self, key: str) -> str | None:
        """Apply one key; the finished line (stripped, non-empty) when it was Enter, else None."""
        if key in ENTER:
            line, self.text = self.text.strip(), ""
            return line or None
        if key in BACKSPACE:
            self.text = self.text[:-1]
        elif key == CLEAR_LINE:
            self.text = ""
        elif len(key) == 1 and key.isprintable():
            self.text += key
        return None
