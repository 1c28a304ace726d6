"""How many cores other programs keep busy right now, so llama.cpp (and Piper, see
:mod:`voicecli.tts.piper_voice`) can take only what is free.

llama.cpp's threads wait for each other at every layer: with two threads on a two-core machine
where a browser or a build keeps one core busy, each token waits for the thread that shares its
core, and the reply's first token took 310 ms instead of 168 ms with one thread
(``benchmarks/busy_threads.py``); on an idle machine two threads win (98 vs 154 ms). The thread
count is therefore chosen per reply from the load other processes put on the machine over the
last couple of seconds (the whole machine's busy time from ``/proc/stat`` minus this process's
own CPU time, so the assistant's own STT, VAD and TTS do not count against it).

Where ``/proc/stat`` does not exist (macOS, Windows) the load is unknown and the configured
thread count is used as before."""

from __future__ import annotations

import collections
import functools
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

SAMPLE_PERIOD_S = 0.5
"""How often the load is sampled…"""
WINDOW_SAMPLES = 4
"""…and how many periods it is averaged over (~2 s: a reply reacts to a build that just started)."""
SPARE_CORE_MARGIN = 0.4
"""A core counts as free when other programs use less than 1 − this of it (0.6 of a core busy
already makes a second llama.cpp thread slower than one)."""
PROC_STAT = Path("/proc/stat")


class Sample(NamedTuple):
    wall_s: float
    machine_busy_s: float
    """CPU seconds all processes spent, summed over cores."""
    own_s: float
    """CPU seconds this process spent."""


def read_sample(stat: Path = PROC_STAT) -> Sample | None:
    """The machine's and this process's CPU time now; None without ``/proc/stat``."""
    try:
        first = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    ticks = [int(x) for x in first[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    times = os.times()
    return Sample(time.monotonic(), busy / os.sysconf("SC_CLK_TCK"), times.user + times.system)


def other_cores(older: Sample, newer: Sample) -> float:
    """Cores other processes kept busy between two samples (never below 0)."""
    wall = newer.wall_s - older.wall_s
    if wall <= 0:
        return 0.0
    other = (newer.machine_busy_s - older.machine_busy_s) - (newer.own_s - older.own_s)
    return max(0.0, other / wall)


def threads_for(configured: int, cores: int, other: float | None) -> int:
    """llama.cpp threads for the next reply: at most ``configured``, at most the cores other
    programs leave free, at least one."""
    if other is None:
        return configured
    free = cores - other
    return max(1, min(configured, math.floor(free + SPARE_CORE_MARGIN)))


class OtherLoad:
    """Samples the load on a daemon thread; :meth:`cores` is the recent average (None: unknown)."""

    def __init__(self, read: Callable[[], Sample | None] = read_sample, period_s: float = SAMPLE_PERIOD_S) -> None:
        self._read = read
        self._samples = collections.deque[Sample](maxlen=WINDOW_SAMPLES + 1)
        self._lock = threading.Lock()
        first = read()
        if first is None:
            return
        self._samples.append(first)
        self._stop = threading.Event()
        threading.Thread(target=self._run, args=(period_s,), name="cpu-share", daemon=True).start()

    def _run(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            sample = self._read()
            if sample is not None:
                with self._lock:
                    self._samples.append(sample)

    def cores(self) -> float | None:
        with self._lock:
            if len(self._samples) < 2:
                return None
            return other_cores(self._samples[0], self._samples[-1])

    def close(self) -> None:
        if self._samples:
            self._stop.set()


@functools.cache
def other_load() -> OtherLoad:
    """The process's one sampler (the LLM and the TTS ask the same one)."""
    return OtherLoad()
