"""Semantic end of turn in a running conversation: at each pause checkpoint the endpointer
reports, the turn's audio so far goes to the turn model on a thread of its own (never the
audio path); the verdict comes back to the event loop, which ends the turn there if the user
is still in that same pause. The speculative transcript of the pause is asked first and may
settle it without the model (:meth:`SemanticTurnParams.verdict_from_words`): at once on the
loop when it is ready at the checkpoint, or the moment it arrives later in the pause (a
finished question then ends the turn without waiting for the next checkpoint). When it is not
ready at the checkpoint the model is asked once it arrives and leaves the turn open, so a
verdict the words settle never queues behind (or competes for a core with) a model run.

The model also waits (up to :data:`MODEL_WAIT_MAX_S`) while the speculative reply works towards
its first audio: on two cores a Smart Turn run beside the reply's first tokens took ~150 ms
instead of ~50 and held the first token back as long, though the reply's first audio, not the
verdict, was the later of the two. Run once that audio is ready, the verdict comes ~50 ms after
it and the reply plays at once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voicecli.concurrency import post
from voicecli.stt.types import Transcription
from voicecli.vad.turn import SemanticTurnParams, TurnModel

TranscriptFuture = concurrent.futures.Future[tuple[Transcription, float]]

MODEL_WAIT_MAX_S = 0.5
"""Longest the turn model waits for the speculative reply's first audio (a slow first clause
must not hold the verdict back for long: the reply plays only once the turn has ended)."""
_WAIT_POLL_S = 0.005


@dataclass(frozen=True)
class TurnVerdict:
    last_voiced_frame: int
    probability: float | None
    """The model's probability that the turn is complete (None: the words settled it)."""
    transcript: str | None
    """The words heard up to the pause, if they were known in time."""
    complete: bool
    compute_ms: float


class TurnEndJudge:
    """Asks the turn model at checkpoints; calls ``on_complete(last_voiced_frame)`` on the event
    loop when a verdict says the turn is over. A model failure is no verdict: the silence
    fallback ends the turn."""

    def __init__(self, model: TurnModel, params: Callable[[], SemanticTurnParams | None],
                 on_complete: Callable[[int], None], hot_path_busy: Callable[[], bool] = lambda: False) -> None:
        self._model = model
        self._hot_path_busy = hot_path_busy
        """Is the speculative reply still making its first audio? (called on the turn thread)"""
        self._params = params
        self._on_complete = on_complete
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="turn")
        self.verdicts: list[TurnVerdict] = []
        """Every verdict so far (for tests and benchmarks)."""
        self._ended = -1
        """The pause (its last voiced frame) a verdict already ended: later checks of it are moot."""

    def check(self, last_voiced_frame: int, audio: np.ndarray, transcript: TranscriptFuture | None,
              silence_ms: float = 0.0) -> None:
        """Judge the turn that paused after ``last_voiced_frame`` (its ``audio`` up to now,
        ``silence_ms`` of it the pause)."""
        params = self._params()
        if params is None or last_voiced_frame == self._ended:
            return
        text = _text_if_ready(transcript)
        by_words = params.verdict_from_words(text, silence_ms)
        if by_words is not None:
            self._conclude(TurnVerdict(last_voiced_frame, None, text, by_words, 0.0))
            return
        if transcript is not None and not transcript.done():
            loop = asyncio.get_running_loop()
            transcript.add_done_callback(
                lambda f: post(loop, self._words_arrived, last_voiced_frame, audio, f, silence_ms))
            return
        self._ask_model(params, last_voiced_frame, audio, transcript, silence_ms)

    def _ask_model(self, params: SemanticTurnParams, last_voiced_frame: int, audio: np.ndarray,
                   transcript: TranscriptFuture | None, silence_ms: float) -> None:
        loop = asyncio.get_running_loop()
        fut = self._executor.submit(self._judge, params, last_voiced_frame, audio, transcript, silence_ms)
        fut.add_done_callback(lambda f: post(loop, self._decided, f))

    def _words_arrived(self, last_voiced_frame: int, audio: np.ndarray, transcript: TranscriptFuture,
                       silence_ms: float) -> None:
        """Event loop: the pause's transcript came in after a checkpoint. Words that settle it
        decide now (a finished question ends the turn; the endpointer ignores it if the user
        has spoken since); otherwise the model is asked now. The model waits for the words
        rather than running beside them: they settle most questions, and a model run the
        words make useless takes a core from the speculative reply (on 2 cores it held the
        LLM's first token back ~100 ms)."""
        params = self._params()
        if params is None or last_voiced_frame == self._ended:
            return
        text = _text_if_ready(transcript)
        by_words = params.verdict_from_words(text, silence_ms)
        if by_words is not None:
            self._conclude(TurnVerdict(last_voiced_frame, None, text, by_words, 0.0))
        else:
            self._ask_model(params, last_voiced_frame, audio, transcript, silence_ms)

    def _judge(self, params: SemanticTurnParams, last_voiced_frame: int, audio: np.ndarray,
               transcript: TranscriptFuture | None, silence_ms: float) -> TurnVerdict | None:
        """Turn thread: after the speculative reply's first audio (or :data:`MODEL_WAIT_MAX_S`);
        None when an earlier check has ended the turn meanwhile (no model run beside its reply)."""
        deadline = time.monotonic() + MODEL_WAIT_MAX_S
        while self._hot_path_busy() and time.monotonic() < deadline:
            time.sleep(_WAIT_POLL_S)
        if last_voiced_frame == self._ended:
            return None
        t0 = time.monotonic()
        text = _text_if_ready(transcript)
        by_words = params.verdict_from_words(text, silence_ms)
        if by_words is not None:
            return TurnVerdict(last_voiced_frame, None, text, by_words, (time.monotonic() - t0) * 1000)
        probability = self._model.probability(audio)
        text = _text_if_ready(transcript)  # it may have come in meanwhile
        return TurnVerdict(last_voiced_frame, probability, text, params.complete(probability, text, silence_ms),
                           (time.monotonic() - t0) * 1000)

    def _decided(self, fut: concurrent.futures.Future[TurnVerdict | None]) -> None:
        """Event loop."""
        if fut.cancelled() or fut.exception() is not None or (verdict := fut.result()) is None:
            return
        self._conclude(verdict)

    def _conclude(self, verdict: TurnVerdict) -> None:
        self.verdicts.append(verdict)
        if verdict.complete:
            self._ended = verdict.last_voiced_frame
            self._on_complete(verdict.last_voiced_frame)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _text_if_ready(transcript: TranscriptFuture | None) -> str | None:
    if transcript is None or not transcript.done() or transcript.cancelled() or transcript.exception() is not None:
        return None
    return transcript.result()[0].text
