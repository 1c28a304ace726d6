"""The load other programs put on the machine, and the llama.cpp thread count chosen from it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from voicecli.cpu_share import OtherLoad, Sample, other_cores, read_sample, threads_for


@pytest.mark.parametrize("configured,cores,other,expected", [
    (2, 2, None, 2),   # unknown load (no /proc/stat): as configured
    (2, 2, 0.0, 2),    # idle: both cores
    (2, 2, 0.3, 2),    # a little background work: still two
    (2, 2, 0.7, 1),    # a core mostly busy: a second thread would wait on it
    (2, 2, 1.0, 1),
    (2, 2, 2.5, 1),    # never fewer than one
    (8, 16, 10.0, 6),  # a big machine with a build running: what is free, at most as configured
    (1, 2, 0.0, 1),
])
def test_threads_follow_the_free_cores(configured, cores, other, expected):
    assert threads_for(configured, cores, other) == expected


def test_own_cpu_time_does_not_count_as_other_load():
    older, newer = Sample(0.0, 100.0, 10.0), Sample(2.0, 103.0, 11.6)  # 3 core-s busy, 1.6 of them ours
    assert other_cores(older, newer) == pytest.approx(0.7)
    assert other_cores(newer, Sample(2.0, 103.0, 11.6)) == 0.0  # no time passed


def test_read_sample_parses_proc_stat_and_refuses_anything_else(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 1000 20 0 10 0 0 0\ncpu0 50 0 25 500 10 0 5 0 0 0\n")
    s = read_sample(stat)
    assert s is not None and s.machine_busy_s > 0
    stat.write_text("intr 1 2 3\n")
    assert read_sample(stat) is None
    assert read_sample(tmp_path / "missing") is None


def test_unknown_load_without_proc_stat():
    load = OtherLoad(read=lambda: None)
    assert load.cores() is None
    load.close()


@pytest.mark.skipif(read_sample() is None, reason="needs /proc/stat (Linux)")
def test_a_spinning_process_is_seen_as_about_one_busy_core():
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        load = OtherLoad(period_s=0.25)
        time.sleep(1.3)
        busy = load.cores()
        load.close()
    finally:
        spin.kill()
        spin.wait()
    assert busy is not None and 0.6 < busy < 2.0, busy  # the spin loop (plus whatever else runs here)
    idle_self = OtherLoad(period_s=0.25)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:  # this process spinning is not "other" load
        pass
    mine = idle_self.cores()
    idle_self.close()
    assert mine is not None and mine < busy, (mine, busy)
