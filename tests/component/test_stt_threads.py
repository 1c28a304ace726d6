"""Whisper's short window (talk's live STT) runs on a one-thread copy of the model: with a window
that short two threads wait on each other more than they gain. With the real tiny.en model: the
short window uses the copy, a file's 30 s windows the configured threads, and both say the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicecli.audio.decode import decode_audio
from voicecli.stt.types import TranscribeOptions

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parents[2]
LIVE = TranscribeOptions(language="en", without_timestamps=True, short_window_s=10.0)
FILE = TranscribeOptions(language="en")


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


def test_the_live_transcript_runs_on_one_thread_and_says_the_same(engines, monkeypatch):
    tr = engines.transcriber
    assert tr._one_thread is not None  # two cores here: a one-thread copy is loaded beside the model
    spy = CountingModel(tr._one_thread)
    monkeypatch.setattr(tr, "_one_thread", spy)
    audio = decode_audio(ROOT / "examples" / "question.wav")
    live = tr.transcribe(audio, LIVE).text
    assert spy.encodes == 1
    whole = tr.transcribe(audio, FILE).text
    assert spy.encodes == 1  # a file's path: the model with all threads
    assert live == whole and "capital" in live.lower()
