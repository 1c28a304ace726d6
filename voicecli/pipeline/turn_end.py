"""Semantic end of turn in a running conversation: at each pause checkpoint the endpointer
reports, the turn's audio so far goes to the turn model on a thread of its own (never the
audio path); the verdict comes back to the event loop, which ends the turn there if the user
is still in that same pause. The speculative transcript of the pause is asked first and may
settle it without the model (:meth:`SemanticTurnParams.verdict_from_words`): at once on the
loop when it is ready at the checkpoint, or the moment it arrives later in the pause (a
finished question then ends the turn without waiting for the next checkpoint). Nothing waits
for it, and a verdict the words settle never queues behind a model run."""

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
                 on_complete: Callable[[int], None]) -> None:
        self._model = model
        self._params = params
        self._on_complete = on_complete
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="turn")
        self.verdicts: list[TurnVerdict] = []
        """Every verdict so far (for tests and benchmarks)."""

    def check(self, last_voiced_frame: int, audio: np.ndarray, transcript: TranscriptFuture | None) -> None:
        """Judge the turn that paused after ``last_voiced_frame`` (its ``audio`` up to now)."""
        params = self._params()
        if params is None:
            return
        text = _text_if_ready(transcript)
        by_words = params.verdict_from_words(text)
        if by_words is not None:
            self._conclude(TurnVerdict(last_voiced_frame, None, text, by_words, 0.0))
            return
        loop = asyncio.get_running_loop()
        if transcript is not None and not transcript.done():
            transcript.add_done_callback(lambda f: post(loop, self._words_arrived, last_voiced_frame, f))
        fut = self._executor.submit(self._judge, params, last_voiced_frame, audio, transcript)
        fut.add_done_callback(lambda f: post(loop, self._decided, f))

    def _words_arrived(self, last_voiced_frame: int, transcript: TranscriptFuture) -> None:
        """Event loop: the pause's transcript came in after a checkpoint; a finished question
        ends the turn now (the endpointer ignores it if the user has spoken since)."""
        params = self._params()
        text = _text_if_ready(transcript)
        if params is not None and params.verdict_from_words(text):
            self._conclude(TurnVerdict(last_voiced_frame, None, text, True, 0.0))

    def _judge(self, params: SemanticTurnParams, last_voiced_frame: int, audio: np.ndarray,
               transcript: TranscriptFuture | None) -> TurnVerdict:
        """Turn thread."""
        t0 = time.monotonic()
        text = _text_if_ready(transcript)
        by_words = params.verdict_from_words(text)
        if by_words is not None:
            return TurnVerdict(last_voiced_frame, None, text, by_words, (time.monotonic() - t0) * 1000)
        probability = self._model.probability(audio)
        text = _text_if_ready(transcript)  # it may have come in meanwhile
        return TurnVerdict(last_voiced_frame, probability, text, params.complete(probability, text),
                           (time.monotonic() - t0) * 1000)

    def _decided(self, fut: concurrent.futures.Future[TurnVerdict]) -> None:
        """Event loop."""
        if fut.cancelled() or fut.exception() is not None:
            return
        self._conclude(fut.result())

    def _conclude(self, verdict: TurnVerdict) -> None:
        self.verdicts.append(verdict)
        if verdict.complete:
            self._on_complete(verdict.last_voiced_frame)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _text_if_ready(transcript: TranscriptFuture | None) -> str | None:
    if transcript is None or not transcript.done() or transcript.cancelled() or transcript.exception() is not None:
        return None
    return transcript.result()[0].text
