"""Which models the Wyoming server offers and how it loads them (no model is loaded: the Piper
constructor is replaced by a recorder, everything above it is the real code path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicecli.config import resolve
from voicecli.server.wyoming import WyomingEngines

DROPIN_VOICES = ("en_US-alpha-low", "de_DE-beta-low")


class RecordingSpeaker:
    """Stands in for voicecli.tts.piper_voice.PiperSpeaker: records how it was constructed."""

    made: list[tuple[str, int]] = []

    def __init__(self, model_path: str | Path, name: str, threads: int = 0) -> None:
        self.made.append((name, threads))
        self.name = name
        self.sample_rate_hz = 22050


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """A drop-in folder with a fake Whisper model and two fake voices (files only)."""
    whisper = tmp_path / "fake-whisper"
    whisper.mkdir()
    (whisper / "model.bin").write_bytes(b"")
    (whisper / "config.json").write_text("{}")
    for name in DROPIN_VOICES:
        (tmp_path / f"{name}.onnx").write_bytes(b"")
        (tmp_path / f"{name}.onnx.json").write_text("{}")
    return tmp_path


@pytest.mark.parametrize("by_path", [False, True], ids=["voice-by-name", "voice-by-path"])
def test_wyoming_loaded_voices_honour_tts_threads(models_dir, monkeypatch, by_path):
    """Regression: voices loaded by the Wyoming server ignored ``tts.threads`` (talk and REST honour it)."""
    from voicecli.tts import piper_voice

    monkeypatch.setattr(piper_voice, "PiperSpeaker", RecordingSpeaker)
    monkeypatch.setattr(RecordingSpeaker, "made", [])
    voice = str(models_dir / f"{DROPIN_VOICES[0]}.onnx") if by_path else DROPIN_VOICES[0]
    settings = resolve({"tts.threads": 3, "models.dir": str(models_dir), "stt.model": "fake-whisper",
                        "tts.voice": voice}, env={}, file=Path("/nonexistent/config.toml")).settings
    engines = WyomingEngines.from_settings(settings, preload=False)
    try:
        assert [s.card.name for s in engines.tts][:2] == list(DROPIN_VOICES)  # the configured voice first
        for slot in engines.tts:  # the default and every other voice on offer
            assert slot.get().name == slot.card.name
    finally:
        engines.close()
    assert len(RecordingSpeaker.made) == len(engines.tts) >= 2
    assert all(threads == 3 for _, threads in RecordingSpeaker.made), RecordingSpeaker.made


def test_voice_languages_come_from_the_piper_name_when_nothing_declares_them(models_dir):
    settings = resolve({"models.dir": str(models_dir), "stt.model": "fake-whisper", "tts.voice": DROPIN_VOICES[0]},
                       env={}, file=Path("/nonexistent/config.toml")).settings
    engines = WyomingEngines.from_settings(settings, preload=False)
    try:
        languages = {s.card.name: s.card.languages for s in engines.tts}
        assert languages[DROPIN_VOICES[0]] == ("en_US",) and languages[DROPIN_VOICES[1]] == ("de_DE",)
        assert engines.stt[0].card.name == "fake-whisper" and "de" in engines.stt[0].card.languages  # multilingual
    finally:
        engines.close()
