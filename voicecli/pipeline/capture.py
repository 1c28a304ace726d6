"""The recent microphone frames (as the VAD heard them), addressed by endpointer frame number,
so a turn's audio can be cut out when the endpointer reports its start and end."""

from __future__ import annotations

import collections
import time

import numpy as np

from voicecli.audio.format import FRAME_MS
from voicecli.audio.io import CapturedFrame

MAX_KEPT_FRAMES = int(60_000 / FRAME_MS)
"""Audio kept for the current utterance (60 s)."""


class CaptureBuffer:
    def __init__(self, max_frames: int = MAX_KEPT_FRAMES) -> None:
        self._frames: collections.deque[CapturedFrame] = collections.deque(maxlen=max_frames)

    def append(self, frame: CapturedFrame) -> None:
        self._frames.append(frame)

    def audio(self, start: int, stop: int, latest_frame: int) -> tuple[np.ndarray, float]:
        """Samples of endpointer frames [start, stop] and the capture time of ``stop``;
        ``latest_frame`` is the endpointer's number for the newest frame appended."""
        if not self._frames:
            return np.zeros(0, np.float32), time.monotonic()
        first = self._frames[0].index
        offset = self._frames[-1].index - latest_frame
        lo, hi = max(start + offset - first, 0), stop + offset - first
        frames = [self._frames[i] for i in range(lo, min(hi + 1, len(self._frames)))]
        if not frames:
            return np.zeros(0, np.float32), time.monotonic()
        return np.concatenate([f.samples for f in frames]), frames[-1].captured_at
