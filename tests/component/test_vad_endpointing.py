"""Silero VAD + the endpointer on real audio: real speech makes exactly one turn, and noise
(car horn, dog, thunderstorm — ESC-50 clips), clicks and a cough-like burst make none."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import read_wav

pytestmark = pytest.mark.models


def turns(engines, settings, audio: np.ndarray) -> list:
    from voicecli.pipeline.options import endpointer_params
    from voicecli.vad.endpointer import Endpointer, UtteranceEnded

    vad = engines.new_vad()
    ep = Endpointer(endpointer_params(settings))
    audio = np.concatenate([audio, np.zeros(16000, np.float32)])
    out = []
    for p in vad.probabilities(audio):
        out += [e for e in ep.step(p) if isinstance(e, UtteranceEnded)]
    return out


@pytest.mark.parametrize("clip", ["noise_esc50_car_horn_2-100648-A-43.wav", "noise_esc50_dog_1-100032-A-0.wav",
                                  "noise_esc50_thunderstorm_3-103051-C-19.wav",
                                  "noise_esc50_thunderstorm_4-156993-A-19.wav"])
def test_noise_does_not_start_a_turn(engines, settings, speech_dir, clip):
    audio, _ = read_wav(speech_dir / clip)
    assert turns(engines, settings, audio) == []


def test_clicks_and_a_short_burst_do_not_start_a_turn(engines, settings):
    rng = np.random.default_rng(1)
    audio = np.zeros(16000 * 4, np.float32)
    for t in (0.5, 1.3, 2.2):  # clicks: 2 ms spikes
        i = int(t * 16000)
        audio[i:i + 32] = 0.9 * np.sign(rng.standard_normal(32))
    burst = rng.standard_normal(int(0.15 * 16000)).astype(np.float32) * 0.3  # a 150 ms cough-like burst
    audio[int(3 * 16000):int(3 * 16000) + len(burst)] += burst * np.hanning(len(burst)).astype(np.float32)
    assert turns(engines, settings, audio) == []


@pytest.mark.parametrize("clip", ["en_goforward.wav", "en_librispeech_1272-128104-0000.wav"])
def test_one_utterance_is_one_turn_ending_near_the_last_word(engines, settings, speech_dir, clip):
    audio, _ = read_wav(speech_dir / clip)
    found = turns(engines, settings, audio)
    assert len(found) == 1
    end_s = (found[0].last_voiced_frame + 1) * 0.032
    speech = np.nonzero(np.abs(audio) > 0.02)[0]
    assert abs(end_s - speech[-1] / 16000) < 0.35, (end_s, speech[-1] / 16000)
