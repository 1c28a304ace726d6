"""Smart Turn v3 through voicecli's adapter on real speech: the features are pipecat's (the
model was trained on those), a finished question reads as complete and a sentence cut at a
pause as unfinished."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.helpers import read_wav

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def smart_turn():
    from voicecli.vad.smart_turn import bundled_model_path, load_smart_turn

    path = bundled_model_path()
    if path is None:
        pytest.skip("Smart Turn is not installed (make install adds pipecat-ai --no-deps)")
    return load_smart_turn(path)


def _pipecat_features():
    """pipecat's vendored Whisper feature extractor, loaded from its file (pipecat itself is
    installed without its dependencies, so the package cannot be imported)."""
    from voicecli.vad.smart_turn import bundled_model_path

    path = bundled_model_path()
    assert path is not None
    spec = importlib.util.spec_from_file_location("_pipecat_whisper_features",
                                                  path.parents[1] / "_whisper_features.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compute_whisper_log_mel_features


@pytest.mark.parametrize("clip", ["jfk.wav", "question.wav"])
def test_features_are_pipecats(smart_turn, clip):
    from voicecli.vad.smart_turn import last_window

    audio, _ = read_wav(EXAMPLES / clip)
    ours = smart_turn.features(audio)
    theirs = _pipecat_features()(last_window(audio), do_normalize=True)
    assert ours.shape == theirs.shape == (80, 800)
    assert np.max(np.abs(ours - theirs)) < 1e-4


def test_a_finished_question_is_complete_and_a_sentence_cut_at_a_pause_is_not(smart_turn, speech_dir):
    question, _ = read_wav(speech_dir / "en_timit_LDC93S1.wav")
    assert smart_turn.probability(question) > 0.9
    jfk, _ = read_wav(EXAMPLES / "jfk.wav")
    cut = jfk[: int(4.60 * 16000)]  # "And so my fellow Americans, ask not" + 200 ms of its pause
    assert smart_turn.probability(cut) < 0.5


def test_the_model_is_loaded_once_per_process(smart_turn):
    from voicecli.vad.smart_turn import load_smart_turn

    assert load_smart_turn(smart_turn.path) is smart_turn
