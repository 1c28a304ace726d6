"""The VAD seam: a speech probability per frame (policy lives in :mod:`voicecli.vad.endpointer`)."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class VoiceActivityModel(Protocol):
    """A stateful voice-activity model (``SileroVad``): feed consecutive frames of one stream."""

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability of the next 512-sample, 16 kHz float32 frame."""
        ...

    def reset(self) -> None:
        """Forget the stream (the next frame starts a new one)."""
        ...
