"""The assistant's own voice on the microphone: places what the player played (the far-end
reference, tapped at 16 kHz) on the capture timeline (:class:`~voicecli.audio.reference.ReferenceTimeline`),
measures the echo delay from the mic/reference cross-correlation and feeds the canceller the
reference shifted by it, measures how much echo the canceller removes (ERLE), and passes the
cleaned signal on only when the coupling gate says a loudspeaker is heard (with headphones the
raw microphone is better: AEC3 also damps the user while it is still learning).

A second, linear canceller (speex MDF + residual suppression) runs beside AEC3 on the same
aligned reference. It leaves more echo (so AEC3's output feeds the VAD), but it keeps the user's
words intact where both talk at once, where AEC3's suppressor eats them: with a user talking
over a −6 dB echo for 1 s, tiny.en's WER was 24 % on AEC3's output and 0–2 % on speex's.
:meth:`EchoPath.transcript_audio` gives that signal for an utterance heard over the speaker.

:attr:`EchoPath.state` tells the conversation how far to trust the microphone while the
assistant talks: no echo heard, echo heard and cancelled, or echo heard and not (yet) cancelled."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

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
"""A new delay estimate is taken only when it moved this far (each move restarts the canceller)."""
FAR_ACTIVE_DBFS = -45.0
"""Reference level (as it reaches the microphone's timeline) above which the far end talks."""
ERLE_WINDOW_FRAMES = 64
"""Far-end-active frames the ERLE is measured over (~2 s)."""
ERLE_MIN_FRAMES = 24
"""Far-end-active frames needed before the ERLE counts (~0.8 s of the assistant's speech)."""
CONVERGED_ERLE_DB = 15.0
"""The canceller counts as converged above this ERLE."""
KEEP_FRAMES = 940
"""Frames kept for :meth:`EchoPath.evidence` and :meth:`EchoPath.transcript_audio` (~30 s)."""
EVIDENCE_MAX_FRAMES = 125
"""The evidence looks at most at an utterance's last ~4 s…"""
EVIDENCE_BLOCK_FRAMES = 16
"""…in blocks of ~0.5 s, each at its own best lag (an underrun moves the echo mid-utterance)…"""
EVIDENCE_LAG_MS = 60
"""…within this of the measured echo delay."""
LOOK_BACK_FRAMES = 40
"""How far (~1.3 s) :meth:`EchoPath.transcript_audio` may reach back before an utterance's start
for words the VAD missed while AEC3 damped them."""
NEAR_END_DB = -8.0
"""A frame holds the user's voice when the linear canceller kept more than this of its energy
(echo alone loses 15 dB and more; a voice the canceller cannot predict loses little)…"""
NEAR_END_FLOOR_DBFS = -55.0
"""…and it is louder than this."""
MIN_DEVICE_BUFFER_S = 0.02
"""The play-out model's device buffer is at least this, whatever the stream reports."""
TRANSCRIPT_FILTER_MS = 120
"""The linear canceller's echo tail: the margin, lag jumps and the room's first reflections."""


class EchoCanceller(Protocol):
    """``voicecli.audio.echo.EchoCanceller``: removes ``reference`` from ``mic``."""

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray: ...

    def set_delay_hint(self, delay_ms: int) -> None: ...

    def reset(self) -> None: ...


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


class _Kept(NamedTuple):
    raw: np.ndarray
    reference: np.ndarray
    """Unshifted (delay 0) reference of the frame."""
    far_active: bool
    linear: np.ndarray | None
    """The linear canceller's output (for transcripts)."""


def _linear_canceller() -> EchoCanceller | None:
    try:
        from voicecli.audio.echo import EchoCanceller as Canceller

        return Canceller(backend="speex", filter_ms=TRANSCRIPT_FILTER_MS)
    except (ImportError, OSError):  # no libspeexdsp: transcripts come from AEC3's output
        return None


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
    def __init__(self, canceller: EchoCanceller, player: Player, linear: EchoCanceller | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 output_latency_s: Callable[[], float | None] = lambda: None) -> None:
        """``output_latency_s``: the output stream's reported latency once it runs (the device
        buffer of the play-out model; see :mod:`voicecli.audio.reference`)."""
        self._aec = canceller
        self._linear = linear if linear is not None else _linear_canceller()
        self._gate = EchoCouplingGate()
        self._timeline = ReferenceTimeline(clock)
        self._erle = _ErleMeter()
        self._shift: int | None = None
        """Samples the canceller's reference is shifted by (the measured delay minus the margin)."""
        self._far_hold = 0
        self.delay_changes = 0
        self._calls = 0
        """Frames seen (the n-th call is the endpointer's frame n)."""
        self._kept = collections.deque[_Kept](maxlen=KEEP_FRAMES)
        self._output_latency_s = output_latency_s
        self._latency_known = False
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
        if not self._latency_known and (latency := self._output_latency_s()) is not None:
            self._timeline.device_buffer_s = max(latency, MIN_DEVICE_BUFFER_S)
            self._latency_known = True
        self._timeline.pair(start + n, frame.captured_at)
        unshifted = self._timeline.read(start, n, 0)
        self._gate.observe(samples, unshifted)
        self._update_shift()
        reference = self._timeline.read(start, n, self._shift or 0)
        cleaned = self._aec.process(samples, reference)
        linear = self._linear.process(samples, reference) if self._linear is not None else None
        echo_ref = reference if self._shift is not None else unshifted
        kept = _Kept(samples, unshifted, False, linear)
        if float(np.max(np.abs(echo_ref), initial=0.0)) >= 10 ** (FAR_ACTIVE_DBFS / 20):
            self._far_hold = 8  # the echo (and its tail) is in the next few frames too
            if not self._near_end(kept):  # the user talking is no failure to cancel
                self._erle.add(samples, cleaned)
        elif self._far_hold:
            self._far_hold -= 1
        self._kept.append(kept._replace(far_active=self._far_hold > 0))
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
            # AEC3 re-learns a moved echo faster from scratch than by tracking the jump: over
            # four 2-minute sessions recorded under load, 10 false barge-in candidates with a
            # reset here, 33 without, 18 with no shift at all (AEC3's own delay search)
            self._aec.reset()
            self._aec.set_delay_hint(DELAY_MARGIN_MS)
            self._erle = _ErleMeter()

    def _span(self, first_frame: int, last_frame: int) -> tuple[int, list[_Kept]]:
        """The kept frames of ``first…last`` (endpointer numbering) and the first one's number."""
        oldest = self._calls - len(self._kept)
        lo = max(first_frame, oldest)
        return lo, [self._kept[i - oldest] for i in range(lo, min(last_frame + 1, self._calls))]

    def transcript_audio(self, first_frame: int, last_frame: int) -> tuple[np.ndarray, int] | None:
        """The linear canceller's output for frames ``first…last``, reaching back before
        ``first`` over frames that hold the user's voice (the start AEC3 may have damped), and
        the frame it starts at; None when it is not running or the span is no longer kept."""
        lo, span = self._span(first_frame, last_frame)
        if self._linear is None or lo != first_frame or not span:
            return None
        oldest = self._calls - len(self._kept)
        start, misses = first_frame, 0
        for i in range(first_frame - 1, max(oldest, first_frame - LOOK_BACK_FRAMES) - 1, -1):
            misses = 0 if self._near_end(self._kept[i - oldest]) else misses + 1
            if misses > 3:
                break
            if misses == 0:
                start = i
        _, span = self._span(start, last_frame)
        return np.concatenate([k.linear for k in span if k.linear is not None]).astype(np.float32), start

    @staticmethod
    def _near_end(k: _Kept) -> bool:
        if k.linear is None:
            return False
        raw = float(np.mean(np.square(k.raw, dtype=np.float64)))
        kept = float(np.mean(np.square(k.linear, dtype=np.float64)))
        return bool(10 * np.log10(kept + 1e-12) > NEAR_END_FLOOR_DBFS
                    and 10 * np.log10((kept + 1e-12) / (raw + 1e-12)) > NEAR_END_DB)

    def evidence(self, first_frame: int, last_frame: int) -> AcousticEvidence:
        """How much of frames ``first…last`` (endpointer numbering) the loudspeaker explains: the
        share of them with the far end active, and the raw microphone's correlation with the
        reference (energy-weighted over ~0.5 s blocks of the last ~4 s, each block at its best
        lag within ``EVIDENCE_LAG_MS`` of the measured delay; None if no delay is known)."""
        lo, span = self._span(max(first_frame, last_frame - EVIDENCE_MAX_FRAMES + 1), last_frame)
        _, whole = self._span(first_frame, last_frame)
        if not whole:
            return AcousticEvidence(0.0, None)
        coverage = sum(k.far_active for k in whole) / len(whole)
        delay = self._gate.delay_samples
        if delay is None:
            return AcousticEvidence(coverage, None)
        oldest = self._calls - len(self._kept)
        frame_n = len(span[0].raw)
        margin = EVIDENCE_LAG_MS * PIPELINE_RATE_HZ // 1000
        back = (delay + margin) // frame_n + 1
        weighted = energy = 0.0
        for b in range(0, len(span), EVIDENCE_BLOCK_FRAMES):
            block = span[b:b + EVIDENCE_BLOCK_FRAMES]
            if not any(k.far_active for k in block):
                continue
            mic = np.concatenate([k.raw for k in block]).astype(np.float64)
            start = lo + b - oldest
            refs = [self._kept[i].reference for i in range(max(0, start - back), start + len(block))]
            ref = np.concatenate(refs).astype(np.float64)
            ncc = _best_ncc(mic, ref, delay, margin)
            e = float(np.sum(mic ** 2))
            weighted += ncc * e
            energy += e
        return AcousticEvidence(coverage, weighted / energy if energy > 0 else None)

    @property
    def state(self) -> EchoState:
        delay = self._gate.delay_samples
        return EchoState(heard=not self._gate.echo_free,
                         delay_ms=None if delay is None else delay * 1000 / PIPELINE_RATE_HZ,
                         erle_db=self._erle.erle_db, far_active=self._far_hold > 0)


def _best_ncc(mic: np.ndarray, ref: np.ndarray, delay: int, margin: int) -> float:
    """Peak |normalised correlation| of ``mic`` with ``ref`` (which ends where ``mic`` ends)
    delayed by ``delay ± margin`` samples."""
    lead = len(ref) - len(mic)
    lags = np.arange(max(0, delay - margin), min(lead, delay + margin) + 1)
    if lags.size == 0:
        return 0.0
    n = 1 << int(np.ceil(np.log2(len(ref) + len(mic))))
    corr = np.fft.irfft(np.conj(np.fft.rfft(mic, n)) * np.fft.rfft(ref, n), n)
    starts = lead - lags
    cum = np.concatenate([[0.0], np.cumsum(ref ** 2)])
    seg_energy = cum[starts + len(mic)] - cum[starts]
    denom = np.sqrt(float(np.sum(mic ** 2)) * seg_energy)
    ncc = np.abs(corr[starts % n]) / np.where(denom > 0, denom, np.inf)
    return float(np.max(ncc))
