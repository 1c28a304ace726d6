"""The device-loop benchmark, run briefly: talk on the PulseAudio virtual devices, two spoken
questions, latency read off the recorded speaker track."""

from __future__ import annotations

import importlib.util
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
    # what talk heard, scored with Whisper's English normaliser against the 16 words asked
    heard = data["summary"]["variants"]["talk"]["heard_wer"]
    assert heard["reference_words"] == 16 and 0 <= heard["wer"] <= 100, heard


def test_the_eval_set_questions_are_every_english_clip_cut_after_its_voice(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("device_loop_bench", ROOT / "benchmarks" / "device_loop.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    eval_dir = ROOT / "eval" / "speech"
    english = [json.loads(x) for x in (eval_dir / "manifest.jsonl").read_text().splitlines() if x.strip()]
    english = [e for e in english if e["language"] == "en"]
    questions = bench.make_questions(tmp_path, eval_dir, eval_set=True)
    assert [(text, voice) for text, voice, _ in questions] == [(e["text"], "real:" + e["file"]) for e in english]
    goforward = next(samples for _, voice, samples in questions if voice == "real:en_goforward.wav")
    assert len(goforward) < 0.85 * 2.786 * 16000  # its room tone after "meters" is not played
