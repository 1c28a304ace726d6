"""Piper on a busy machine (the real joe voice): while other programs keep a core busy, a
warmed-up voice synthesises on its one-thread session (two spinning threads then wait for each
other on the shared core: 230 vs 179 ms for a sentence here), on two threads otherwise."""

from __future__ import annotations

import os

import pytest

from voicecli.tts import piper_voice

pytestmark = pytest.mark.models


class _Load:
    def __init__(self, cores: float | None) -> None:
        self._cores = cores

    def cores(self) -> float | None:
        return self._cores


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: there is only the one-thread way")
@pytest.mark.parametrize("busy_cores,one_thread", [(1.0, True), (0.0, False), (None, False)])
def test_a_busy_core_switches_the_voice_to_one_thread(engines, monkeypatch, busy_cores, one_thread):
    speaker = engines.speaker
    speaker.warm_up()
    monkeypatch.setattr(piper_voice, "other_load", lambda: _Load(busy_cores))
    assert (speaker._voice_now() is speaker._one_thread) is one_thread
    audio = [c.samples for c in speaker.synthesize("The capital of France is Paris.")]
    assert sum(len(a) for a in audio) > speaker.sample_rate_hz  # over a second of speech either way
