"""Decode any file PyAV/ffmpeg understands into 16 kHz mono float32, with clear errors."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
from av.error import EOFError as AvEOFError
from av.error import FFmpegError, InvalidDataError

from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.errors import AudioInputError


def decode_audio(source: str | Path | bytes | BinaryIO, name: str | None = None,
                 sample_rate_hz: int = PIPELINE_RATE_HZ) -> np.ndarray:
    """Return mono float32 samples at ``sample_rate_hz``.

    Raises :class:`AudioInputError` naming the file for: missing file, directory, empty file,
    not audio, corrupt/truncated audio with nothing decodable."""
    label = name or (str(source) if isinstance(source, (str, Path)) else "<stream>")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise AudioInputError(f"{label}: no such file", "check the path")
        if path.is_dir():
            raise AudioInputError(f"{label}: is a directory, not an audio file",
                                  "pass the audio files inside it")
        if path.stat().st_size == 0:
            raise AudioInputError(f"{label}: file is empty", "record or copy the audio again")
        opened: str | BinaryIO = str(path)
    elif isinstance(source, bytes):
        if not source:
            raise AudioInputError(f"{label}: no data (empty input)", "pipe some audio in")
        opened = io.BytesIO(source)
    else:
        opened = source

    chunks: list[np.ndarray] = []
    try:
        container = av.open(opened, mode="r", metadata_errors="ignore")
    except (InvalidDataError, ValueError, AvEOFError, UnicodeDecodeError) as exc:
        raise AudioInputError(f"{label}: not an audio file ffmpeg can read",
                              "use wav, flac, mp3, ogg/opus, webm, m4a or mp4") from exc
    except FFmpegError as exc:
        raise AudioInputError(f"{label}: cannot open ({exc})", "check the file") from exc
    corrupt: Exception | None = None
    with container:
        if not container.streams.audio:
            raise AudioInputError(f"{label}: contains no audio stream",
                                  "pass a file with an audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate_hz)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        except FFmpegError as exc:
            corrupt = exc
        try:
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except FFmpegError:
            pass
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        if corrupt is not None:
            raise AudioInputError(f"{label}: audio is corrupt or truncated ({corrupt})",
                                  "re-export or re-download the file") from corrupt
        raise AudioInputError(f"{label}: contains no audio samples",
                              "the file is truncated or empty; re-export it")
    return samples


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
