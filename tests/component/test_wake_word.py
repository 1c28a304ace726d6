"""The openWakeWord adapter against real audio: it fires on a spoken "hey jarvis" (made with the
bundled Piper voice through the project's TTS engine, and with espeak-ng) and stays quiet on
real speech without the wake word (eval/speech, examples/)."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.helpers import read_wav

pytest.importorskip("openwakeword.model", reason="openWakeWord is optional (the wake extra)")
pytestmark = pytest.mark.models

THRESHOLD = 0.5


def best_score(detector, samples16k: np.ndarray) -> float:
    """Highest score over the clip, fed in 32 ms frames as the microphone path does, with
    silence around it."""
    detector.reset()
    audio = np.concatenate([np.zeros(8000, np.float32), samples16k, np.zeros(16000, np.float32)])
    return max(detector.score(audio[i:i + 512]) for i in range(0, len(audio) - 511, 512))


@pytest.fixture(scope="module")
def detector():
    from voicecli.vad.wake import OpenWakeWordDetector

    return OpenWakeWordDetector("hey_jarvis")


@pytest.fixture(scope="module")
def piper(settings):
    from voicecli.audio.resample import resample
    from voicecli.engines import load_speaker

    speaker = load_speaker(settings)

    def say(text: str) -> np.ndarray:
        audio = np.concatenate([c.samples for c in speaker.synthesize(text)])
        return resample(audio, speaker.sample_rate_hz, 16000)
    return say


def espeak(text: str, voice: str) -> np.ndarray:
    from voicecli.audio.resample import resample

    out = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(out)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
        return resample(pcm, w.getframerate(), 16000)


@pytest.mark.parametrize("text", ["Hey Jarvis.", "Hey, Jarvis!", "Hey Jarvis, what is the capital of France?"])
def test_fires_on_hey_jarvis_said_by_piper(detector, piper, text):
    score = best_score(detector, piper(text))
    print(f"piper {text!r}: {score:.3f}")
    assert score >= THRESHOLD


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
@pytest.mark.parametrize("voice", ["en-us", "en"])
def test_fires_on_hey_jarvis_said_by_espeak(detector, voice):
    score = best_score(detector, espeak("Hey Jarvis", voice))
    print(f"espeak-ng {voice}: {score:.3f}")
    assert score >= THRESHOLD


def test_quiet_on_real_speech_without_the_wake_word(detector, speech_dir, manifest):
    clips = [speech_dir / m["file"] for m in manifest if m["language"] == "en"]
    clips += [EXAMPLES / "question.wav", EXAMPLES / "question2.wav", EXAMPLES / "jfk.wav"]
    assert len(clips) >= 15
    scores = {p.name: best_score(detector, read_wav(p)[0]) for p in clips}
    print("max score on non-wake speech:", max(scores.values()), max(scores, key=scores.__getitem__))
    assert all(s < THRESHOLD for s in scores.values()), scores


def test_quiet_on_piper_speech_that_sounds_close(detector, piper):
    for text in ["Hey there, how are you?", "Harvest season is here.", "Hey Jeeves, bring the car.", "Service."]:
        score = best_score(detector, piper(text))
        print(f"piper {text!r}: {score:.3f}")
        assert score < THRESHOLD, text


def test_unknown_name_and_missing_file_are_one_clear_line(tmp_path):
    from voicecli.errors import ModelLoadError
    from voicecli.vad.wake import OpenWakeWordDetector

    with pytest.raises(ModelLoadError, match="unknown wake word 'hey_siri'"):
        OpenWakeWordDetector("hey_siri")
    with pytest.raises(ModelLoadError, match="wake model not found"):
        OpenWakeWordDetector(str(tmp_path / "nope.onnx"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="cannot load wake model"):
        OpenWakeWordDetector(str(bad))


def test_a_custom_onnx_path_loads(detector):
    from voicecli.vad.wake import OpenWakeWordDetector, pretrained_models

    path = next(m.path for m in pretrained_models() if m.name == "alexa")
    custom = OpenWakeWordDetector(str(path))
    assert custom.name == "alexa_v0.1" and custom.phrase == "alexa"
