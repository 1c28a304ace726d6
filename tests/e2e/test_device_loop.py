"""The device-loop benchmark, run briefly: talk on the PulseAudio virtual devices, two spoken
questions, latency read off the recorded speaker track."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.models, pytest.mark.audio, pytest.mark.slow]


def test_device_loop_benchmark_measures_each_question_from_outside(tmp_path, engines):
    out = tmp_path / "loop.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_loop.py"), "--questions", "2",
                        "--json", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(out.read_text())
    turns = data["turns"]
    assert len(turns) == 2
    for t in turns:
        assert t["talk_turns"] == 1, t  # one question, one turn
        assert t["external_ms"] is not None and 0 < t["external_ms"] < 10_000, t
        assert t["talk"]["voice_to_voice"] is not None
    assert data["summary"]["all"]["n"] == 2
