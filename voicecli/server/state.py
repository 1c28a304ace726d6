"""What every route and session shares: the engines (loaded once), the inference executors,
the voice catalogue, metrics and session slots."""

from __future__ import annotations

import concurrent.futures
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voicecli.pipeline.language import LanguageVoices
from voicecli.server.config import ServerConfig
from voicecli.server.decoding import make_decode_pool
from voicecli.server.limits import SessionSlots
from voicecli.server.metrics import Metrics
from voicecli.tts.voices import VoiceCatalog

OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer",
                 "verse", "marin", "cedar")
STT_ALIASES = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
TTS_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
REALTIME_ALIASES = ("gpt-realtime", "gpt-4o-realtime-preview", "gpt-4o-mini-realtime-preview")


URGENT = 0
"""Priority of work someone is waiting on now (the first audio of a reply)."""
NORMAL = 1


class PriorityExecutor(concurrent.futures.Executor):
    """A thread pool that runs the most urgent queued job first (FIFO among equals). Used for
    TTS: the first sentence of a reply goes ahead of other sessions' later sentences, so one
    session's long reply does not delay everyone's first audio."""

    def __init__(self, workers: int, name: str) -> None:
        self._heap: list[tuple[int, int, concurrent.futures.Future[Any], Callable[[], Any]]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        return self.submit_with_priority(NORMAL, fn, *args, **kwargs)

    def submit_with_priority(self, priority: int, fn: Callable[..., Any], /, *args: Any,
                             **kwargs: Any) -> concurrent.futures.Future[Any]:
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("executor shut down")
            heapq.heappush(self._heap, (priority, next(self._seq), fut, lambda: fn(*args, **kwargs)))
            self._cond.notify()
        return fut

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._heap and not self._closed:
                    self._cond.wait()
                if not self._heap:
                    return
                _, _, fut, call = heapq.heappop(self._heap)
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(call())
            except BaseException as exc:  # noqa: BLE001 - delivered to whoever waits on the future
                fut.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._cond:
            self._closed = True
            if cancel_futures:
                for _, _, fut, _ in self._heap:
                    fut.cancel()
                self._heap.clear()
            self._cond.notify_all()
        if wait:
            for t in self._threads:
                t.join()


class CountingPool(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that knows when it has nothing running or queued (:meth:`idle`): live
    partial transcripts use the shared STT worker only then, so they never delay a final one."""

    def __init__(self, workers: int, name: str) -> None:
        super().__init__(workers, thread_name_prefix=name)
        self._in_flight = 0
        self._count_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        with self._count_lock:
            self._in_flight += 1
        try:
            fut = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        fut.add_done_callback(self._finished)
        return fut

    def _finished(self, _: concurrent.futures.Future[Any] | None) -> None:
        with self._count_lock:
            self._in_flight -= 1

    def idle(self) -> bool:
        return self._in_flight == 0


class SessionExecutor(concurrent.futures.Executor):
    """One session's view of a shared executor: ``shutdown`` cancels only this session's
    queued work and leaves the shared threads running. ``priority`` (for a PriorityExecutor)
    is asked at each submission."""

    def __init__(self, shared: concurrent.futures.Executor, priority: Callable[[], int] | None = None) -> None:
        self._shared = shared
        self._priority = priority
        self._futures: set[concurrent.futures.Future[Any]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        with self._lock:
            if self._closed:
                raise RuntimeError("session closed")
            if self._priority is not None and isinstance(self._shared, PriorityExecutor):
                fut = self._shared.submit_with_priority(self._priority(), fn, *args, **kwargs)
            else:
                fut = self._shared.submit(fn, *args, **kwargs)
            self._futures.add(fut)
        fut.add_done_callback(self._discard)
        return fut

    def _discard(self, fut: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._futures.discard(fut)

    def idle(self) -> bool:
        """Nothing of this session's in flight, nor (a :class:`CountingPool`) anyone else's."""
        return not self._futures and (not isinstance(self._shared, CountingPool) or self._shared.idle())

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            pending = list(self._futures)
        if cancel_futures:
            for fut in pending:
                fut.cancel()


@dataclass
class ServerState:
    engines: Any
    config: ServerConfig
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self.started_at = time.time()
        self.slots = SessionSlots(self.config.limits.max_sessions)
        self.voices: VoiceCatalog[Any] = VoiceCatalog.from_settings(self.engines.settings, self.engines.speaker,
                                                                    aliases=OPENAI_VOICES)
        self.language_voices = LanguageVoices(self.voices, self.engines.speaker,
                                              self.engines.settings.tts.language_voices)
        """The voice of each spoken language, from the same catalogue (each voice loaded once)."""
        self.stt_pool = CountingPool(self.config.stt_workers, "srv-stt")
        """Realtime STT (short utterances, latency-sensitive)."""
        self.batch_stt_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="srv-stt-batch")
        """Uploaded files, which can be long: kept apart so they never queue ahead of a live turn."""
        self.decode_pool = make_decode_pool()
        """Decoding uploads (bounded in audio and time by the limits), apart from the STT queue."""
        self.tts_pool = PriorityExecutor(self.config.tts_workers, "srv-tts")
        self.llm_pool = concurrent.futures.ThreadPoolExecutor(self.config.limits.max_sessions + 4,
                                                             thread_name_prefix="srv-llm")
        """LlamaChat serialises generation itself; remote LLMs run in parallel."""

    def model_names(self) -> dict[str, str]:
        e = self.engines
        return {"stt": e.transcriber.name, "llm": e.chat.name, "tts": e.speaker.name}

    def shutdown(self) -> None:
        for pool in (self.stt_pool, self.batch_stt_pool, self.decode_pool, self.tts_pool, self.llm_pool):
            pool.shutdown(wait=False, cancel_futures=True)
