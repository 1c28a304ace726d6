"""The player: a queue of reply audio drained by an output device callback (a real sounddevice
stream or the real-time WAV writer). Tracks, per reply, the first sample handed to the device
and how much was played, so barge-in can stop at once and history can keep what was heard.
Signals instead of polling: ``when_drained`` (a reply has played out) and ``wait_for_audio``
(something is queued)."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ, AudioChunk
from voicecli.audio.resample import StreamResampler, resample


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
        self._drain_waiters: dict[int, list[Callable[[], object]]] = {}
        self._has_audio = threading.Event()

    # --- producer side (event loop) -----------------------------------------------------
    def enqueue(self, reply_id: int, piece: int, audio: AudioChunk) -> None:
        """Queue one piece of a reply (resampled to the player's rate if it has another)."""
        samples = resample(audio.samples, audio.sample_rate_hz, self.sample_rate_hz)
        with self._lock:
            prog = self._progress.setdefault(reply_id, ReplyProgress())
            prog.queued_samples[piece] = prog.queued_samples.get(piece, 0) + len(samples)
            if len(samples):  # an empty piece (a silent voice) has nothing to play
                self._queue.append(_Queued(reply_id, piece, samples))
                self._has_audio.set()

    def clear(self) -> None:
        """Barge-in: drop everything queued; the next device block is silence."""
        with self._lock:
            self._queue.clear()
            self._has_audio.clear()
            self.cleared_at_sample.append(self.output_samples)
            waiters = [cb for cbs in self._drain_waiters.values() for cb in cbs]
            self._drain_waiters.clear()
        for cb in waiters:
            cb()

    def when_drained(self, reply_id: int, callback: Callable[[], object]) -> None:
        """Call ``callback`` once nothing of ``reply_id`` is left to play: at once if that is
        already so, else from the device thread (or from ``clear``). It must not block."""
        with self._lock:
            if any(q.reply_id == reply_id for q in self._queue):
                self._drain_waiters.setdefault(reply_id, []).append(callback)
                return
        callback()

    def wait_for_audio(self, timeout_s: float | None = None) -> bool:
        """Block until something is queued to play or :meth:`wake` is called (True), or
        ``timeout_s`` passes (False)."""
        return self._has_audio.wait(timeout_s)

    def wake(self) -> None:
        """Release a thread blocked in :meth:`wait_for_audio` (an output that is stopping)."""
        self._has_audio.set()

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
        waiters: list[Callable[[], object]] = []
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
                        waiters += self._drain_waiters.pop(q.reply_id, [])
            if not self._queue:
                self._has_audio.clear()
            self.output_samples += n
        if self._taps:
            ref = self._ref_resampler.process(out.copy())
            for tap in self._taps:
                tap(ref)
        for cb in waiters:
            cb()
        if drained and self.on_drained:
            for rid in drained:
                self.on_drained(rid)
