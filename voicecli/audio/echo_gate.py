"""Decide whether the microphone hears the loudspeaker at all.

WebRTC AEC3 removes the assistant's voice well, but until it has learned the room it also
suppresses the user's voice while the assistant talks — even with headphones, where there is
no echo to remove. So every ~256 ms while the assistant is playing, we look for the played
signal in the microphone signal: a quiet microphone, or one whose content does not correlate
with what is played at any plausible delay, votes "no echo"; a clear correlation votes
"echo". The raw microphone feeds the VAD only when the recent votes say "no echo"; without
evidence we assume a loudspeaker (the cautious choice).

The lag of each clear correlation peak is the echo delay (reference handed to the device →
echo captured); :attr:`EchoCouplingGate.delay_samples` is the median of the recent ones."""

from __future__ import annotations

import collections
import statistics

import numpy as np

DELAY_VOTES = 5
"""Clear correlation peaks the delay estimate is the median of."""
MIN_VOTES = 3
"""Votes (~0.8 s of the assistant's speech) before the gate says anything: a first vote can
fall on the user's last words still in the window (it once let the very first reply be cut as
if on headphones)."""


class EchoCouplingGate:
    def __init__(self, block_samples: int = 4096, history_samples: int = 16000, max_delay_samples: int = 9600,
                 far_active_rms: float = 0.01, quiet_ratio: float = 0.03, echo_ncc: float = 0.3,
                 no_echo_ncc: float = 0.12, votes: int = 6) -> None:
        self.block = block_samples
        self.history = history_samples
        self.max_delay = max_delay_samples
        self.far_active_rms = far_active_rms
        """Reference RMS above which the far end counts as playing (-40 dBFS)."""
        self.quiet_ratio = quiet_ratio
        """Mic RMS below this fraction of the reference RMS (-30 dB): the mic does not hear it."""
        self.echo_ncc = echo_ncc
        self.no_echo_ncc = no_echo_ncc
        self._mic = np.zeros(0, np.float32)
        self._ref = np.zeros(0, np.float32)
        self._pending = 0
        self._votes = collections.deque[bool](maxlen=votes)
        self.last_ncc: float | None = None
        self._lags = collections.deque[int](maxlen=DELAY_VOTES)

    def observe(self, mic: np.ndarray, reference: np.ndarray) -> None:
        self._mic = np.concatenate([self._mic, mic])[-self.history:]
        self._ref = np.concatenate([self._ref, reference])[-(self.history + self.max_delay):]
        self._pending += len(mic)
        if self._pending >= self.block:
            self._pending = 0
            self._vote()

    def _vote(self) -> None:
        mic_block, ref_block = self._mic[-self.block:], self._ref[-self.block:]
        ref_rms = float(np.sqrt(np.mean(np.square(ref_block, dtype=np.float64))))
        if ref_rms < self.far_active_rms or len(self._mic) < self.block:
            return
        mic_rms = float(np.sqrt(np.mean(np.square(mic_block, dtype=np.float64))))
        if mic_rms < self.quiet_ratio * ref_rms:
            self._votes.append(False)
            return
        ncc, lag = self._max_ncc()
        self.last_ncc = ncc
        if ncc >= self.echo_ncc:
            self._votes.append(True)
            self._lags.append(lag)
        elif ncc < self.no_echo_ncc:
            self._votes.append(False)

    def _max_ncc(self) -> tuple[float, int]:
        """Peak normalised cross-correlation between the mic (last ``history`` samples) and the
        reference delayed by 0..max_delay samples, and the delay (samples) where it peaks."""
        mic = self._mic.astype(np.float64)
        ref = self._ref.astype(np.float64)
        n = 1 << int(np.ceil(np.log2(len(mic) + len(ref))))
        # c[k] = sum_i mic[i] * ref[i + k]; the mic lagging the reference by L samples peaks at
        # k = offset - L, where offset = len(ref) - len(mic).
        corr = np.fft.irfft(np.conj(np.fft.rfft(mic, n)) * np.fft.rfft(ref, n), n)
        offset = len(ref) - len(mic)
        lags = np.arange(0, min(self.max_delay, offset) + 1)
        values = np.abs(corr[(offset - lags) % n])
        best = int(np.argmax(values))
        seg = ref[offset - lags[best]: offset - lags[best] + len(mic)]
        denom = float(np.sqrt(np.sum(mic ** 2) * np.sum(seg ** 2)))
        return (float(values[best] / denom) if denom > 0 else 0.0), int(lags[best])

    @property
    def echo_free(self) -> bool:
        """True when the recent evidence says the microphone does not hear the speaker."""
        return len(self._votes) >= MIN_VOTES and sum(self._votes) * 2 < len(self._votes)

    @property
    def echo_heard(self) -> bool:
        """True when the recent evidence says the microphone hears the speaker."""
        return len(self._votes) >= MIN_VOTES and sum(self._votes) * 2 > len(self._votes)

    @property
    def coupling(self) -> float | None:
        return self.last_ncc

    @property
    def delay_samples(self) -> int | None:
        """The echo delay: median lag of the recent clear correlation peaks (None before the
        first; at least three are needed)."""
        if len(self._lags) < 3:
            return None
        return int(statistics.median(self._lags))
