"""The player: a queue of reply audio drained by an output device callback (a real sounddevice
stream or the real-time WAV writer). Tracks, per reply, the first sample handed to the device
and how much was played, so barge-in can stop at once and history can keep what was heard.
Signals instead of polling: ``when_drained`` (a reply has played out) and ``wait_for_audio``
(something is queued). ``pause``/``resume`` hold the queue where it is (a possible interruption
being checked) with a short fade, so nothing is lost if it was not one."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from voicecli.audio.format import PIPELINE_RATE_HZ, AudioChunk
from voicecli.audio.resample import StreamResampler, resample

SILENCE_DBFS = -40.0
"""Below this a voice's sample is silence (its leading and trailing pause hold no words)."""
FADE_MS = 8.0
"""Fade-out on pause and fade-in on resume (a hard stop in mid-waveform clicks)."""


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
    voiced_spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    """piece index → (first, end) sample of its speech (what lies outside is the voice's silence)."""
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
        self._paused = False
        self._fade = max(1, int(sample_rate_hz * FADE_MS / 1000))
        self._fade_in = 0
        """Samples of fade-in still to apply after a resume."""
        self._fading: _Queued | None = None
        """The fade-out still to play after a pause."""

    # --- producer side (event loop) -----------------------------------------------------
    def enqueue(self, reply_id: int, piece: int, audio: AudioChunk) -> None:
        """Queue one piece of a reply (resampled to the player's rate if it has another)."""
        samples = resample(audio.samples, audio.sample_rate_hz, self.sample_rate_hz)
        loud = np.flatnonzero(np.abs(samples) >= 10 ** (SILENCE_DBFS / 20))
        with self._lock:
            prog = self._progress.setdefault(reply_id, ReplyProgress())
            before = prog.queued_samples.get(piece, 0)
            if loud.size:
                first, end = prog.voiced_spans.get(piece, (before + int(loud[0]), 0))
                prog.voiced_spans[piece] = (first, before + int(loud[-1]) + 1)
            prog.queued_samples[piece] = before + len(samples)
            if len(samples):  # an empty piece (a silent voice) has nothing to play
                self._queue.append(_Queued(reply_id, piece, samples))
                self._has_audio.set()

    def pause(self) -> None:
        """Hold playback where it is (after a short fade-out); the queue is kept for :meth:`resume`."""
        with self._lock:
            if self._paused:
                return
            self._paused = True
            if self._queue:  # the next block fades out what is playing; then silence
                self._queue.appendleft(self._fade_out_piece())
            self._has_audio.clear()

    def resume(self) -> None:
        """Go on from where :meth:`pause` stopped (with a short fade-in)."""
        with self._lock:
            if not self._paused:
                return
            self._paused = False
            self._fade_in = self._fade
            if self._queue:
                self._has_audio.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def _fade_out_piece(self) -> _Queued:
        """Split the head of the queue: its next ``FADE_MS`` faded out, to play before the pause."""
        q = self._queue.popleft()
        take = min(self._fade, len(q.samples) - q.offset)
        ramp = np.linspace(1.0, 0.0, take, dtype=np.float32)
        head = _Queued(q.reply_id, q.piece, q.samples[q.offset:q.offset + take] * ramp)
        q.offset += take
        if q.offset < len(q.samples):
            self._queue.appendleft(q)
        self._fading = head
        return head

    def clear(self) -> None:
        """Barge-in: drop everything queued; the next device block is silence."""
        with self._lock:
            self._queue.clear()
            self._paused = False
            self._fading = None
            self._fade_in = 0
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
            return ReplyProgress(p.first_sample_at, dict(p.played_samples), dict(p.queued_samples),
                                 dict(p.voiced_spans), p.finished_at)

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
                if self._paused and q is not self._fading:
                    break
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
                    if q is self._fading:
                        self._fading = None
                    if not any(x.reply_id == q.reply_id for x in self._queue):
                        prog.finished_at = now + pos / self.sample_rate_hz
                        drained.append(q.reply_id)
                        waiters += self._drain_waiters.pop(q.reply_id, [])
            if self._fade_in and pos:
                k = min(pos, self._fade_in)
                done = self._fade - self._fade_in
                out[:k] *= np.arange(done, done + k, dtype=np.float32) / self._fade
                self._fade_in -= k
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
