"""The endpointer: a pure state machine over per-frame speech probabilities.

quiet → starting → speaking ⇄ stopping → quiet. All durations are counted in frames of
``frame_ms``; nothing here knows about audio, threads or models.

The turn ends after ``end_silence_ms`` of silence, or earlier when the owner calls
:meth:`Endpointer.end_turn` during a pause (a semantic turn detector judged the turn complete
at a ``check_silence_ms`` checkpoint, see :mod:`voicecli.vad.turn`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class EndpointState(str, Enum):
    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


@dataclass(frozen=True)
class EndpointerParams:
    threshold: float = 0.5
    """Probability at or above which a frame is speech."""
    release: float = 0.15
    """Hysteresis: a frame is silence below ``threshold - release``."""
    start_ms: int = 96
    """Continuous speech needed before a turn starts (rejects clicks)."""
    min_speech_ms: int = 250
    """Utterances with less voiced time are discarded (coughs, bumps)."""
    preroll_ms: int = 320
    """Audio kept from before the detected start."""
    end_silence_ms: int = 400
    """Silence after the last voiced frame that ends the turn."""
    frame_ms: float = 32.0
    check_silence_ms: tuple[int, ...] = ()
    """Silences after which :class:`PauseCheckpointReached` is emitted (each once per pause):
    the moments to ask a turn detector whether the turn is complete."""

    def frames(self, ms: float) -> int:
        return max(1, math.ceil(ms / self.frame_ms))


@dataclass(frozen=True)
class SpeechStarted:
    frame: int
    """First frame of the utterance, including pre-roll."""
    onset_frame: int
    """First voiced frame."""


@dataclass(frozen=True)
class SpeechPaused:
    last_voiced_frame: int
    """Silence began after this frame: a good moment to transcribe speculatively."""


@dataclass(frozen=True)
class PauseCheckpointReached:
    last_voiced_frame: int
    """The pause that reached a checkpoint began after this frame."""
    frame: int
    """The frame that reached it (the audio up to here is what a turn detector judges)."""


@dataclass(frozen=True)
class SpeechResumed:
    frame: int


@dataclass(frozen=True)
class UtteranceEnded:
    start_frame: int
    last_voiced_frame: int
    end_frame: int


@dataclass(frozen=True)
class UtteranceDiscarded:
    start_frame: int
    end_frame: int
    voiced_frames: int


EndpointEvent = (SpeechStarted | SpeechPaused | PauseCheckpointReached | SpeechResumed | UtteranceEnded
                 | UtteranceDiscarded)


class Endpointer:
    def __init__(self, params: EndpointerParams = EndpointerParams()) -> None:
        self.p = params
        self._start_frames = params.frames(params.start_ms)
        self._min_frames = params.frames(params.min_speech_ms)
        self._end_frames = params.frames(params.end_silence_ms)
        self._check_frames = frozenset(params.frames(ms) for ms in params.check_silence_ms)
        self._preroll_frames = int(params.preroll_ms // params.frame_ms)
        self.reset()

    def reset(self) -> None:
        self.state = EndpointState.QUIET
        self.frame = -1
        self._run = 0
        self._onset = 0
        self._last_voiced = 0
        self._silence = 0
        self._voiced = 0

    @property
    def voiced_ms(self) -> float:
        """Voiced time in the current utterance (0 when quiet)."""
        return self._voiced * self.p.frame_ms if self.state != EndpointState.QUIET else 0.0

    @property
    def last_voiced_frame(self) -> int:
        return self._last_voiced

    def step(self, probability: float) -> list[EndpointEvent]:
        self.frame += 1
        i = self.frame
        speech = probability >= self.p.threshold
        silence = probability < self.p.threshold - self.p.release
        s = self.state
        if s == EndpointState.QUIET:
            if speech:
                self.state, self._run, self._onset = EndpointState.STARTING, 1, i
                return self._maybe_start()
            return []
        if s == EndpointState.STARTING:
            if speech:
                self._run += 1
                return self._maybe_start()
            if silence:
                self.state = EndpointState.QUIET
            return []
        if s == EndpointState.SPEAKING:
            if silence:
                self.state, self._silence = EndpointState.STOPPING, 1
                return [SpeechPaused(self._last_voiced)] + self._maybe_end()
            self._last_voiced = i
            if speech:
                self._voiced += 1
            return []
        # STOPPING
        if speech:
            self.state, self._last_voiced = EndpointState.SPEAKING, i
            self._voiced += 1
            return [SpeechResumed(i)]
        self._silence += 1
        if self._silence in self._check_frames and self._silence < self._end_frames:
            return [PauseCheckpointReached(self._last_voiced, i)]
        return self._maybe_end()

    def end_turn(self, last_voiced_frame: int) -> list[EndpointEvent]:
        """End the turn now, if it is still in the pause that began after ``last_voiced_frame``
        (a turn detector judged it complete). Nothing when the user has spoken again since or
        the turn already ended."""
        if self.state != EndpointState.STOPPING or self._last_voiced != last_voiced_frame:
            return []
        return self._end()

    def finish(self) -> list[EndpointEvent]:
        """The input is over: an utterance still open (spoken, or in a pause no verdict has
        ended yet) ends here, as if its silence had run out. A file that ends less than the
        fallback silence after its last words would otherwise leave them unanswered."""
        if self.state not in (EndpointState.SPEAKING, EndpointState.STOPPING):
            return []
        return self._end()

    def _maybe_start(self) -> list[EndpointEvent]:
        if self._run < self._start_frames:
            return []
        self.state = EndpointState.SPEAKING
        self._voiced = self._run
        self._last_voiced = self.frame
        return [SpeechStarted(max(0, self._onset - self._preroll_frames), self._onset)]

    def _maybe_end(self) -> list[EndpointEvent]:
        if self._silence < self._end_frames:
            return []
        return self._end()

    def _end(self) -> list[EndpointEvent]:
        start = max(0, self._onset - self._preroll_frames)
        voiced = self._voiced
        self.state = EndpointState.QUIET
        self._voiced = 0
        if voiced < self._min_frames:
            return [UtteranceDiscarded(start, self.frame, voiced)]
        return [UtteranceEnded(start, self._last_voiced, self.frame)]
