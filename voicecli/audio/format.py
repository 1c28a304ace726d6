"""Audio values that always carry their format (like Wyoming's AudioChunk)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PIPELINE_RATE_HZ = 16_000
"""Sample rate of the capture → VAD → STT path."""

FRAME_SAMPLES = 512
"""32 ms at 16 kHz: the capture and VAD frame."""

FRAME_MS = FRAME_SAMPLES * 1000 / PIPELINE_RATE_HZ


@dataclass(frozen=True)
class AudioChunk:
    """Mono float32 samples in [-1, 1] at ``sample_rate_hz``."""

    samples: np.ndarray
    sample_rate_hz: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate_hz

    def to_pcm16(self) -> bytes:
        return float_to_pcm16(self.samples)

    @classmethod
    def from_pcm16(cls, data: bytes, sample_rate_hz: int) -> AudioChunk:
        return cls(pcm16_to_float(data), sample_rate_hz)


def float_to_pcm16(samples: np.ndarray) -> bytes:
    clipped = np.clip(samples, -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def pcm16_to_float(data: bytes) -> np.ndarray:
    if len(data) % 2:
        data = data[:-1]
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def rms_dbfs(samples: np.ndarray) -> float:
    """Root-mean-square level in dBFS (-100 for digital silence)."""
    if samples.size == 0:
        return -100.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(-100.0, 20.0 * np.log10(rms + 1e-12))
