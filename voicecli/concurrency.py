"""The three thread↔event-loop idioms, written once (STYLE.md, "Concurrency").

- :func:`post` / :func:`feeder`: a worker or device thread hands a value to the event loop.
  Safe when the loop has already closed (a session ending): the value is dropped and the caller
  learns it through the ``False`` return, so it can stop producing.
- :class:`ThreadIterator` (:func:`iterate_in_thread`): run a blocking generator (faster-whisper
  segments, LLM tokens, Piper audio) on an executor and receive its items on the loop, with its
  exceptions re-raised there; closing the iterator tells the worker to stop.
- :class:`Pacer`: real-time pacing for a thread that produces or consumes a sample stream
  (sleep until sample ``n`` is due at ``rate_hz``), e.g. a file played as a microphone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


def post(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: Any) -> bool:
    """``loop.call_soon_threadsafe(fn, *args)`` from another thread, tolerating a loop that has
    already closed (the session is ending; nothing is waiting for the value any more).
    Returns False when the call could not be scheduled."""
    try:
        loop.call_soon_threadsafe(fn, *args)
        return True
    except RuntimeError:
        return False


def feeder(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[T]) -> Callable[[T], bool]:
    """A function a worker thread calls to put items into ``queue`` (owned by ``loop``);
    it returns False once the loop has closed."""

    def put(item: T) -> bool:
        return post(loop, queue.put_nowait, item)

    return put


@dataclass(frozen=True)
class _Failure:
    error: BaseException


_END = object()


class ThreadIterator(Generic[T]):
    """The items of a blocking generator, produced on ``executor`` and delivered on the loop.

    The work is submitted at construction, so it starts at once (before the first ``await``).
    ``make`` receives a :class:`threading.Event` that is set when the consumer stops listening
    (``aclose``/``cancel``, or the iterator is garbage-collected); once it is set the worker asks
    the generator for no further item (none at all if it was set while the work was still queued)
    and closes it. An exception raised by ``make`` or the
    generator is re-raised by ``__anext__`` on the loop, after the items produced before it.
    If ``executor`` has shut down, the first ``__anext__`` raises :class:`asyncio.CancelledError`.

    Must be created on the event loop's thread (it captures the running loop)."""

    def __init__(self, executor: concurrent.futures.Executor,
                 make: Callable[[threading.Event], Iterable[T]]) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._done = False
        self.stop = threading.Event()
        """Set when the consumer is gone; the worker checks it between items."""
        try:
            executor.submit(self._work, make)
            self._rejected = False
        except RuntimeError:  # executor shut down
            self._rejected = True

    def _work(self, make: Callable[[threading.Event], Iterable[T]]) -> None:
        send = feeder(self._loop, self._queue)
        try:
            gen = make(self.stop)
            try:
                items = iter(gen)
                while not self.stop.is_set():  # checked before each item: a stopped worker starts none
                    item = next(items, _END)
                    if item is _END or not send(item):
                        break
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # noqa: BLE001 - handed to the loop and re-raised there
            send(_Failure(exc))
        finally:
            send(_END)

    def __aiter__(self) -> ThreadIterator[T]:
        return self

    async def __anext__(self) -> T:
        if self._rejected:
            self._done = True
            self._rejected = False
            raise asyncio.CancelledError
        if self._done:
            raise StopAsyncIteration
        try:
            item = await self._queue.get()
        except BaseException:
            self.cancel()  # the consumer was cancelled while waiting: the worker can stop
            raise
        if item is _END:
            self._done = True
            self.stop.set()
            raise StopAsyncIteration
        if isinstance(item, _Failure):
            self._done = True
            self.stop.set()
            raise item.error
        return cast(T, item)  # only T, _Failure and _END are ever queued

    def cancel(self) -> None:
        """Stop listening (callable from any thread): the worker stops before its next item."""
        self._done = True
        self.stop.set()

    async def aclose(self) -> None:
        """Like an async generator's ``aclose``: no more items; the worker stops."""
        self.cancel()

    def __del__(self) -> None:
        self.stop.set()


def iterate_in_thread(executor: concurrent.futures.Executor,
                      make: Callable[[threading.Event], Iterable[T]]) -> ThreadIterator[T]:
    """Run the generator ``make(stop)`` on ``executor`` and iterate its items on the loop
    (see :class:`ThreadIterator`). Call from a coroutine."""
    return ThreadIterator(executor, make)


@dataclass
class Pacer:
    """A real-time schedule for a stream at ``rate_hz`` samples per second: sample ``n`` is due
    ``n / (rate_hz * speed)`` seconds after the pacer was created. Blocking: use it in the thread
    that feeds or drains the stream. Being a schedule (not a fixed sleep per block), it does not
    drift when one block is late."""

    rate_hz: float
    speed: float = 1.0
    """Faster than real time above 1."""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    start: float = field(init=False)
    """Clock time of sample 0."""

    def __post_init__(self) -> None:
        if self.rate_hz <= 0 or self.speed <= 0:
            raise ValueError("rate_hz and speed must be positive")
        self.start = self.clock()

    def due(self, sample: int) -> float:
        """Clock time at which ``sample`` is due."""
        return self.start + sample / (self.rate_hz * self.speed)

    def wait(self, sample: int) -> float:
        """Sleep until ``sample`` is due (no sleep when it is already late); its due time."""
        due = self.due(sample)
        delay = due - self.clock()
        if delay > 0:
            self.sleep(delay)
        return due
