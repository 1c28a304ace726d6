"""Server events on their way to one client: named for the session's dialect, serialised, queued
with a bound on unsent bytes, and written by one loop. A client that stops reading cannot grow
the server's memory: past the bound the session is told to close."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Protocol

from voicecli.server.metrics import Metrics
from voicecli.server.realtime.protocol import Dialect, event_name, new_id


class TextSocket(Protocol):
    async def send_text(self, data: str) -> None: ...


class Outbox:
    """Serialised events waiting to be written; past ``max_bytes`` unsent it overflows for good."""

    def __init__(self, ws: TextSocket, max_bytes: int) -> None:
        self.ws = ws
        self.max_bytes = max_bytes
        self.queued_bytes = 0
        self.overflowed = False
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(self, data: str) -> bool:
        if self.overflowed:
            return False
        self.queued_bytes += len(data)
        if self.queued_bytes > self.max_bytes:
            self.overflowed = True
            while not self._queue.empty():  # never to be sent: free them now
                self._queue.get_nowait()
            self._queue.put_nowait(None)
            return False
        self._queue.put_nowait(data)
        return True

    def finish(self) -> None:
        """No more events: :meth:`run` returns once those already queued are written."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        """Write queued events until :meth:`finish` or an overflow (returns) or until the socket
        fails (raises)."""
        while True:
            data = await self._queue.get()
            if data is None:
                return
            await self.ws.send_text(data)
            self.queued_bytes -= len(data)


class EventSender:
    """Sends server events by their GA name; renames them for a beta client. Once ``closed``,
    only ``error`` events still go out."""

    def __init__(self, outbox: Outbox, dialect: Dialect, metrics: Metrics,
                 on_overflow: Callable[[], None]) -> None:
        self.outbox = outbox
        self.dialect: Dialect = dialect
        self.closed = False
        self._metrics = metrics
        self._on_overflow = on_overflow

    def send(self, ga_type: str, **fields: Any) -> None:
        if self.closed and ga_type != "error":
            return
        event = {"type": event_name(ga_type, self.dialect), "event_id": new_id("event"), **fields}
        if not self.outbox.put(json.dumps(event, ensure_ascii=False)):
            self._on_overflow()

    def error(self, message: str, param: str | None = None, code: str | None = None,
              event_id: str | None = None, type_: str = "invalid_request_error") -> None:
        self._metrics.ws_error(code or "error")
        self.send("error", error={"type": type_, "code": code, "message": message, "param": param,
                                  "event_id": event_id})
