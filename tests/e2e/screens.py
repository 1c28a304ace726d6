"""Helpers for the screen tests: run a command in a tmux terminal of a given size (as a person
would), read the screen back, and check text for the layout faults issue 16 names."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

PASSED_ENV = ("VOICECLI_CONFIG", "XDG_DATA_HOME", "XDG_CACHE_HOME", "HF_HUB_OFFLINE", "XDG_RUNTIME_DIR",
              "PULSE_RUNTIME_PATH", "VOICECLI_MODELS_DIR")
"""The test's isolation (config, data dirs, no hub) and sound server, handed to the terminal."""
VOICECLI = f"{shlex.quote(sys.executable)} -m voicecli.cli.main"
BOX_CHARS = set("─│┃━┏┓┗┛╭╮╰╯┡┩╇╋┼")
METAVAR_NOISE = re.compile(r"<(bool|str|int|float|path|list)|list\[|\[x\s*[<>]=|\bint range\b|\bfloat range\b")


class Tmux:
    """One tmux session running ``command`` in a ``width``×``height`` terminal."""

    def __init__(self, command: str, width: int, height: int, env: dict[str, str] | None = None) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed (make test installs it)")
        self.name = f"voicecli-screens-{os.getpid()}-{time.monotonic_ns()}"
        self.width = width
        passed = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in {**passed, **(env or {}), "PYTHONPATH": str(ROOT)}.items())
        # COLUMNS/LINES from whoever started the tmux server would override the terminal's real size
        script = f"cd {shlex.quote(str(ROOT))} && env -u COLUMNS -u LINES {exports} {command}; echo EXIT=$?; sleep 600"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                        "bash", "--norc", "--noprofile", "-c", script], check=True)

    def send(self, *keys: str, literal: bool = False) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *(["-l"] if literal else []), *keys], check=True)

    def screen(self) -> str:
        """The visible screen (the live screen while it runs)."""
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True,
                              check=True).stdout

    def everything(self) -> str:
        """Scrollback and screen, wrapped lines joined (so a line too wide for the terminal shows as one)."""
        out = subprocess.run(["tmux", "capture-pane", "-p", "-J", "-S", "-", "-t", self.name], capture_output=True,
                             text=True, check=True).stdout
        return "\n".join(line.rstrip() for line in out.rstrip("\n").splitlines())

    def wait_for(self, text: str, timeout_s: float, whole: bool = False) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            s = self.everything() if whole else self.screen()
            if text in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen after {timeout_s}s:\n{self.everything()}")

    def finish(self, timeout_s: float = 60) -> tuple[str, int]:
        """The whole output once the command has ended, and its exit code."""
        text = self.wait_for("EXIT=", timeout_s, whole=True)
        code = int(re.findall(r"EXIT=(\d+)", text)[-1])
        return text[:text.rindex("EXIT=")].rstrip(), code

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True, check=False)

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def run_in_terminal(args: str, width: int, height: int = 50, env: dict[str, str] | None = None,
                    timeout_s: float = 60) -> tuple[str, int]:
    with Tmux(f"{VOICECLI} {args}", width, height, env) as t:
        return t.finish(timeout_s)


def save(artifacts: Path, name: str, text: str) -> None:
    folder = artifacts / "screens"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text + "\n")


def too_wide(text: str, width: int) -> list[str]:
    return [line for line in text.splitlines() if len(line) > width]


def broken_words(screen: str, whole_text: str, extra_words: str = "") -> list[str]:
    """Tokens on ``screen`` that are a piece of a longer word of ``whole_text`` (the same data,
    unwrapped) without being a word there themselves: a word broken across lines or cut
    without "…". Tokens with "…" are deliberate cuts and pass."""
    vocabulary = set((whole_text + " " + extra_words).split())
    pieces = []
    for token in screen.split():
        if token in vocabulary or "…" in token or set(token) <= BOX_CHARS or len(token) < 3:
            continue
        if any(word != token and (word.startswith(token) or word.endswith(token)) for word in vocabulary):
            pieces.append(token)
    return pieces


def lone_closers(text: str) -> list[str]:
    """Lines (or table cells) holding nothing but a closing bracket: the tail of a folded word."""
    return [line for line in text.splitlines() if re.search(r"(^|\s{2})[)\]]\s*($|\s{2})", line)]
