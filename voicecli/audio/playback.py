"""The player: a queue of reply audio drained by an output device callback (a real sounddevice
stream or the real-time WAV writer). Tracks, per reply, the first sample handed to the device
and how much was played, so barge-in can stop at once and history can keep what was heard."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.audio.resample import StreamResampler


@dataclass
class _Queued:
    reply_id: int
    piece: int
    samples: np.ndarray
    offset: int = 0


@dataclass
class ReplyProgress:
    first_sample_at: float | None = None
    """Monotonic time the first sample was handed to the device."""
    played_samples: dict[int, int] = field(default_factory=dict)
    """piece index → samples played."""
    queued_samples: dict[int, int] = field(default_factory=dict)
    finished_at: float | None = None


class Player:
    """Thread-safe. ``fill`` runs on the device thread; everything else on the event loop."""

    def __init__(self, sample_rate_hz: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.sample_rate_hz = sample_rate_hz
        self._clock = clock
        self._lock = threading.Lock()
        self._queue: collections.deque[_Queued] = collections.deque()
        self._progress: dict[int, ReplyProgress] = {}
        self._taps: list[Callable[[np.ndarray], None]] = []
        self._ref_resampler = StreamResampler(sample_rate_hz, PIPELINE_RATE_HZ)
        self.output_samples = 0
        """Samples handed to the device since start (the output timeline)."""
        self.cleared_at_sample: list[int] = []
        self.on_drained: Callable[[int], None] | None = None

    # --- producer side (event loop) -----------------------------------------------------
    def enqueue(self, reply_id: int, piece: int, samples: np.ndarray) -> None:
        with self._lock:
            prog = self._progress.setdefault(reply_id, ReplyProgress())
            prog.queued_samples[piece] = prog.queued_samples.get(piece, 0) + len(samples)
            self._queue.append(_Queued(reply_id, piece, samples.astype(np.float32, copy=False)))

    def clear(self) -> None:
        """Barge-in: drop everything queued; the next device block is silence."""
        with self._lock:
            self._queue.clear()
            self.cleared_at_sample.append(self.output_samples)

    def pending_samples(self) -> int:
        with self._lock:
            return sum(len(q.samples) - q.offset for q in self._queue)

    def is_playing(self) -> bool:
        with self._lock:
            return bool(self._queue)

    def progress(self, reply_id: int) -> ReplyProgress:
        with self._lock:
            p = self._progress.get(reply_id, ReplyProgress())
            return ReplyProgress(p.first_sample_at, dict(p.played_samples), dict(p.queued_samples), p.finished_at)

    def add_tap(self, tap: Callable[[np.ndarray], None]) -> None:
        """Call ``tap`` on the device thread with every block played, resampled to 16 kHz
        (the echo canceller's far-end reference; the simulated echo of file tests)."""
        self._taps.append(tap)

    # --- device side ---------------------------------------------------------------------
    def fill(self, out: np.ndarray) -> None:
        """Write ``len(out)`` samples of mono float32 audio into ``out`` (silence when idle)."""
        n = len(out)
        out[:] = 0.0
        pos = 0
        now = self._clock()
        drained: list[int] = []
        with self._lock:
            while pos < n and self._queue:
                q = self._queue[0]
                take = min(n - pos, len(q.samples) - q.offset)
                out[pos:pos + take] = q.samples[q.offset:q.offset + take]
                prog = self._progress.setdefault(q.reply_id, ReplyProgress())
                if prog.first_sample_at is None:
                    prog.first_sample_at = now + pos / self.sample_rate_hz
                prog.played_samples[q.piece] = prog.played_samples.get(q.piece, 0) + take
                q.offset += take
                pos += take
                if q.offset >= len(q.samples):
                    self._queue.popleft()
                    if not any(x.reply_id == q.reply_id for x in self._queue):
                        prog.finished_at = now + pos / self.sample_rate_hz
                        drained.append(q.reply_id)
            self.output_samples += n
        if self._taps:
            ref = self._ref_resampler.process(out.copy())
            for tap in self._taps:
                tap(ref)
        if drained and self.on_drained:
            for rid in drained:
                self.on_drained(rid)
