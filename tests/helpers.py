"""Helpers for end-to-end tests: build input recordings, run voicecli, read what it said."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VOICECLI = [sys.executable, "-m", "voicecli.cli.main"]


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        return data, w.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def silence(seconds: float, rate: int = 16000) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)


def concat_wavs(out: Path, *parts) -> Path:
    """Parts are WAV paths (16 kHz mono) or float seconds of silence."""
    chunks = []
    for p in parts:
        if isinstance(p, (int, float)):
            chunks.append(silence(float(p)))
        else:
            chunks.append(read_wav(Path(p))[0])
    return write_wav(out, np.concatenate(chunks))


def run_voicecli(*args: str, timeout: float = 300, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*VOICECLI, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})}, input=input)


def json_lines(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def voiced_regions(samples: np.ndarray, rate: int, threshold_db: float = -45.0, min_gap_s: float = 0.6) -> list[tuple[float, float]]:
    """Non-silent regions (start_s, end_s) by 10 ms RMS, merging gaps shorter than ``min_gap_s``."""
    hop = rate // 100
    n = len(samples) // hop
    if n == 0:
        return []
    frames = samples[: n * hop].reshape(n, hop)
    db = 20 * np.log10(np.sqrt(np.mean(frames ** 2, axis=1)) + 1e-9)
    on = db > threshold_db
    regions: list[list[float]] = []
    for i, v in enumerate(on):
        if not v:
            continue
        t = i / 100
        if regions and t - regions[-1][1] <= min_gap_s:
            regions[-1][1] = t + 0.01
        else:
            regions.append([t, t + 0.01])
    return [(a, b) for a, b in regions]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def word_overlap(hyp: str, ref: str) -> float:
    """Fraction of reference words that appear in the hypothesis (order-free, robust to
    tiny.en's number/punctuation formatting)."""
    r = words(ref)
    if not r:
        return 1.0
    h = set(words(hyp))
    return sum(1 for w in r if w in h) / len(r)
