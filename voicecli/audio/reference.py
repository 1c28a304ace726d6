"""The far-end reference on the capture timeline: which played sample was leaving the output
device while a given microphone sample was captured.

The player's tap hands over every block it gives the output device (16 kHz) from the device
thread; the microphone hands over frames with their sample index and capture time. Pairing them
by arrival order (a FIFO) shifts the pairing whenever either thread is late, and counting
samples on both sides drifts whenever the output underruns (the device plays silence that was
never handed over: seconds per minute on a busy machine). Every shift sends the echo canceller
back to searching for the echo.

So both sides are put on the wall clock:

- output (a play-out model): a block starts playing when the previous one ends, or when it is
  handed over if the device had run dry (an underrun inserts silence exactly there), and no
  later than the device's buffer (its reported latency) after it was handed over: under load
  PortAudio sometimes calls back hundreds of times in a row, seconds of audio in a fraction of
  one, and what the device cannot hold is dropped (queueing it all put the model seconds ahead of
  the loudspeaker for the rest of a session; with the cap the echo stayed within ±10 ms in 4
  recorded sessions of 2 minutes, against ±30–50 ms for the queue and no lock at all for
  arrival times);
- input: capture sample ``k`` was taken at ``origin + k / rate``, the origin being the earliest
  (least delayed) of the recent frame timestamps — callbacks are only ever late, never early.

What the model cannot know (the device's own buffering, the room) is one constant delay,
measured from the signals by the caller and passed to :meth:`ReferenceTimeline.read`."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

import numpy as np

RATE_HZ = 16_000
KEEP_S = 4.0
"""Reference audio kept, in seconds (longer than any echo delay worth cancelling)."""
ORIGIN_WINDOW = 96
"""Microphone frames (~3 s) whose least-delayed timestamp sets the capture clock's origin. Short
enough that capture samples the device dropped (an overflow: every later frame is "late" for
good) move the origin within seconds; long enough to hold an on-time frame under load."""
DEVICE_BUFFER_S = 0.05
"""How far ahead of the callback the output device holds audio, unless told (the stream's
reported latency): a block plays no later than this after it was handed over."""
ORIGIN_MOVE_S = 0.002
"""The capture origin counts as moved (a jump for the canceller) beyond this."""


class ReferenceTimeline:
    """Thread-safe: ``append`` from the device thread, the rest from the audio path."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ring = np.zeros(int(KEEP_S * RATE_HZ), np.float32)
        self._written = 0
        """Reference samples handed to the device so far."""
        blocks = int(KEEP_S * 100)
        self._starts = collections.deque[float](maxlen=blocks)
        """Modelled play-out start time of each recent block…"""
        self._firsts = collections.deque[int](maxlen=blocks)
        """…its first sample's number…"""
        self._sizes = collections.deque[int](maxlen=blocks)
        """…and its length."""
        self._playing_until = -np.inf
        self.underrun_s = 0.0
        """Silence the play-out model inserted (the output ran dry), in seconds."""
        self.dropped_s = 0.0
        """Audio the play-out model takes the device to have dropped (handed over beyond what it holds)."""
        self.device_buffer_s = DEVICE_BUFFER_S
        self._offsets = collections.deque[float](maxlen=ORIGIN_WINDOW)
        self.origin: float | None = None
        """Wall time of capture sample 0 (the capture clock)."""
        self.origin_moves = 0

    def append(self, block: np.ndarray) -> None:
        """Device thread: ``block`` was just handed to the output device."""
        now = self._clock()
        n = len(block)
        if n == 0:
            return
        with self._lock:
            ring = self._ring
            start = self._written % len(ring)
            first = min(n, len(ring) - start)
            ring[start:start + first] = block[:first]
            ring[:n - first] = block[first:]
            begins = max(self._playing_until, now)
            if np.isfinite(self._playing_until) and now > self._playing_until:
                self.underrun_s += now - self._playing_until
            if begins > now + self.device_buffer_s:  # more than the device holds: the rest was dropped
                self.dropped_s += begins - now - self.device_buffer_s
                begins = now + self.device_buffer_s
            self._starts.append(begins)
            self._firsts.append(self._written)
            self._sizes.append(n)
            self._playing_until = begins + n / RATE_HZ
            self._written += n

    def pair(self, capture_end: int, captured_at: float) -> None:
        """A microphone frame: ``capture_end`` samples had been captured at wall time ``captured_at``."""
        with self._lock:
            self._offsets.append(captured_at - capture_end / RATE_HZ)
            origin = min(self._offsets)
            if self.origin is not None and abs(origin - self.origin) > ORIGIN_MOVE_S:
                self.origin_moves += 1
            if self.origin is None or abs(origin - self.origin) > ORIGIN_MOVE_S:
                self.origin = origin

    def read(self, capture_start: int, n: int, delay_samples: int) -> np.ndarray:
        """The ``n`` reference samples that were leaving the device ``delay_samples`` before
        capture samples ``capture_start…+n`` were taken (zeros where nothing was playing, or is
        no longer kept)."""
        out = np.zeros(n, np.float32)
        with self._lock:
            if self.origin is None or not self._starts:
                return out
            times = self.origin + (capture_start - delay_samples + np.arange(n)) / RATE_HZ
            starts = np.fromiter(self._starts, np.float64, len(self._starts))
            block = np.searchsorted(starts, times, side="right") - 1
            inside = block >= 0
            block = np.maximum(block, 0)
            firsts = np.fromiter(self._firsts, np.int64, len(self._firsts))[block]
            sizes = np.fromiter(self._sizes, np.int64, len(self._sizes))[block]
            into = np.floor((times - starts[block]) * RATE_HZ).astype(np.int64)
            inside &= (into >= 0) & (into < sizes)
            sample = firsts + into
            inside &= sample >= self._written - len(self._ring)
            out[inside] = self._ring[sample[inside] % len(self._ring)]
        return out
