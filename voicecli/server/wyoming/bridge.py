"""Thread → event loop bridge: a blocking iterable consumed in an executor thread (lazy
generators such as faster-whisper segments or Piper sentences do their work there), its items
handed to the loop as they come. Safe when the loop has closed; cancellable between items.
(Kept apart so that it can be replaced by one bridge shared by every server.)"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class WorkerFailed(Exception):
    """The blocking iterable raised ``error`` in its thread."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class _Done:
    pass


_DONE = _Done()


def _emitter(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[T]) -> Callable[[T], None]:
    def emit(item: T) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, item)
    return emit


def _pump(produce: Callable[[], Iterable[T]], cancelled: threading.Event,
          emit: Callable[[T | _Failed | _Done], None]) -> None:
    """Worker thread: pull items until the iterable ends, fails or is cancelled; always ends with _DONE."""
    iterator = None
    try:
        iterator = iter(produce())
        while not cancelled.is_set():
            try:
                item = next(iterator)
            except StopIteration:
                break
            emit(item)
    except Exception as exc:  # noqa: BLE001 - raised again on the loop side as WorkerFailed
        emit(_Failed(exc))
    finally:
        close = getattr(iterator, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()
        emit(_DONE)


class ThreadFeed(Generic[T]):
    """The items of ``produce()`` as an async iterator on the current loop. ``produce`` is called
    and iterated in ``executor``'s thread, starting now (not when the feed is first read); an
    exception there ends the async iteration with :class:`WorkerFailed`."""

    def __init__(self, executor: Executor, produce: Callable[[], Iterable[T]]) -> None:
        loop = asyncio.get_running_loop()
        self._items: asyncio.Queue[T | _Failed | _Done] = asyncio.Queue()
        self._cancelled = threading.Event()
        self._finished = False
        loop.run_in_executor(executor, _pump, produce, self._cancelled, _emitter(loop, self._items))

    def cancel(self) -> None:
        """Stop the worker before its next item (or before it starts, if it is still queued)."""
        self._cancelled.set()

    def __aiter__(self) -> ThreadFeed[T]:
        return self

    async def __anext__(self) -> T:
        if self._finished:
            raise StopAsyncIteration
        item = await self._items.get()
        if isinstance(item, _Done):
            self._finished = True
            raise StopAsyncIteration
        if isinstance(item, _Failed):
            self._finished = True
            raise WorkerFailed(item.error) from item.error
        return item
