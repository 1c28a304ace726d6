"""The echo canceller on real speech: the assistant's Piper voice played back into the
microphone (delayed, attenuated, through a short room response) is removed, while a human
talking over it still reaches the VAD."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import read_wav

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def far(engines):
    from voicecli.audio.resample import resample

    text = ("Hello, I am your voice assistant. The weather today is sunny with a light breeze. "
            "Tomorrow expect some clouds in the morning, clearing by the afternoon.")
    audio = np.concatenate([c.samples for c in engines.speaker.synthesize(text)])
    return resample(audio, engines.speaker.sample_rate_hz, 16000)


def room(far: np.ndarray, delay_ms: int, gain: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ir = rng.standard_normal(800) * np.exp(-np.arange(800) / 160.0)
    ir[0] = 1.0
    ir /= np.sqrt(np.sum(ir ** 2))
    wet = np.convolve(far, ir)[: len(far)]
    d = delay_ms * 16
    return gain * np.concatenate([np.zeros(d, np.float32), wet[: len(far) - d]]).astype(np.float32)


def run_aec(mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
    from voicecli.audio.echo import EchoCanceller

    aec = EchoCanceller()
    n = len(mic) // 512 * 512
    return np.concatenate([aec.process(mic[i:i + 512], ref[i:i + 512]) for i in range(0, n, 512)])


def speech_fraction(engines, audio: np.ndarray) -> float:
    vad = engines.new_vad()
    probs = vad.probabilities(audio)
    return float(np.mean(np.array(probs) > 0.5))


@pytest.mark.parametrize("delay_ms", [40, 120])
def test_echo_removed(engines, far, delay_ms):
    echo = room(far, delay_ms, 0.5)
    out = run_aec(echo, far)
    skip = 3 * 16000  # let it converge
    erle_db = 10 * np.log10(np.mean(echo[skip:len(out)] ** 2) / (np.mean(out[skip:] ** 2) + 1e-12))
    assert erle_db > 20, erle_db
    # Silero hears the raw echo as speech, and (after convergence) not the cleaned signal.
    assert speech_fraction(engines, echo[skip:]) > 0.5
    assert speech_fraction(engines, out[skip:]) < 0.05


def test_user_talking_over_the_assistant_is_still_heard(engines, far, speech_dir):
    near, _ = read_wav(speech_dir / "en_jfk_inaugural.wav")
    start = 4 * 16000
    mic = room(far, 60, 0.5)
    n = min(len(mic) - start, len(near))
    mic[start:start + n] += near[:n]
    out = run_aec(mic, far)
    ref_only = speech_fraction(engines, near[:n])
    kept = speech_fraction(engines, out[start:start + n])
    assert kept > 0.4 * ref_only, (kept, ref_only)
