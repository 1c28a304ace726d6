"""Hostile audio built in memory, in milliseconds: a FLAC "decompression bomb" (hours of audio in
a few kilobytes, with a header that does not say how long it is), a FLAC of many tiny frames
(slow to decode), and truncated files.

The FLAC writer emits only CONSTANT subframes (one sample value per frame), so a frame of up to
65 535 samples costs about a dozen bytes: 10 h of 16 kHz audio fit in ~110 KB. STREAMINFO says
``total_samples = 0`` ("unknown"), as a streaming encoder writes it, so no header check can see
the length: only a decoder that counts what it produces can stop it."""

from __future__ import annotations

import io
import struct

import av
import numpy as np

FLAC_MAX_BLOCK = 65_535


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        table.append(crc)
    return table


_CRC16 = _crc16_table()


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[(crc >> 8) ^ byte]
    return crc


def _utf8_number(n: int) -> bytes:
    """FLAC's "UTF-8" coding of a frame number (as UTF-8 codes a code point, up to 31 bits)."""
    if n < 0x80:
        return bytes([n])
    for length, limit in ((2, 0x800), (3, 0x10000), (4, 0x200000), (5, 0x4000000), (6, 0x80000000)):
        if n < limit:
            tail = [0x80 | ((n >> (6 * i)) & 0x3F) for i in reversed(range(length - 1))]
            lead = (0xFF << (8 - length)) & 0xFF | (n >> (6 * (length - 1)))
            return bytes([lead, *tail])
    raise ValueError("frame number too large")


def _frame(number: int, block: int, value: int) -> bytes:
    # sync 0b11111111111110, reserved 0, blocking strategy 0 (fixed): 0xFFF8.
    # block size code 0b0111 (16-bit block-1 at the end of the header), sample rate 0b0000 (from
    # STREAMINFO), channels 0b0000 (mono), sample size 0b000 (from STREAMINFO), reserved 0.
    header = bytes([0xFF, 0xF8, 0b0111_0000, 0b0000_0000]) + _utf8_number(number) + struct.pack(">H", block - 1)
    header += bytes([_crc8(header)])
    subframe = bytes([0b0000_0000]) + struct.pack(">h", value)  # CONSTANT subframe, no wasted bits
    frame = header + subframe
    return frame + struct.pack(">H", _crc16(frame))


def flac_bomb(seconds: float, sample_rate_hz: int = 16_000, value: int = 0, declared_samples: int = 0,
              block: int = FLAC_MAX_BLOCK) -> bytes:
    """A valid mono 16-bit FLAC holding ``seconds`` of constant audio in frames of ``block``
    samples (16 is FLAC's smallest: a "many tiny frames" file); STREAMINFO declares
    ``declared_samples`` (0: unknown length)."""
    total = int(seconds * sample_rate_hz)
    frames = []
    number = 0
    left = total
    while left > 0:
        n = min(block, left)
        frames.append(_frame(number, n, value))
        number += 1
        left -= n
    # STREAMINFO: min/max block 16 bits each, min/max frame size 24 bits each (0: unknown),
    # rate 20 bits, channels-1 3 bits, bits-1 5 bits, total samples 36 bits, MD5 128 bits (0: unset).
    bits = (sample_rate_hz << 44) | (0 << 41) | (15 << 36) | (declared_samples & ((1 << 36) - 1))
    info = struct.pack(">HH", min(16, block), block) + b"\0\0\0" + b"\0\0\0" + bits.to_bytes(8, "big") + bytes(16)
    meta = bytes([0x80]) + len(info).to_bytes(3, "big") + info  # last metadata block, type 0
    return b"fLaC" + meta + b"".join(frames)


def encode(samples: np.ndarray, container: str, codec: str, rate: int, sample_rate_hz: int = 16_000) -> bytes:
    """``samples`` (mono float32) encoded in memory; a seekable output, so headers state the length
    (WAV's data size, MP3's Xing frame, WebM's duration)."""
    buf = io.BytesIO()
    out = av.open(buf, "w", format=container)
    stream = out.add_stream(codec, rate=rate)
    stream.layout = "mono"
    frame = av.AudioFrame.from_ndarray((np.clip(samples, -1, 1) * 32767).astype("<i2").reshape(1, -1),
                                       format="s16", layout="mono")
    frame.sample_rate = sample_rate_hz
    for packet in stream.encode(frame):
        out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    return buf.getvalue()


def truncated(data: bytes, kept: float) -> bytes:
    """The first ``kept`` fraction of a file, as a cut download leaves it."""
    return data[:int(len(data) * kept)]
