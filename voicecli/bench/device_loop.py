"""Voice-to-voice latency as the user hears it: ``voicecli talk`` on a virtual microphone and
loudspeaker (PulseAudio, see :mod:`voicecli.bench.virtual_audio`), questions played into the
microphone and onto the recorded speaker track on one clock, latency read off that recording:

    latency = first audible reply sample (≥ −45 dBFS) − last audible sample of the question

Beside it, per turn, the figures ``talk`` itself reports (``--json``), so the part no stage
accounts for (the device path) is visible. The pure analysis lives here; the driver is
``benchmarks/device_loop.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AUDIBLE_DBFS = -45.0
WINDOW_MS = 5


def audible_threshold(dbfs: float = AUDIBLE_DBFS) -> float:
    return float(10 ** (dbfs / 20.0))


def last_audible_sample(samples: np.ndarray, dbfs: float = AUDIBLE_DBFS) -> int:
    """Index just after the last sample at or above the threshold (0 when none is)."""
    loud = np.flatnonzero(np.abs(samples) >= audible_threshold(dbfs))
    return int(loud[-1]) + 1 if loud.size else 0


def first_audible_sample(samples: np.ndarray, start: int, dbfs: float = AUDIBLE_DBFS) -> int | None:
    """Index of the first sample at or after ``start`` at or above the threshold."""
    loud = np.flatnonzero(np.abs(samples[start:]) >= audible_threshold(dbfs))
    return start + int(loud[0]) if loud.size else None


def trim_to_voice(samples: np.ndarray, speech_probabilities: list[float], frame_samples: int,
                  threshold: float = 0.5, fade_ms: float = 10.0, rate_hz: int = 16000) -> np.ndarray:
    """``samples`` ending with its voice: cut after the last audible sample inside the last frame
    a voice detector calls speech (``speech_probabilities``, one per ``frame_samples``), with a
    ``fade_ms`` fade-out. A recording's room tone after the words is not the question, and its
    noise above the audible threshold would move the question's end (en_goforward.wav: 283 ms
    of it); espeak-ng's clips, which end in digital silence, are returned unchanged."""
    voiced = [i for i, p in enumerate(speech_probabilities) if p >= threshold]
    if not voiced:
        return samples
    end = last_audible_sample(samples[: (voiced[-1] + 1) * frame_samples])
    if end >= last_audible_sample(samples):
        return samples
    out = samples[:end].copy()
    fade = min(len(out), int(fade_ms * rate_hz / 1000))
    out[len(out) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=out.dtype)
    return out


def locate(recording: np.ndarray, clip: np.ndarray, approx_start: int, search: int) -> int:
    """Where ``clip`` starts in ``recording``, searched ``±search`` samples around ``approx_start``
    (FFT cross-correlation normalised by the recording's energy; the clip was played onto the
    recorded track, so it is there exactly)."""
    lo = max(0, approx_start - search)
    hi = min(len(recording), approx_start + search + len(clip))
    region = recording[lo:hi].astype(np.float64)
    if len(region) < len(clip):
        raise ValueError("the recording ends before the question does")
    n = 1 << int(np.ceil(np.log2(len(region) + len(clip))))
    corr = np.fft.irfft(np.fft.rfft(region, n) * np.conj(np.fft.rfft(clip.astype(np.float64), n)), n)
    valid = corr[: len(region) - len(clip) + 1]
    # normalised by the recording's energy under the clip: raw correlation favours loud stretches,
    # and a quiet clip (en_timit_LDC93S1.wav peaks at -21 dBFS) was once "found" in a reply
    energy = np.concatenate([[0.0], np.cumsum(region * region)])
    window = energy[len(clip):] - energy[: len(region) - len(clip) + 1]
    return lo + int(np.argmax(valid / np.sqrt(np.maximum(window, 1e-12))))


@dataclass(frozen=True)
class TurnTiming:
    """One question's external timing, in seconds on the recording's timeline."""

    question_end_s: float
    reply_onset_s: float | None
    sound_over_end: bool = False
    """The recording is still loud where the question ends (past its own tolerance): something
    sounded over the end of the question (a reply begun during it), so no latency is read off."""

    @property
    def latency_ms(self) -> float | None:
        if self.reply_onset_s is None or self.sound_over_end:
            return None
        return (self.reply_onset_s - self.question_end_s) * 1000.0


def time_turn(recording: np.ndarray, question: np.ndarray, approx_start: int, rate_hz: int,
              reply_before: int | None = None, tolerance_ms: float = 50.0) -> TurnTiming:
    """Find the question on the recording; its end there is the last audible sample up to
    ``tolerance_ms`` past the clip's own last audible sample (the recorded copy went through
    resampling: it may ring a little longer or fade a little sooner); the reply is the first
    audible sample after that (before ``reply_before``, e.g. where the next question starts)."""
    start = locate(recording, question, approx_start, search=2 * rate_hz)
    window_end = start + last_audible_sample(question) + int(tolerance_ms * rate_hz / 1000)
    end = start + last_audible_sample(recording[start:window_end])
    limit = recording if reply_before is None else recording[:reply_before]
    onset = first_audible_sample(limit, window_end)
    # loud on both sides of the question's end (a 10 ms gap is a zero crossing, not silence)
    over = end >= window_end and onset is not None and onset < window_end + rate_hz // 100
    return TurnTiming(end / rate_hz, None if onset is None else onset / rate_hz, over)
