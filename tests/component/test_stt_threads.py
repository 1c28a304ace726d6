"""Whisper's short window (talk's live STT) runs on the cores other programs leave free: with the
real tiny.en model, a busy core (as measured) makes the next transcript come from the one-thread
copy of the model, an idle machine from the configured threads, with the same words either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicecli.audio.decode import decode_audio
from voicecli.stt.types import TranscribeOptions

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parents[2]
LIVE = TranscribeOptions(language="en", without_timestamps=True, short_window_s=10.0)


class CountingModel:
    """Delegates to a CTranslate2 Whisper and counts the encodes it ran."""

    def __init__(self, model: object) -> None:
        self._model = model
        self.encodes = 0

    def encode(self, *args: object, **kw: object) -> object:
        self.encodes += 1
        return self._model.encode(*args, **kw)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._model, name)


def test_the_live_transcript_runs_on_the_free_cores_and_says_the_same(engines, monkeypatch):
    tr = engines.transcriber
    assert tr._one_thread is not None  # two cores here: a one-thread copy is loaded beside the model
    spy = CountingModel(tr._one_thread)
    monkeypatch.setattr(tr, "_one_thread", spy)
    audio = decode_audio(ROOT / "examples" / "question.wav")
    monkeypatch.setattr(tr._load, "cores", lambda: 1.0)  # a build keeps one core busy
    busy = tr.transcribe(audio, LIVE).text
    assert spy.encodes == 1
    monkeypatch.setattr(tr._load, "cores", lambda: 0.0)  # it finished
    idle = tr.transcribe(audio, LIVE).text
    assert spy.encodes == 1
    assert busy == idle and "capital" in idle.lower()
