"""Wake-word detection: an adapter behind a small Protocol. :class:`OpenWakeWordDetector` runs
openWakeWord's ONNX models on onnxruntime (the optional ``wake`` extra): the four pretrained
models inside its wheel (``hey_jarvis``, ``alexa``, ``hey_mycroft``, ``hey_rhasspy``; licensed
CC BY-NC-SA 4.0, non-commercial) or any custom ``.onnx`` wake model. Plain and blocking, like
every engine; the conversation decides what a detection means
(:mod:`voicecli.pipeline.wake_gate`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from voicecli.errors import ModelLoadError

WAKE_CHUNK_SAMPLES = 1280
"""openWakeWord scores audio in 80 ms chunks at 16 kHz."""
PRETRAINED = {"hey_jarvis": "hey jarvis", "alexa": "alexa", "hey_mycroft": "hey mycroft",
              "hey_rhasspy": "hey rhasspy"}
"""The wake models inside the openwakeword wheel → the phrase each one listens for."""
PRETRAINED_LICENSE = "CC BY-NC-SA 4.0 (non-commercial)"
INSTALL_HINT = ("pip install scipy scikit-learn && pip install --no-deps openwakeword==0.5.1; "
                "or use a wake phrase, no model needed: --wake-phrase \"hey computer\"")


class WakeDetector(Protocol):
    """A wake-word model fed 16 kHz audio as it is captured."""

    name: str
    phrase: str
    """What the user says to wake it (used to cut the wake word out of the transcript)."""

    def score(self, samples16k: np.ndarray) -> float:
        """Feed mono float32 audio; the highest wake score (0‥1) of the 80 ms chunks it
        completed (0.0 when none was completed)."""
        ...

    def reset(self) -> None:
        """Forget the audio heard so far (after a detection, so one wake word fires once)."""
        ...


@dataclass(frozen=True)
class WakeModelInfo:
    """One wake model for ``voicecli models`` (the fields of a resolved model)."""

    name: str
    path: Path
    source: str
    kind: str = "wake"
    languages: tuple[str, ...] = ("en",)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def _package_dir() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("openwakeword")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "resources" / "models"


def pretrained_models() -> list[WakeModelInfo]:
    """The pretrained wake models of an installed openwakeword (none when it is not installed)."""
    folder = _package_dir()
    if folder is None:
        return []
    source = f"package (openwakeword) · {PRETRAINED_LICENSE}"
    return [WakeModelInfo(name, p, source) for name in PRETRAINED if (p := folder / f"{name}_v0.1.onnx").exists()]


def spoken_phrase(model: str) -> str:
    """``hey_jarvis`` → ``hey jarvis``; a custom ``hey_computer_v0.1.onnx`` → ``hey computer``."""
    stem = Path(model).name.removesuffix(".onnx") if model.endswith(".onnx") else model
    stem = re.sub(r"[_-]v\d+(\.\d+)*$", "", stem)
    return PRETRAINED.get(stem, " ".join(re.split(r"[_\-\s]+", stem)).strip().lower())


def is_model_path(word: str) -> bool:
    return word.endswith(".onnx")


class OpenWakeWordDetector:
    """openWakeWord on onnxruntime (one model; its melspectrogram and embedding models too)."""

    def __init__(self, model: str) -> None:
        key = model.strip().replace(" ", "_").lower() if not is_model_path(model) else str(Path(model).expanduser())
        if is_model_path(model) and not Path(key).is_file():
            raise ModelLoadError(f"wake model not found: {key}", "give the path of an openWakeWord .onnx model")
        if not is_model_path(model) and key not in PRETRAINED:
            raise ModelLoadError(f"unknown wake word '{model}'",
                                 f"choose {', '.join(PRETRAINED)}, a .onnx model path, or phrase:\"your words\"")
        try:
            from openwakeword.model import Model
        except ImportError as exc:
            missing = f"the wake word needs openWakeWord ({exc.name} is not installed)"
            raise ModelLoadError(missing, INSTALL_HINT) from None
        try:
            self._model = Model(wakeword_models=[key], inference_framework="onnx")
        except Exception as exc:  # noqa: BLE001 - any load failure of a user's model is one clear line
            raise ModelLoadError(f"cannot load wake model {model}: {exc}",
                                 "give an openWakeWord .onnx model (16 kHz, 80 ms chunks)") from None
        self.name = next(iter(self._model.models))
        self.phrase = spoken_phrase(model)
        self._pending = np.zeros(0, np.int16)

    def score(self, samples16k: np.ndarray) -> float:
        pcm = (np.clip(samples16k, -1.0, 1.0) * 32767).astype(np.int16)
        buf = np.concatenate([self._pending, pcm])
        best = 0.0
        whole = len(buf) - len(buf) % WAKE_CHUNK_SAMPLES
        for start in range(0, whole, WAKE_CHUNK_SAMPLES):
            scores = self._model.predict(buf[start:start + WAKE_CHUNK_SAMPLES])
            best = max(best, float(scores[self.name]))
        self._pending = buf[whole:]
        return best

    def reset(self) -> None:
        self._model.reset()
