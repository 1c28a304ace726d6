"""The assistant's own voice on the microphone: places what the player played (the far-end
reference, tapped at 16 kHz) on the capture timeline (:class:`~voicecli.audio.reference.ReferenceTimeline`),
measures the echo delay from the mic/reference cross-correlation and feeds the canceller the
reference shifted by it, measures how much echo the canceller removes (ERLE), and passes the
cleaned signal on only when the coupling gate says a loudspeaker is heard (with headphones the
raw microphone is better: AEC3 also damps the user while it is still learning).

:attr:`EchoPath.state` tells the conversation how far to trust the microphone while the
assistant talks: no echo heard, echo heard and cancelled, or echo heard and not (yet) cancelled."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from voicecli.audio.echo_gate import EchoCouplingGate
from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.audio.io import CapturedFrame
from voicecli.audio.playback import Player
from voicecli.audio.reference import ReferenceTimeline
from voicecli.pipeline.echo_check import AcousticEvidence

DELAY_MARGIN_MS = 20
"""The reference is fed this much ahead of the measured echo (the canceller needs it early)."""
REDELAY_MS = 8
"""A new delay estimate is taken only when it moved this far (each move is a jump to re-learn)."""
FAR_ACTIVE_DBFS = -45.0
"""Reference level (as it reaches the microphone's timeline) above which the far end talks."""
ERLE_WINDOW_FRAMES = 64
"""Far-end-active frames the ERLE is measured over (~2 s)."""
ERLE_MIN_FRAMES = 24
"""Far-end-active frames needed before the ERLE counts (~0.8 s of the assistant's speech)."""
CONVERGED_ERLE_DB = 15.0
"""The canceller counts as converged above this ERLE."""
KEEP_FRAMES = 400
"""Frames of raw microphone and reference kept for :meth:`EchoPath.evidence` (~13 s)."""
EVIDENCE_MAX_FRAMES = 125
"""The evidence looks at most at an utterance's last ~4 s."""
EVIDENCE_LAG_MS = 40
"""…and at lags this close to the measured echo delay."""


class EchoCanceller(Protocol):
    """``voicecli.audio.echo.EchoCanceller``: removes ``reference`` from ``mic``."""

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray: ...

    def set_delay_hint(self, delay_ms: int) -> None: ...


@dataclass(frozen=True)
class EchoState:
    """What the echo path knows about the loudspeaker right now."""

    heard: bool
    """The microphone may hear the speaker: the cross-correlation says so, or has not yet said
    it does not (the cautious default)."""
    delay_ms: float | None
    """Measured echo delay: reference handed to the device → echo captured."""
    erle_db: float | None
    """Echo removed by the canceller over the last seconds of the assistant's speech."""
    far_active: bool
    """The assistant's voice is reaching the microphone's timeline now (or just did)."""

    @property
    def converged(self) -> bool:
        return self.erle_db is not None and self.erle_db >= CONVERGED_ERLE_DB

    @property
    def strong(self) -> bool:
        """Echo is heard and the canceller has not (yet, or no longer) got it under control."""
        return self.heard and not self.converged


class _ErleMeter:
    """Echo return loss enhancement: microphone energy / cleaned energy while the far end talks."""

    def __init__(self) -> None:
        self._frames = collections.deque[tuple[float, float]](maxlen=ERLE_WINDOW_FRAMES)

    def add(self, mic: np.ndarray, cleaned: np.ndarray) -> None:
        self._frames.append((float(np.mean(np.square(mic, dtype=np.float64))),
                             float(np.mean(np.square(cleaned, dtype=np.float64)))))

    @property
    def erle_db(self) -> float | None:
        if len(self._frames) < ERLE_MIN_FRAMES:
            return None
        mic = sum(m for m, _ in self._frames)
        out = sum(c for _, c in self._frames)
        return float(10 * np.log10((mic + 1e-12) / (out + 1e-12)))


class EchoPath:
    def __init__(self, canceller: EchoCanceller, player: Player) -> None:
        self._aec = canceller
        self._gate = EchoCouplingGate()
        self._timeline = ReferenceTimeline()
        self._erle = _ErleMeter()
        self._shift: int | None = None
        """Samples the canceller's reference is shifted by (the measured delay minus the margin)."""
        self._far_hold = 0
        self.delay_changes = 0
        self._calls = 0
        """Frames seen (the n-th call is the endpointer's frame n)."""
        self._kept = collections.deque[tuple[np.ndarray, np.ndarray, bool]](maxlen=KEEP_FRAMES)
        """(raw microphone, unshifted reference, far end active) of the recent frames."""
        player.add_tap(self._timeline.append)

    @property
    def underrun_s(self) -> float:
        """Silence the output device played because it ran dry (the play-out model's estimate)."""
        return self._timeline.underrun_s

    def clean(self, frame: CapturedFrame) -> np.ndarray:
        """The microphone frame to listen to."""
        samples = frame.samples
        n = len(samples)
        start = frame.index * n
        self._timeline.pair(start + n, frame.captured_at)
        unshifted = self._timeline.read(start, n, 0)
        self._gate.observe(samples, unshifted)
        self._update_shift()
        reference = self._timeline.read(start, n, self._shift or 0)
        cleaned = self._aec.process(samples, reference)
        echo_ref = reference if self._shift is not None else unshifted
        if float(np.max(np.abs(echo_ref), initial=0.0)) >= 10 ** (FAR_ACTIVE_DBFS / 20):
            self._far_hold = 8  # the echo (and its tail) is in the next few frames too
            self._erle.add(samples, cleaned)
        elif self._far_hold:
            self._far_hold -= 1
        self._kept.append((samples, unshifted, self._far_hold > 0))
        self._calls += 1
        return samples if self._gate.echo_free else cleaned

    def _update_shift(self) -> None:
        delay = self._gate.delay_samples
        if delay is None:
            return
        shift = max(0, delay - DELAY_MARGIN_MS * PIPELINE_RATE_HZ // 1000)
        if self._shift is None or abs(shift - self._shift) > REDELAY_MS * PIPELINE_RATE_HZ // 1000:
            if self._shift is not None:
                self.delay_changes += 1
            self._shift = shift
            self._aec.set_delay_hint(DELAY_MARGIN_MS)

    def evidence(self, first_frame: int, last_frame: int) -> AcousticEvidence:
        """How much of frames ``first…last`` (endpointer numbering) the loudspeaker explains: the
        share of them with the far end active, and the raw microphone's peak correlation with
        the reference within ``EVIDENCE_LAG_MS`` of the measured delay (None if unknown)."""
        oldest = self._calls - len(self._kept)
        lo = max(first_frame, oldest, last_frame - EVIDENCE_MAX_FRAMES + 1)
        span = [self._kept[i - oldest] for i in range(lo, min(last_frame + 1, self._calls))]
        if not span:
            return AcousticEvidence(0.0, None)
        coverage = sum(far for _, _, far in span) / len(span)
        delay = self._gate.delay_samples
        if delay is None:
            return AcousticEvidence(coverage, None)
        mic = np.concatenate([m for m, _, _ in span]).astype(np.float64)
        margin = EVIDENCE_LAG_MS * PIPELINE_RATE_HZ // 1000
        before = max(0, lo - oldest - (delay + margin) // len(span[0][0]) - 1)
        ref = np.concatenate([r for _, r, _ in list(self._kept)[before:lo - oldest + len(span)]]).astype(np.float64)
        lead = len(ref) - len(mic)  # ref[lead + i] was captured with mic[i]
        best = 0.0
        energy = float(np.sum(mic ** 2))
        for lag in range(max(0, delay - margin), min(lead, delay + margin) + 1, 4):
            seg = ref[lead - lag:lead - lag + len(mic)]
            denom = np.sqrt(energy * float(np.sum(seg ** 2)))
            if denom > 0:
                best = max(best, abs(float(np.dot(mic, seg))) / denom)
        return AcousticEvidence(coverage, best)

    @property
    def state(self) -> EchoState:
        delay = self._gate.delay_samples
        return EchoState(heard=not self._gate.echo_free,
                         delay_ms=None if delay is None else delay * 1000 / PIPELINE_RATE_HZ,
                         erle_db=self._erle.erle_db, far_active=self._far_hold > 0)
