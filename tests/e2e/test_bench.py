"""`voicecli bench`: the JSON report's schema and figures (real models, `--quick`), plus the pure
parts it is built from (WER normalisation, percentiles, comparison)."""

from __future__ import annotations

import json
import math
import re

import pytest

from tests.helpers import run_voicecli

REQUIRED = ("voice_to_voice_ms.p50", "voice_to_voice_ms.p95", "stt.rtf", "stt.wer", "llm.first_token_ms.p50",
            "llm.tokens_per_s", "tts.first_audio_ms.p50", "tts.rtf")
FIGURE_SECTIONS = ("voice_to_voice_ms", "stages_ms", "vad", "stt", "llm", "tts", "e2e", "load_ms", "stage_wall_s")
MAY_BE_ZERO = re.compile(r"(^|\.)(stt_wait|other|hidden_by_speculation)(\.|$)|^stt\.wer(_errors)?$"
                         r"|^stt\.latency_ms_by_length\.\d+\.bucket_s\.0$")
"""Figures that can legitimately be 0: STT wait when speculative STT finished before the
endpoint; `other` and `hidden_by_speculation` (per turn, one of the two is 0); WER on a perfect
transcript; the lower bound of the shortest length bucket."""


def get(data: dict, key: str):
    for part in key.split("."):
        data = data[part]
    return data


# --- pure parts (no models) ----------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("Mr. Quilter is the apostle.", "mister quilter is the apostle"),
    ("1, 2, 3.", "one two three"),
    ("Go forward 10 meters.", "go forward ten meters"),
    ("He was not an ill-disposed young man", "he was not an ill disposed young man"),
    ("the 15th century", "the fifteenth century"),
    ("about 1,000 people", "about one thousand people"),
    ("It's   DONE!", "it's done"),
])
def test_wer_normalisation(text, expected):
    from voicecli.bench.wer import normalize_text

    assert normalize_text(text) == expected


@pytest.mark.parametrize("refs,hyps", [
    (["a b c d"], ["a x c"]),
    (["the cat sat on the mat", "hello world"], ["the cat sat on mat", "hello there world"]),
    (["one two three"], [""]),
    (["x"], ["y z w"]),
])
def test_wer_matches_jiwer(refs, hyps):
    jiwer = pytest.importorskip("jiwer")
    from voicecli.bench.wer import word_error_rate

    assert word_error_rate(refs, hyps).wer == pytest.approx(jiwer.wer(refs, hyps))


def test_wer_formatting_is_not_an_error():
    from voicecli.bench.wer import word_error_rate

    assert word_error_rate(["ten of clubs", "one two three"], ["10 of clubs.", "1, 2, 3."]).wer == 0.0


def test_percentiles_match_numpy():
    import numpy as np

    from voicecli.bench.stats import summarize

    values = [5.0, 1.0, 9.0, 3.0, 7.5, 2.0, 100.0]
    s = summarize(values)
    assert (s.p50, s.p95, s.max, s.min, s.n) == pytest.approx(
        (np.percentile(values, 50), np.percentile(values, 95), 100.0, 1.0, 7))
    with pytest.raises(ValueError):
        summarize([])


def test_stage_selection():
    from voicecli.bench.runner import parse_stages
    from voicecli.errors import VoicecliError

    assert parse_stages(None) == ("vad", "stt", "llm", "tts", "e2e")
    assert parse_stages("e2e, vad") == ("vad", "e2e")
    with pytest.raises(VoicecliError, match="unknown bench stage"):
        parse_stages("vad,gpu")


def test_compare_verdicts_respect_direction_and_noise():
    from voicecli.bench.report import compare

    old = {"schema": 1, "mode": "full", "voice_to_voice_ms": {"p50": 1000.0}, "llm": {"tokens_per_s": 50.0},
           "stt": {"wer": 0.05}, "machine": {"cpu": "A", "cores_usable": 2}}
    new = {"schema": 1, "mode": "full", "voice_to_voice_ms": {"p50": 800.0}, "llm": {"tokens_per_s": 40.0},
           "stt": {"wer": 0.051}, "machine": {"cpu": "B", "cores_usable": 2}}
    deltas, warnings = compare(old, new)
    verdicts = {d.figure.key: d.verdict for d in deltas}
    assert verdicts == {"voice_to_voice_ms.p50": "better", "llm.tokens_per_s": "worse", "stt.wer": "same"}
    assert any("CPU" in w for w in warnings)


def test_unknown_stage_is_one_line_error_before_loading_models():
    r = run_voicecli("bench", "--only", "vad,gpu", timeout=60)
    assert r.returncode == 2
    assert "unknown bench stage(s): gpu" in r.stderr and "Traceback" not in r.stderr


def test_compare_with_missing_file_fails_before_measuring(tmp_path):
    r = run_voicecli("bench", "--only", "vad", "--compare", str(tmp_path / "nope.json"), timeout=60)
    assert r.returncode == 1
    assert "nope.json" in r.stderr and "Traceback" not in r.stderr


# --- the real thing ----------------------------------------------------------------------

@pytest.mark.models
@pytest.mark.slow
def test_quick_bench_json_schema_and_positive_figures(tmp_path):
    out, png = tmp_path / "out.json", tmp_path / "breakdown.png"
    r = run_voicecli("bench", "--quick", "--json", str(out), "--plot", str(png), timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "voice-to-voice" in r.stdout and "word error rate" in r.stdout
    data = json.loads(out.read_text())

    for key in REQUIRED:
        value = get(data, key)
        assert isinstance(value, (int, float)) and not isinstance(value, bool), key
        assert math.isfinite(value) and value > 0, (key, value)

    leaves = []

    def walk(node, path):
        if isinstance(node, bool):
            return
        if isinstance(node, (int, float)):
            leaves.append((path, node))
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}.{i}")

    for section in FIGURE_SECTIONS:
        walk(data[section], section)
    assert len(leaves) > 100
    for path, value in leaves:
        assert math.isfinite(value), path
        assert value > 0 or (value == 0 and MAY_BE_ZERO.search(path)), (path, value)

    # Schema: nested summaries, the breakdown, and the facts needed to compare runs.
    for summary in ("voice_to_voice_ms", "llm.first_token_ms", "tts.first_audio_ms", "stt.latency_ms"):
        assert set(get(data, summary)) == {"p50", "p95", "max", "min", "mean", "n"}, summary
    assert data["voice_to_voice_ms"]["n"] == 3 and data["e2e"]["turns_n"] == 3
    assert set(data["stages_ms"]) == {"endpoint_wait", "stt", "stt_wait", "llm_first_token", "tts_first_audio",
                                      "other", "hidden_by_speculation", "after_endpoint"}
    for turn in data["e2e"]["turns"]:  # the breakdown adds up to the measured voice-to-voice
        lat = turn["latency_ms"]
        parts = sum(lat[k] for k in ("endpoint_wait", "stt_wait", "llm_first_token", "tts_first_audio", "other"))
        assert parts - lat["hidden_by_speculation"] == pytest.approx(lat["voice_to_voice"], abs=0.5), lat
        assert lat["after_endpoint"] == pytest.approx(lat["voice_to_voice"] - lat["endpoint_wait"], abs=0.2)
    assert data["voice_to_voice_ms"]["p50"] <= data["voice_to_voice_ms"]["p95"] <= data["voice_to_voice_ms"]["max"]
    for key in ("first_token_cold_ms", "first_token_cached_ms"):
        assert data["llm"][key] > 0
    assert data["tts"]["first_audio_short_ms"] > 0 and data["tts"]["first_audio_long_ms"] > 0
    assert data["vad"]["frame_ms_p50"] > 0
    assert data["stt"]["clips_n"] == 21 and 0 < data["stt"]["wer"] < 0.3  # tiny.en: ~5 % on the English clips
    assert data["stt"]["latency_ms_by_length"]
    for turn in data["e2e"]["turns"]:
        assert turn["user"] and turn["assistant"] and not turn["interrupted"]
    m = data["machine"]
    assert m["cpu"] and m["cores_usable"] >= 1 and m["python"] and m["versions"]["faster-whisper"]
    assert {k: data["models"][k]["name"] for k in ("stt", "llm", "tts")} == {
        "stt": "tiny.en", "llm": "smollm2-135m", "tts": "en_US-joe-medium"}
    assert data["settings"]["vad"]["end_silence_ms"] == 400
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # --compare against it, running one cheap stage: the table shows the shared figure.
    out2 = tmp_path / "vad.json"
    r2 = run_voicecli("bench", "--only", "vad", "--json", str(out2), "--compare", str(out), timeout=120)
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert "compared with" in r2.stdout and "VAD per 32 ms frame" in r2.stdout
    vad_only = json.loads(out2.read_text())
    assert "voice_to_voice_ms" not in vad_only and "stt" not in vad_only
    fig = vad_only["compare"]["figures"]["vad.frame_ms_p50"]
    assert fig["old"] == data["vad"]["frame_ms_p50"] and fig["new"] == vad_only["vad"]["frame_ms_p50"]
