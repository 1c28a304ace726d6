"""talk's other modes and its error paths, run as a user would."""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXAMPLES
from tests.helpers import json_lines, read_wav, run_voicecli

pytestmark = pytest.mark.models


def one_error_line(r) -> str:
    assert r.returncode != 0, r.stdout
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def test_text_mode_speaks_typed_turns_and_history_shows_them(tmp_path):
    db = tmp_path / "h.sqlite3"
    out = tmp_path / "out.wav"
    r = run_voicecli("talk", "--text", "--output", str(out), "--json", "--history", str(db),
                     "--llm-max-tokens", "30", input="Hello there.\nWhat is the capital of France?\n")
    assert r.returncode == 0, r.stderr
    turns = [o for o in json_lines(r.stdout) if o["type"] == "turn"]
    assert [t["user"] for t in turns] == ["Hello there.", "What is the capital of France?"]
    assert all(t["assistant"] for t in turns)
    samples, rate = read_wav(out)
    assert len(samples) / rate > 1.0 and abs(samples).max() > 0.05  # replies were spoken

    listing = run_voicecli("history", "--history", str(db), "--json")
    assert listing.returncode == 0, listing.stderr
    sessions = json.loads(listing.stdout)
    assert len(sessions) == 1 and sessions[0]["turns"] == 2
    shown = run_voicecli("history", "last", "--history", str(db))
    assert shown.returncode == 0, shown.stderr
    assert "What is the capital of France?" in shown.stdout and turns[1]["assistant"][:20] in shown.stdout


@pytest.mark.parametrize("args,message", [
    (["--input", "/nonexistent/q.wav"], "/nonexistent/q.wav: no such file"),
    (["--input", str(EXAMPLES)], "is a directory"),
    (["--voice", "{bad_onnx}"], "cannot load Piper voice"),
    (["--llm-model", "{bad_gguf}"], "cannot load GGUF model"),
    (["--model", "no-such-whisper"], "stt model 'no-such-whisper' not found"),
    (["--output", "/proc/nope/out.wav"], "cannot write /proc/nope/out.wav"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    bad_onnx = tmp_path / "bad.onnx"
    bad_onnx.write_bytes(b"garbage")
    (tmp_path / "bad.onnx.json").write_text("{}")
    bad_gguf = tmp_path / "bad.gguf"
    bad_gguf.write_bytes(b"GGUF-truncated")
    args = [a.format(bad_onnx=bad_onnx, bad_gguf=bad_gguf) for a in args]
    base = ["talk", "--no-history", "--plain"]
    if "--input" not in args:
        base += ["--input", str(EXAMPLES / "question.wav")]
    if "--output" not in args:
        base += ["--output", str(tmp_path / "o.wav")]
    assert message in one_error_line(run_voicecli(*base, *args))


def test_history_without_database_is_one_clear_line(tmp_path):
    assert "no history yet" in one_error_line(run_voicecli("history", "--history", str(tmp_path / "none.db")))


def test_an_english_only_model_refuses_another_language(tmp_path):
    # tiny.en with --language de would answer in English as if nothing was asked: refused instead
    r = run_voicecli("talk", "--text", "--plain", "--language", "de", "--output", str(tmp_path / "out.wav"),
                     input="Hallo.\n")
    assert r.returncode == 2, r.stderr
    assert "model 'tiny.en' is English-only and cannot transcribe 'de'" in r.stderr
    assert "Traceback" not in r.stderr
