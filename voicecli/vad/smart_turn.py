"""Smart Turn v3 (pipecat-ai's semantic end-of-turn model, BSD-2-Clause) through onnxruntime.

Input: the turn's last 8 s of 16 kHz audio (zero-padded at the front), normalised to zero
mean and unit variance, as 80×800 Whisper log-mel features; output: the probability that the
turn is complete. The features come from faster-whisper's extractor, which gives the same
numbers as pipecat's vendored one (``tests/component/test_smart_turn.py``).

The 8.7 MB model ships inside the ``pipecat-ai`` wheel; it is located without importing
pipecat (``make install`` installs the wheel with ``--no-deps``)."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.errors import ModelLoadError

WINDOW_S = 8
WINDOW_SAMPLES = WINDOW_S * PIPELINE_RATE_HZ
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
_PACKAGE_DIR = ("audio", "turn", "smart_turn", "data")
_NORMALIZE_EPS = 1e-7


def bundled_model_path() -> Path | None:
    """The Smart Turn ONNX inside an installed ``pipecat-ai``, or None (not installed, or an
    unrelated package named pipecat). Finds the package without importing it."""
    try:
        spec = importlib.util.find_spec("pipecat")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(location).joinpath(*_PACKAGE_DIR, MODEL_FILE)
        if path.is_file():
            return path
    return None


def last_window(audio: np.ndarray) -> np.ndarray:
    """The last 8 s of ``audio``, zero-padded at the front to exactly 8 s (float32)."""
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) >= WINDOW_SAMPLES:
        return audio[-WINDOW_SAMPLES:]
    return np.pad(audio, (WINDOW_SAMPLES - len(audio), 0))


class SmartTurnModel:
    """One loaded model; ``probability`` may be called from any thread (one at a time is
    enough: a conversation asks once per pause)."""

    def __init__(self, model_path: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(model_path), sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises several private exception types
            raise ModelLoadError(f"cannot load Smart Turn from {model_path}: {exc}",
                                 "reinstall it (make install) or set vad.turn_detector = silence") from exc
        self._features = FeatureExtractor(chunk_length=WINDOW_S)
        self._lock = threading.Lock()
        self.path = Path(model_path)

    def features(self, audio: np.ndarray) -> np.ndarray:
        """80×800 log-mel features of the last 8 s of ``audio``."""
        x = last_window(audio)
        x = (x - x.mean()) / np.sqrt(x.var() + _NORMALIZE_EPS)
        return np.asarray(self._features(x.astype(np.float32), padding=0), dtype=np.float32)

    def probability(self, audio: np.ndarray) -> float:
        feats = self.features(audio)[np.newaxis]
        with self._lock:
            out = self._session.run(None, {"input_features": feats})
        return float(np.asarray(out[0]).reshape(-1)[0])

    def warm_up(self) -> None:
        rng = np.random.default_rng(0)
        self.probability((0.05 * rng.standard_normal(PIPELINE_RATE_HZ)).astype(np.float32))


_LOADED: dict[Path, SmartTurnModel] = {}
_LOAD_LOCK = threading.Lock()


def load_smart_turn(model_path: str | Path) -> SmartTurnModel:
    """The model at ``model_path``, loaded and warmed up once per process (conversations and
    server sessions share it)."""
    path = Path(model_path).resolve()
    with _LOAD_LOCK:
        model = _LOADED.get(path)
        if model is None:
            model = SmartTurnModel(path)
            model.warm_up()
            _LOADED[path] = model
        return model
