"""Ctrl-C while the models load still says "interrupted", even while a loader has pointed fd 2
and ``sys.stderr`` at /dev/null (llama.cpp's ``suppress_stdout_stderr`` does, for the seconds a
model loads; a Ctrl-C then used to exit 130 without a word)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT

LOADER = """
import os, sys, time
from voicecli.cli.talk_screen import load_quittable

def load():
    devnull = open(os.devnull, "w")
    os.dup2(devnull.fileno(), 2)  # what llama.cpp's loader does while a model loads
    sys.stderr = devnull
    print("redirected", file=sys.__stdout__, flush=True)
    time.sleep(30)

load_quittable(load, "loading models… (q quits)")
"""


def _read_until(fd: int, text: bytes, timeout_s: float) -> bytes:
    out, deadline = b"", time.monotonic() + timeout_s
    while text not in out and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.05)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:  # the terminal closed
                break
    return out


def test_ctrl_c_while_stderr_is_redirected_by_the_loader_still_says_interrupted():
    main, child = pty.openpty()
    p = subprocess.Popen([sys.executable, "-c", LOADER], stdin=child, stdout=child, stderr=child,
                         start_new_session=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(child)
    try:
        seen = _read_until(main, b"redirected", 30)
        assert b"redirected" in seen, seen
        time.sleep(0.3)  # the spinner is running, fd 2 is /dev/null
        os.killpg(p.pid, signal.SIGINT)
        assert p.wait(10) == 130
        seen += _read_until(main, b"interrupted", 5)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(main)
    assert b"interrupted" in seen, seen
    assert b"Traceback" not in seen
