"""The assistant's own voice on the microphone: aligns what the player played (the far-end
reference, tapped at 16 kHz) with each captured frame, runs the echo canceller, and passes the
cleaned signal on only when the coupling gate says a loudspeaker is heard (with headphones the
raw microphone is better: AEC3 also damps the user while it is still learning)."""

from __future__ import annotations

import collections
import threading
from typing import Protocol

import numpy as np

from voicecli.audio.echo_gate import EchoCouplingGate
from voicecli.audio.playback import Player

REFERENCE_KEEP_FRAMES = 4
"""Reference audio kept ahead of the microphone, in frames (older audio is dropped)."""


class EchoCanceller(Protocol):
    """``voicecli.audio.echo.EchoCanceller``: removes ``reference`` from ``mic``."""

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray: ...


class EchoPath:
    def __init__(self, canceller: EchoCanceller, player: Player) -> None:
        self._aec = canceller
        self._gate = EchoCouplingGate()
        self._ref = collections.deque[np.ndarray]()
        self._lock = threading.Lock()
        player.add_tap(self._on_played)

    def _on_played(self, block16k: np.ndarray) -> None:
        """Device thread: a block the player handed to the output."""
        with self._lock:
            self._ref.append(block16k)

    def clean(self, samples: np.ndarray) -> np.ndarray:
        """The microphone frame to listen to."""
        reference = self._reference_frame(len(samples))
        cleaned = self._aec.process(samples, reference)
        self._gate.observe(samples, reference)
        return samples if self._gate.echo_free else cleaned

    def _reference_frame(self, n: int) -> np.ndarray:
        with self._lock:
            data = np.concatenate(list(self._ref)) if self._ref else np.zeros(0, np.float32)
            self._ref.clear()
            keep_max = n * REFERENCE_KEEP_FRAMES
            if len(data) > keep_max:
                data = data[-keep_max:]
            frame, rest = data[:n], data[n:]
            if len(rest):
                self._ref.append(rest)
        if len(frame) < n:
            frame = np.concatenate([np.zeros(n - len(frame), np.float32), frame])
        return frame
