"""The input audio buffer: base64 audio in the session's input format (24 kHz PCM16 or 8 kHz
G.711, :mod:`.wire_audio`) from ``input_audio_buffer.append`` (or an audio item) decoded and
resampled to the pipeline's 16 kHz, and the audio not yet committed, bounded."""

from __future__ import annotations

import base64
import binascii
import collections

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.audio.resample import StreamResampler, resample
from voicecli.server.realtime.protocol import ClientEventError
from voicecli.server.realtime.wire_audio import PCM16, WireFormat

MIN_COMMIT_MS = 100
"""Shortest audio a commit (or an audio item) may carry."""
MIN_COMMIT_SAMPLES = MIN_COMMIT_MS * PIPELINE_RATE_HZ // 1000


def _b64decode(audio: str, param: str) -> bytes:
    try:
        return base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):
        raise ClientEventError("'audio' is not valid base64", param, "invalid_base64") from None


class InputBuffer:
    """Uncommitted 16 kHz input, at most ``max_s`` seconds. Appends keep the resampler's state
    and an odd trailing byte between calls, so a stream split anywhere decodes the same."""

    def __init__(self, max_s: float) -> None:
        self.max_s = max_s
        self.format = PCM16
        self._resampler = StreamResampler(PCM16.rate_hz, PIPELINE_RATE_HZ)
        self._carry = b""
        self._chunks: collections.deque[np.ndarray] = collections.deque()
        self.samples = 0
        """16 kHz samples buffered."""

    def use_format(self, fmt: WireFormat) -> None:
        """Appends from now on are in ``fmt`` (the audio already buffered stays)."""
        if fmt != self.format:
            self.format = fmt
            self._resampler = StreamResampler(fmt.rate_hz, PIPELINE_RATE_HZ)
            self._carry = b""

    def append(self, audio: object, keep_newest: bool) -> np.ndarray:
        """Decode and buffer one ``append``'s audio; returns its 16 kHz samples. When full, a
        manual-turn buffer refuses the audio, a VAD buffer (``keep_newest``) drops its oldest."""
        if not isinstance(audio, str):
            raise ClientEventError("'audio' must be a base64 string", "audio", "invalid_type")
        data = self._carry + _b64decode(audio, "audio")
        odd = len(data) % self.format.bytes_per_sample
        self._carry = data[-odd:] if odd else b""
        if odd:
            data = data[:-odd]
        if not data:
            return np.zeros(0, np.float32)
        return self.add(self._resampler.process(self.format.decode(data)), keep_newest)

    def add(self, samples: np.ndarray, keep_newest: bool) -> np.ndarray:
        """Buffer 16 kHz samples (as :meth:`append` does once it has decoded them)."""
        room = int(self.max_s * PIPELINE_RATE_HZ) - self.samples
        if not keep_newest and len(samples) > room:
            raise ClientEventError(f"input audio buffer is full ({self.max_s:.0f} s); commit or clear it",
                                   "audio", "input_audio_buffer_full")
        while len(samples) > room and self._chunks:
            dropped = self._chunks.popleft()
            self.samples -= len(dropped)
            room += len(dropped)
        self._chunks.append(samples)
        self.samples += len(samples)
        return samples

    def can_commit(self) -> bool:
        return self.samples >= MIN_COMMIT_SAMPLES

    def take(self) -> np.ndarray:
        """Everything buffered, which the buffer forgets."""
        audio = np.concatenate(list(self._chunks)) if self._chunks else np.zeros(0, np.float32)
        self._chunks.clear()
        self.samples = 0
        return audio


def decode_item_audio(b64: str, max_s: float, fmt: WireFormat = PCM16) -> np.ndarray:
    """The 16 kHz samples of an ``input_audio`` content part (one complete clip in ``fmt``)."""
    data = _b64decode(b64, "item.content.audio")
    data = data[:len(data) - len(data) % fmt.bytes_per_sample]
    samples = resample(fmt.decode(data), fmt.rate_hz, PIPELINE_RATE_HZ)
    if len(samples) < MIN_COMMIT_SAMPLES:
        raise ClientEventError("audio item is too short", "item.content.audio")
    if len(samples) > max_s * PIPELINE_RATE_HZ:
        raise ClientEventError("audio item is too long", "item.content.audio")
    return samples
