"""``voicecli talk --json`` (or a peer program) as a child process driven from outside, for the
device-path benchmarks (``benchmarks/device_loop.py``, ``benchmarks/echo_loop.py``): started on
the devices of a private PulseAudio server (:mod:`voicecli.bench.virtual_audio`), its JSON event
lines read on a thread and timestamped on arrival, waited on with a timeout, stopped with SIGINT
(talk's Ctrl-C: it closes its audio streams and says at exit how many underflows/overflows they
had) or another signal, then killed, its stderr kept in a log file (the error message when it
dies, and those exit lines).

Also the pieces the other talk-driving benchmarks share: :func:`talk_command` and
:func:`split_talk_words` (``VOICECLI_*=value`` words set the environment, ``@PATH`` a checkout,
the rest are talk arguments)."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from voicecli.bench.virtual_audio import stop_process


@dataclass(frozen=True)
class TimedEvent:
    t_s: float
    """Arrival time (seconds on the driver's clock)."""
    data: dict[str, object]

    @property
    def type(self) -> str:
        return str(self.data.get("type", ""))


EventTest = Callable[[TimedEvent], bool]


def talk_command(*args: str) -> list[str]:
    """``voicecli talk`` with this Python (run with ``cwd`` at the checkout to use)."""
    return [sys.executable, "-m", "voicecli.cli.main", "talk", *args]


def split_talk_words(words: Sequence[str]) -> tuple[dict[str, str], str | None, list[str]]:
    """A talk configuration written as words: ``VOICECLI_X=value`` (environment), ``@PATH`` (the
    checkout talk runs from; None: this one) and talk arguments, in that order."""
    env = {w.split("=", 1)[0]: w.split("=", 1)[1] for w in words if w.startswith("VOICECLI_") and "=" in w}
    checkout = next((w[1:] for w in words if w.startswith("@")), None)
    args = [w for w in words if not (w.startswith("VOICECLI_") and "=" in w) and not w.startswith("@")]
    return env, checkout, args


class TalkProcess:
    """A program whose stdout carries JSON event lines (``talk --json``; a peer program may print
    none). Every event is kept in :attr:`events` (timestamped against ``clock0``) and queued for
    :meth:`wait_for` / :meth:`expect` / :meth:`settle`, which consume the queue in order."""

    def __init__(self, cmd: Sequence[str], env: Mapping[str, str], cwd: str | Path, log: Path,
                 clock0: float | None = None, stop_signal: int = signal.SIGINT) -> None:
        self.log = log
        self.stop_signal = stop_signal
        self.clock0 = time.monotonic() if clock0 is None else clock0
        self._log_file: IO[str] = open(log, "w")  # noqa: SIM115 - handed to the child, closed in stop()
        self.proc = subprocess.Popen(list(cmd), env=dict(env), cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=self._log_file, text=True)
        self.events: list[TimedEvent] = []
        self._new: queue.Queue[TimedEvent] = queue.Queue()
        threading.Thread(target=self._read, name="talk-events", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                ev = TimedEvent(time.monotonic() - self.clock0, json.loads(line))
                self.events.append(ev)
                self._new.put(ev)

    def state(self) -> str:
        """talk's latest state ("listening", "speaking", …)."""
        states = [e for e in self.events if e.type == "state"]
        return str(states[-1].data.get("state")) if states else ""

    def _until(self, pred: EventTest, timeout_s: float) -> tuple[list[TimedEvent], bool]:
        seen: list[TimedEvent] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                ev = self._new.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-1500:]
                    raise RuntimeError(f"talk exited with {self.proc.returncode}: {tail}") from None
                continue
            seen.append(ev)
            if pred(ev):
                return seen, True
        return seen, False

    def wait_for(self, pred: EventTest, timeout_s: float) -> TimedEvent | None:
        """The next event that matches (None: ``timeout_s`` passed first); RuntimeError, with the
        end of stderr, when the program exits meanwhile."""
        seen, found = self._until(pred, timeout_s)
        return seen[-1] if found else None

    def expect(self, pred: EventTest, timeout_s: float) -> list[TimedEvent]:
        """Like :meth:`wait_for`, but a timeout raises TimeoutError; the events consumed, the
        match last."""
        seen, found = self._until(pred, timeout_s)
        if not found:
            raise TimeoutError(f"talk: timed out; saw {[e.data for e in seen[-5:]]}")
        return seen

    def settle(self, quiet_s: float, timeout_s: float) -> list[TimedEvent]:
        """Events until talk is listening and nothing has happened for ``quiet_s`` (or
        ``timeout_s`` passed)."""
        seen: list[TimedEvent] = []
        deadline = time.monotonic() + timeout_s
        last, listening = time.monotonic(), False
        while time.monotonic() < deadline:
            try:
                ev = self._new.get(timeout=0.05)
            except queue.Empty:
                if listening and time.monotonic() - last >= quiet_s:
                    return seen
                continue
            seen.append(ev)
            last = time.monotonic()
            if ev.type == "state":
                listening = ev.data.get("state") == "listening"
        return seen

    def stop(self) -> None:
        """``stop_signal``, then SIGKILL after 10 s."""
        stop_process(self.proc, 10, self.stop_signal)
        self._log_file.close()
