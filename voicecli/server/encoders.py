"""Streaming audio encoders for ``/v1/audio/speech``: raw PCM, WAV with an open-ended header, and
mp3 / opus / aac / flac through PyAV (ffmpeg). Each takes 24 kHz float32 blocks as they are
synthesised and returns the bytes that can be sent now."""

from __future__ import annotations

import struct
from typing import Any, Protocol

import numpy as np

from voicecli.audio.format import float_to_pcm16

WIRE_RATE_HZ = 24_000
"""OpenAI's rate for ``pcm`` speech output and realtime audio."""

CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
                 "wav": "audio/wav", "pcm": "audio/pcm"}

_AV_FORMATS = {"mp3": ("mp3", "libmp3lame"), "opus": ("ogg", "libopus"), "aac": ("adts", "aac"),
               "flac": ("flac", "flac")}


class AudioEncoder(Protocol):
    def encode(self, samples: np.ndarray) -> bytes: ...
    def finish(self) -> bytes: ...


class PcmEncoder:
    def encode(self, samples: np.ndarray) -> bytes:
        return float_to_pcm16(samples)

    def finish(self) -> bytes:
        return b""


class WavEncoder:
    """A WAV whose RIFF and data sizes say "unknown" (0xFFFFFFFF), as OpenAI streams it: the
    header goes out before the length is known; readers stop at the end of the data."""

    def __init__(self, sample_rate_hz: int = WIRE_RATE_HZ) -> None:
        self._header: bytes | None = _wav_header(sample_rate_hz)

    def encode(self, samples: np.ndarray) -> bytes:
        head, self._header = self._header or b"", None
        return head + float_to_pcm16(samples)

    def finish(self) -> bytes:
        head, self._header = self._header or b"", None
        return head


def _wav_header(rate: int) -> bytes:
    unknown = 0xFFFFFFFF
    return (b"RIFF" + struct.pack("<I", unknown) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", unknown))


class _Sink:
    """A write-only, non-seekable file for PyAV: muxers that would seek back skip it."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def write(self, data: bytes) -> int:
        self.buf += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self.buf)
        self.buf.clear()
        return out


class AvEncoder:
    def __init__(self, fmt: str, sample_rate_hz: int = WIRE_RATE_HZ) -> None:
        import av

        container_fmt, codec = _AV_FORMATS[fmt]
        self._av = av
        self._rate = sample_rate_hz
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format=container_fmt)
        stream: Any = self._container.add_stream(codec, rate=sample_rate_hz)
        stream.codec_context.layout = "mono"
        self._stream = stream
        if fmt == "mp3":
            self._stream.codec_context.bit_rate = 64_000
        elif fmt in ("opus", "aac"):
            self._stream.codec_context.bit_rate = 48_000
        self._pts = 0

    def encode(self, samples: np.ndarray) -> bytes:
        if samples.size == 0:
            return self._sink.take()
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16).reshape(1, -1)
        frame = self._av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = self._rate
        frame.pts = self._pts
        self._pts += pcm.shape[1]
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.take()

    def finish(self) -> bytes:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.take()


def encoder_for(fmt: str) -> AudioEncoder:
    if fmt == "pcm":
        return PcmEncoder()
    if fmt == "wav":
        return WavEncoder()
    return AvEncoder(fmt)
