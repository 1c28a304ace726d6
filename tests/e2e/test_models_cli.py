"""`voicecli models`, `voicecli doctor` and `voicecli config` as a user runs them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import run_voicecli


def test_models_lists_every_bundled_model_with_size_source_and_path():
    r = run_voicecli("models", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    found = {(m["kind"], m["name"]): m for m in doc["available"]}
    for key in [("stt", "tiny.en"), ("stt", "base"), ("tts", "en_US-joe-medium"), ("llm", "smollm2-135m"),
                ("vad", "silero-vad")]:
        assert key in found, sorted(found)
        m = found[key]
        assert m["size_bytes"] > 1_000_000 and Path(m["path"]).exists() and m["source"].startswith("package (")
    assert {"tiny", "small"} <= {e["name"] for e in doc["downloadable"]}
    assert doc["allow_download"] is False


def test_models_table_and_dropin(tmp_path):
    dropin = tmp_path / "drop"
    (dropin / "my-whisper").mkdir(parents=True)
    (dropin / "my-whisper" / "model.bin").write_bytes(b"\0" * 2048)
    (dropin / "my-whisper" / "config.json").write_text("{}")
    r = run_voicecli("models", "--kind", "stt", env={"VOICECLI_MODELS_DIR": str(dropin)})
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if "my-whisper" in line]
    assert lines and "stt" in lines[0] and "2.0 KB" in lines[0] and f"models-dir ({dropin})" in lines[0]
    assert str(dropin / "my-whisper") in r.stdout
    assert "tiny.en" in r.stdout and "llm" not in r.stdout.split("downloadable")[0]
    assert "downloads off: pass --allow-download" in r.stdout


def test_models_bad_kind_is_usage_error():
    r = run_voicecli("models", "--kind", "video")
    assert r.returncode == 2 and r.stderr.strip() == "error: unknown model kind 'video' (choose stt, tts, llm, vad or wake)"


def test_doctor_checks_everything_on_one_screen():
    r = run_voicecli("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for area in ("python", "config", "STT (faster-whisper)", "LLM", "model (stt)", "model (tts)", "model (llm)",
                 "model (vad)", "audio devices", "llama.cpp CPU features"):
        assert area in out, area
    assert "Python 3." in out and "tiny.en" in out
    assert "no AMX kernels" in out  # this venv's llama.cpp is built without AMX (see Makefile)
    assert out.rstrip().endswith("ready") or "ready (warnings above are optional)" in out
    assert len(out.splitlines()) < 60  # one screen


def test_doctor_reports_a_missing_model_and_fails(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[tts]\nvoice = "xx_XX-nobody-low"\n')
    r = run_voicecli("doctor", env={"VOICECLI_CONFIG": str(cfg)})
    assert r.returncode == 1
    assert "tts model 'xx_XX-nobody-low' not found" in r.stdout and "problem(s) to fix" in r.stdout


def test_config_shows_value_source_and_description(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("[vad]\nend_silence_ms = 500\n[stt]\nbeam_size = 2\n")
    r = run_voicecli("config", "--json", env={"VOICECLI_CONFIG": str(cfg), "VOICECLI_STT_BEAM_SIZE": "3"})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["vad.end_silence_ms"]["value"] == 500 and doc["vad.end_silence_ms"]["source"] == f"file ({cfg})"
    assert doc["stt.beam_size"] == {"value": 3, "source": "env (VOICECLI_STT_BEAM_SIZE)",
                                    "env": "VOICECLI_STT_BEAM_SIZE", "description": doc["stt.beam_size"]["description"]}
    assert doc["stt.model"]["source"] == "default" and doc["stt.model"]["description"].startswith("Whisper model")
    from voicecli.config import all_keys

    assert sorted(doc) == sorted(all_keys())
    table = run_voicecli("config", env={"VOICECLI_CONFIG": str(cfg), "VOICECLI_STT_BEAM_SIZE": "3"}).stdout
    row = next(line for line in table.splitlines() if "stt.beam_size" in line)
    assert "3" in row and "env (VOICECLI_STT_BEAM_SIZE)" in row and "Beam size" in row


def test_config_hides_the_api_key():
    r = run_voicecli("config", "--json", env={"VOICECLI_LLM_API_KEY": "sk-secret"})
    assert "sk-secret" not in r.stdout and json.loads(r.stdout)["llm.api_key"]["value"] == "***"


def test_config_path(tmp_path):
    r = run_voicecli("config", "--path", env={"VOICECLI_CONFIG": str(tmp_path / "c.toml")})
    assert r.returncode == 0 and r.stdout.strip() == str(tmp_path / "c.toml")


def test_config_path_default_is_platformdirs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "VOICECLI_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    import subprocess

    from tests.helpers import ROOT, VOICECLI

    r = subprocess.run([*VOICECLI, "config", "--path"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
                       check=False)
    assert r.stdout.strip() == str(tmp_path / "xdg" / "voicecli" / "config.toml")


@pytest.mark.parametrize("text,message", [
    ("[stt\n", "is not valid TOML"),
    ("[stt]\nbeam_size = 'wide'\n", "invalid value for stt.beam_size"),
])
def test_config_with_a_bad_file_is_one_line_exit_2(tmp_path, text, message):
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    r = run_voicecli("config", env={"VOICECLI_CONFIG": str(cfg)})
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
