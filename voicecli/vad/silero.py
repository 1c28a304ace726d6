"""Silero VAD through onnxruntime (~0.2 ms per 32 ms frame here, vs ~0.9 ms for the torch JIT)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voicecli.audio.format import FRAME_SAMPLES, PIPELINE_RATE_HZ
from voicecli.errors import ModelLoadError

CONTEXT_SAMPLES = 64


class SileroVad:
    """Stateful: feed consecutive 512-sample frames of 16 kHz audio; get a speech probability."""

    def __init__(self, model_path: str | Path) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(model_path), sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises several private exception types
            raise ModelLoadError(f"cannot load Silero VAD from {model_path}: {exc}",
                                 "reinstall silero-vad") from exc
        self._sr = np.array(PIPELINE_RATE_HZ, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT_SAMPLES), dtype=np.float32)

    def probability(self, frame: np.ndarray) -> float:
        if frame.shape[0] != FRAME_SAMPLES:
            raise ValueError(f"Silero VAD needs {FRAME_SAMPLES}-sample frames, got {frame.shape[0]}")
        x = np.concatenate([self._context, frame.reshape(1, -1).astype(np.float32, copy=False)], axis=1)
        out, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._context = x[:, -CONTEXT_SAMPLES:]
        return float(out[0][0])

    def probabilities(self, audio: np.ndarray) -> list[float]:
        """Probabilities for every whole frame of ``audio`` (resets state first)."""
        self.reset()
        n = len(audio) // FRAME_SAMPLES
        return [self.probability(audio[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES]) for i in range(n)]
