"""Decode any file PyAV/ffmpeg understands into 16 kHz mono float32, with clear errors and hard
bounds.

A file's header may lie about its length or say nothing at all: a few kilobytes of FLAC can hold
hours of audio. So decoding counts what it produces, frame by frame, into one bounded buffer and
stops the moment the audio exceeds ``max_seconds`` (:class:`AudioTooLongError`), or the work
exceeds ``time_budget_s`` (a file of millions of tiny frames). Memory is therefore bounded by
``max_seconds`` whatever the file says, and a caller's time by its budget.

A file whose header promises more audio than decodes (a cut download) is truncated: an error
naming the file, never a silent partial transcript. Only headers that state the length
(WAV's data size, FLAC's STREAMINFO, an MP3 Xing/Info/VBRI frame, Matroska/WebM, MP4) are
believed; an estimate from the bitrate is not evidence."""

from __future__ import annotations

import io
import struct
import time
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
from av.error import EOFError as AvEOFError
from av.error import FFmpegError, InvalidDataError

from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.errors import AudioInputError

DEFAULT_MAX_AUDIO_S = 4 * 3600.0
"""Longest audio decoded unless the caller sets another bound (4 h at 16 kHz float32 is 920 MB)."""

TRUNCATED_MIN_MISSING_S = 0.5
TRUNCATED_MIN_MISSING_RATIO = 0.03
"""A file is truncated when what decodes falls short of its stated length by more than both of these."""

HEADER_SLACK = 1.02
"""A stated length within 2 % of the limit is let through to the decoder (which counts exactly)."""

_HEAD_BYTES = 64 * 1024
"""Bytes read to find a WAV data chunk or an MP3 length frame (after any ID3v2 tag)."""

_STATED_LENGTH_FORMATS = frozenset({"flac", "mp3", "matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2"})
"""Containers whose duration ffmpeg reads from the header (for mp3: only with a length frame)."""


class AudioTooLongError(AudioInputError):
    """The audio is longer than the caller's limit (found from the header or while decoding)."""

    def __init__(self, label: str, limit_s: float, stated_s: float | None = None) -> None:
        what = f"audio is {stated_s:.0f} s long" if stated_s is not None else "audio is longer than the limit"
        super().__init__(f"{label}: {what}; the limit is {limit_s:.0f} s",
                         "split it into shorter files, or raise the limit with --max-audio-s")
        self.limit_s = limit_s


def decode_audio(source: str | Path | bytes | BinaryIO, name: str | None = None,
                 sample_rate_hz: int = PIPELINE_RATE_HZ, *, max_seconds: float | None = DEFAULT_MAX_AUDIO_S,
                 time_budget_s: float | None = None) -> np.ndarray:
    """Return mono float32 samples at ``sample_rate_hz``, at most ``max_seconds`` of them
    (None: no bound; only for trusted input).

    Raises :class:`AudioInputError` naming the file for: missing file, directory, empty file,
    not audio, corrupt or truncated audio, decoding slower than ``time_budget_s``; and
    :class:`AudioTooLongError` past ``max_seconds``."""
    label = name or (str(source) if isinstance(source, (str, Path)) else "<stream>")
    opened, head = _open_source(source, label)
    started = time.monotonic()
    try:
        container = av.open(opened, mode="r", metadata_errors="ignore")
    except (InvalidDataError, ValueError, AvEOFError, UnicodeDecodeError) as exc:
        raise AudioInputError(f"{label}: not an audio file ffmpeg can read",
                              "use wav, flac, mp3, ogg/opus, webm, m4a or mp4") from exc
    except FFmpegError as exc:
        raise AudioInputError(f"{label}: cannot open ({exc})", "check the file") from exc
    with container:
        if not container.streams.audio:
            raise AudioInputError(f"{label}: contains no audio stream", "pass a file with an audio track")
        stated_s = stated_duration_s(container, head)
        if stated_s is not None and max_seconds is not None and stated_s > max_seconds * HEADER_SLACK:
            raise AudioTooLongError(label, max_seconds, stated_s)
        limit = None if max_seconds is None else int(max_seconds * sample_rate_hz)
        expected = None if stated_s is None else int(stated_s * sample_rate_hz)
        buffer = _SampleBuffer(limit, expected, sample_rate_hz)
        corrupt = _decode_into(buffer, container, sample_rate_hz, label, max_seconds,
                               None if time_budget_s is None else started + time_budget_s, time_budget_s)
    decoded_s = buffer.size / sample_rate_hz
    if buffer.size == 0:
        if corrupt is not None:
            raise AudioInputError(f"{label}: audio is corrupt or truncated ({corrupt})",
                                  "re-export or re-download the file") from corrupt
        raise AudioInputError(f"{label}: contains no audio samples", "the file is truncated or empty; re-export it")
    if stated_s is not None and is_truncated(stated_s, decoded_s):
        raise AudioInputError(f"{label}: truncated: the header says {stated_s:.1f} s of audio but only "
                              f"{decoded_s:.1f} s decode", "re-export or re-download the file")
    return buffer.samples()


def _open_source(source: str | Path | bytes | BinaryIO, label: str) -> tuple[str | BinaryIO, bytes]:
    """What ``av.open`` gets, and the file's first bytes (for the length a header states)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise AudioInputError(f"{label}: no such file", "check the path")
        if path.is_dir():
            raise AudioInputError(f"{label}: is a directory, not an audio file", "pass the audio files inside it")
        if path.stat().st_size == 0:
            raise AudioInputError(f"{label}: file is empty", "record or copy the audio again")
        try:
            with path.open("rb") as f:
                head = f.read(_HEAD_BYTES)
        except OSError as exc:
            raise AudioInputError(f"{label}: cannot read ({exc.strerror})", "check the file's permissions") from exc
        return str(path), head
    if isinstance(source, bytes):
        if not source:
            raise AudioInputError(f"{label}: no data (empty input)", "pipe some audio in")
        return io.BytesIO(source), source[:_HEAD_BYTES]
    return source, b""


def _decode_into(buffer: _SampleBuffer, container: av.container.InputContainer, sample_rate_hz: int,
                 label: str, max_seconds: float | None, deadline: float | None,
                 time_budget_s: float | None) -> Exception | None:
    """Decode the first audio stream frame by frame into ``buffer``; the decoder error that ended
    it early, if any. Raises when the buffer's limit or the deadline is passed."""
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate_hz)
    corrupt: Exception | None = None

    def add(frames: list[av.AudioFrame]) -> None:
        for out in frames:
            if not buffer.add(out.to_ndarray().reshape(-1)):
                assert max_seconds is not None
                raise AudioTooLongError(label, max_seconds)

    try:
        for frame in container.decode(stream):
            add(resampler.resample(frame))
            if deadline is not None and time.monotonic() > deadline:
                raise AudioInputError(
                    f"{label}: decoding takes too long (over {time_budget_s:.0f} s for "
                    f"{buffer.size / sample_rate_hz:.0f} s of audio so far)",
                    "re-encode it, e.g. as 16 kHz mono FLAC or WAV")
    except FFmpegError as exc:
        corrupt = exc
    try:
        add(resampler.resample(None))
    except FFmpegError:
        pass
    return corrupt


def is_truncated(stated_s: float, decoded_s: float) -> bool:
    """Whether ``decoded_s`` falls short of the header's ``stated_s`` by more than decoder padding."""
    missing = stated_s - decoded_s
    return missing > TRUNCATED_MIN_MISSING_S and missing > TRUNCATED_MIN_MISSING_RATIO * stated_s


def stated_duration_s(container: av.container.InputContainer, head: bytes) -> float | None:
    """The length the file's header states, when it states one (not an estimate from the bitrate)."""
    fmt = container.format.name
    if fmt == "wav":
        return wav_stated_s(head)
    if fmt not in _STATED_LENGTH_FORMATS or not container.duration or container.duration <= 0:
        return None
    if fmt == "mp3" and not _has_mp3_length_frame(head):
        return None
    return float(container.duration) / 1_000_000


def wav_stated_s(head: bytes) -> float | None:
    """Seconds a RIFF/WAVE header's data chunk says it holds (None: streaming sizes or no header)."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if chunk == b"fmt " and pos + 16 <= len(head):
            byte_rate = struct.unpack_from("<I", head, pos + 16)[0]
        elif chunk == b"data":
            if size in (0, 0xFFFFFFFF) or byte_rate <= 0:
                return None  # a streamed WAV: the length was unknown when the header was written
            return size / byte_rate
        pos += 8 + size + (size & 1)
    return None


def _has_mp3_length_frame(head: bytes) -> bool:
    """An MP3 whose first frame is a Xing/Info/VBRI frame: ffmpeg reads the length from it."""
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        start = 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F))
    window = head[start:start + 4096]
    return any(tag in window for tag in (b"Xing", b"Info", b"VBRI"))


class _SampleBuffer:
    """Decoded samples in one float32 buffer that grows as needed and never past ``limit``."""

    def __init__(self, limit: int | None, expected: int | None, sample_rate_hz: int) -> None:
        start = expected + sample_rate_hz if expected else 60 * sample_rate_hz
        self._limit = limit
        self._buf = np.empty(max(1, start if limit is None else min(limit, start)), np.float32)
        self.size = 0

    def add(self, block: np.ndarray) -> bool:
        """Append ``block``; False (and nothing added) when it would pass the limit."""
        end = self.size + len(block)
        if self._limit is not None and end > self._limit:
            return False
        if end > len(self._buf):
            capacity = max(end, 2 * len(self._buf))
            grown = np.empty(capacity if self._limit is None else min(self._limit, capacity), np.float32)
            grown[:self.size] = self._buf[:self.size]
            self._buf = grown
        self._buf[self.size:end] = block
        self.size = end
        return True

    def samples(self) -> np.ndarray:
        """The samples, without holding on to much unused capacity."""
        view = self._buf[:self.size]
        return view.copy() if len(self._buf) > 1.1 * self.size + PIPELINE_RATE_HZ else view


def read_wav_pcm16(path: str | Path) -> tuple[bytes, int]:
    """Raw little-endian PCM16 mono frames and rate of a simple WAV (tests and tools)."""
    import wave

    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            samples = decode_audio(path, sample_rate_hz=w.getframerate())
            from voicecli.audio.format import float_to_pcm16

            return float_to_pcm16(samples), w.getframerate()
        return w.readframes(w.getnframes()), w.getframerate()


def write_wav(path: str | Path, samples: np.ndarray, sample_rate_hz: int) -> None:
    import wave

    from voicecli.audio.format import float_to_pcm16

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes(float_to_pcm16(samples))
