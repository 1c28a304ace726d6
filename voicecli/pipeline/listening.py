"""The microphone side of a conversation: every frame passes the echo path, the mute and
push-to-talk gates and the VAD into the endpointer, and is kept so that a turn's audio can be
cut out when the endpointer (or the push-to-talk key) says where it starts and ends. With a
semantic turn detector the endpointer also reports pause checkpoints, and a complete verdict
ends the turn early (:meth:`Listener.end_turn`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from voicecli.audio.format import FRAME_MS, rms_dbfs
from voicecli.audio.io import CapturedFrame
from voicecli.pipeline.capture import CaptureBuffer
from voicecli.pipeline.echo_path import EchoPath
from voicecli.pipeline.events import LevelMeasured
from voicecli.vad.endpointer import (
    Endpointer,
    EndpointerParams,
    EndpointEvent,
    EndpointState,
    PauseCheckpointReached,
    SpeechPaused,
    SpeechStarted,
    UtteranceEnded,
)
from voicecli.vad.turn import SemanticTurnParams
from voicecli.vad.types import VoiceActivityModel

LEVEL_EVERY_FRAMES = 3
"""A LevelMeasured event every this many frames (~10 per second)."""


class Listener:
    def __init__(self, vad: VoiceActivityModel, params: EndpointerParams, echo: EchoPath | None,
                 on_level: Callable[[LevelMeasured], None], semantic: SemanticTurnParams | None = None) -> None:
        self.vad = vad
        self.endpointer = Endpointer(_effective(params, semantic))
        self._echo = echo
        self._on_level = on_level
        self._capture = CaptureBuffer()
        self.muted = False
        self.ptt_open = False
        self._ptt_open_frame = 0
        self._ptt_heard_speech = False
        self.utterance_start = 0
        """Endpointer frame where the current utterance starts (pre-roll included)."""
        self.utterance_started_wall = time.time()
        self._reopened: int | None = None
        """Where the utterance in progress really starts when it continues an earlier one."""

    def hear(self, frame: CapturedFrame, push_to_talk: bool) -> list[EndpointEvent]:
        """One captured frame in; what the endpointer made of it out."""
        samples = frame.samples if self._echo is None else self._echo.clean(frame)
        if self.muted or (push_to_talk and not self.ptt_open):
            samples = np.zeros_like(samples)
        frame = CapturedFrame(frame.index, samples, frame.captured_at)
        self._capture.append(frame)
        if frame.index % LEVEL_EVERY_FRAMES == 0:
            self._on_level(LevelMeasured(rms_dbfs(frame.samples), self.muted))
        events = self.endpointer.step(self.vad.probability(samples))
        for ev in events:
            if isinstance(ev, SpeechStarted):
                self._ptt_heard_speech = True
                self.utterance_started_wall = time.time()
                self.utterance_start = ev.frame
                self._reopened = None
        return events

    @property
    def state(self) -> EndpointState:
        return self.endpointer.state

    def talking_over(self, barge_in_ms: float) -> bool:
        """Has the user spoken long enough in the current utterance to cut a reply?"""
        return (self.endpointer.state in (EndpointState.SPEAKING, EndpointState.STOPPING)
                and self.endpointer.voiced_ms >= barge_in_ms)

    def audio(self, start: int, stop: int) -> tuple[np.ndarray, float]:
        """Samples of endpointer frames [start, stop] and the capture time of ``stop``."""
        return self._capture.audio(start, stop, self.endpointer.frame)

    def pause_audio(self, ev: SpeechPaused) -> np.ndarray:
        """The utterance so far, at a pause (for a speculative transcript)."""
        return self.audio(self.utterance_start, ev.last_voiced_frame + 1)[0]

    def so_far(self) -> np.ndarray:
        """The utterance in progress up to the latest frame (for a live partial transcript)."""
        return self.audio(self.utterance_start, self.endpointer.frame)[0]

    def checkpoint_audio(self, ev: PauseCheckpointReached) -> np.ndarray:
        """The utterance so far, its pause included (what a turn detector judges)."""
        return self.audio(self.utterance_start, ev.frame)[0]

    def end_turn(self, last_voiced_frame: int) -> list[EndpointEvent]:
        """A turn detector judged the turn complete: end it now if the user is still in the
        pause after ``last_voiced_frame`` (else nothing)."""
        return self.endpointer.end_turn(last_voiced_frame)

    def finish(self) -> list[EndpointEvent]:
        """The input is over: end the utterance still open, if any."""
        return self.endpointer.finish()

    def reopen(self, start_frame: int, started_wall: float) -> None:
        """The utterance in progress continues the one that started at endpointer frame
        ``start_frame`` (Unix time ``started_wall``): its audio, partials and pause checks start there."""
        self._reopened = self.utterance_start = start_frame
        self.utterance_started_wall = started_wall

    def span(self, ev: UtteranceEnded) -> tuple[int, int]:
        """The ended utterance's first frame (an earlier one if it was reopened) and last voiced frame."""
        start = ev.start_frame if self._reopened is None else min(self._reopened, ev.start_frame)
        return start, ev.last_voiced_frame

    def utterance(self, ev: UtteranceEnded) -> tuple[np.ndarray, float]:
        """The ended utterance's audio (from where it was reopened, if it was) and the capture
        time of its last voiced frame."""
        audio, _ = self.audio(self.span(ev)[0], ev.last_voiced_frame + 1)
        _, last_voiced_at = self.audio(ev.last_voiced_frame, ev.last_voiced_frame)
        return audio, last_voiced_at

    def open_ptt(self) -> None:
        self.ptt_open = True
        self._ptt_open_frame = self.endpointer.frame + 1
        self._ptt_heard_speech = False

    def close_ptt(self, preroll_ms: float) -> tuple[np.ndarray, float] | None:
        """Push-to-talk released: everything heard since the key was pressed (the endpointer may
        already have seen the speech end while the key was still down) and the capture time of
        the last voiced frame; None if no speech was heard."""
        self.ptt_open = False
        if not self._ptt_heard_speech:
            return None
        start = max(0, self._ptt_open_frame - int(preroll_ms // FRAME_MS))
        audio, _ = self.audio(start, self.endpointer.frame)
        last = self.endpointer.last_voiced_frame
        _, last_voiced_at = self.audio(last, last)
        return audio, last_voiced_at

    def reconfigure(self, params: EndpointerParams, semantic: SemanticTurnParams | None = None) -> None:
        """New endpointer parameters, taken when the endpointer is quiet (the position is kept)."""
        params = _effective(params, semantic)
        if params != self.endpointer.p and self.endpointer.state == EndpointState.QUIET:
            frame = self.endpointer.frame
            self.endpointer = Endpointer(params)
            self.endpointer.frame = frame

    def reset(self) -> None:
        """Forget the utterance in progress (the position is kept)."""
        frame = self.endpointer.frame
        self.endpointer.reset()
        self.endpointer.frame = frame
        self._reopened = None


def _effective(params: EndpointerParams, semantic: SemanticTurnParams | None) -> EndpointerParams:
    """The endpointer's parameters: with a turn detector, its checkpoints and fallback silence."""
    return params if semantic is None else semantic.endpointer(params)
