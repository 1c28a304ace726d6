"""Wyoming wire rules this server enforces (spec: shared/PROTOCOLS.md §3.1–3.2): the ``code`` of
every ``error`` it sends, :class:`ProtocolError` (also for a model failing in its thread:
:func:`worker_item`), reading one event with size limits (an unreadable header is an error to
answer, not an end of stream), and the PCM format check."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Protocol, TypeVar

from wyoming.event import Event

PCM_WIDTH_BYTES = 2
"""Width of the 16-bit PCM this server sends (and converts received audio to)."""
MAX_BAD_EVENTS_IN_A_ROW = 20
"""Unreadable event headers tolerated in a row before the connection is closed."""
MAX_DATA_BYTES = 1 << 20
"""Largest ``data_length`` accepted (the JSON data block)."""
MAX_PAYLOAD_BYTES = 16 << 20
"""Largest ``payload_length`` accepted (the binary payload: PCM)."""

_HTTP_REQUEST_LINE = re.compile(rb"^[A-Z]{3,10} \S* HTTP/\d")
"""An HTTP request line: a browser can be made to send one to any port (cross-protocol requests)."""

T = TypeVar("T")


class ErrorCode:
    """``code`` values of the ``error`` events this server sends."""

    INVALID_JSON = "invalid-json"
    INVALID_EVENT = "invalid-event"
    UNKNOWN_EVENT = "unknown-event"
    UNEXPECTED_EVENT = "unexpected-event"
    EMPTY_TEXT = "empty-text"
    UNKNOWN_MODEL = "unknown-model"
    UNKNOWN_VOICE = "unknown-voice"
    NOT_SERVED = "not-served"
    AUDIO_TOO_LONG = "audio-too-long"
    MODEL_LOAD_FAILED = "model-load-failed"
    STT_FAILED = "stt-failed"
    TTS_FAILED = "tts-failed"
    INTERNAL = "internal-error"


class ProtocolError(Exception):
    """A request this server refuses; sent to the client as ``error``. ``closes``: the connection
    cannot go on (the byte stream is out of sync, or the utterance is over)."""

    def __init__(self, code: str, text: str, closes: bool = False) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.closes = closes


class EventSink(Protocol):
    """What the per-connection flows need from their connection."""

    async def write_event(self, event: Event) -> None:
        """Send one event (serialised with every other writer on the connection)."""
        ...

    async def send_error(self, exc: ProtocolError) -> None:
        """Send ``exc`` as an ``error`` event."""
        ...

    def close_connection(self) -> None:
        """Hang up (the client went away)."""
        ...


def _length(header: dict[str, object], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ProtocolError(ErrorCode.INVALID_EVENT, f"bad {key} {value!r} (0…{limit})", closes=True)
    return value


async def read_event(reader: asyncio.StreamReader) -> Event | None:
    """One event, or None at the end of the stream. Like ``wyoming.event.async_read_event``, but
    an unreadable header raises :class:`ProtocolError` (to answer) instead of looking like EOF."""
    try:
        line = await reader.readline()
    except ValueError as exc:  # longer than the stream's limit
        raise ProtocolError(ErrorCode.INVALID_JSON, f"event header line too long ({exc})") from exc
    if not line:
        return None
    if _HTTP_REQUEST_LINE.match(line):  # a web page's fetch() to this port: never read its body as events
        raise ProtocolError(ErrorCode.INVALID_EVENT, "this port speaks Wyoming, not HTTP", closes=True)
    try:
        header = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"event header is not JSON: {line[:60]!r}") from exc
    if not isinstance(header, dict) or not isinstance(header.get("type"), str) or not header["type"]:
        raise ProtocolError(ErrorCode.INVALID_EVENT, "event header must be a JSON object with a string 'type'")
    data_length = _length(header, "data_length", MAX_DATA_BYTES)
    payload_length = _length(header, "payload_length", MAX_PAYLOAD_BYTES)
    try:
        data_bytes = await reader.readexactly(data_length) if data_length else b""
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None
    data = header.get("data") or {}
    if data_bytes:
        try:
            extra = json.loads(data_bytes)
        except ValueError as exc:
            raise ProtocolError(ErrorCode.INVALID_JSON, f"'{header['type']}' data block is not JSON") from exc
        data = {**data, **extra} if isinstance(data, dict) and isinstance(extra, dict) else None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.INVALID_EVENT, f"'{header['type']}' data must be a JSON object")
    return Event(type=header["type"], data=data, payload=payload)


def check_format(rate: object, width: object, channels: object) -> None:
    """Raise :class:`ProtocolError` unless this is PCM the server can convert."""
    ok = (isinstance(rate, int) and 1000 <= rate <= 384_000 and width in (1, 2, 3, 4)
          and isinstance(channels, int) and 1 <= channels <= 16)
    if not ok:
        raise ProtocolError(ErrorCode.INVALID_EVENT, f"unsupported audio format rate={rate!r} width={width!r} "
                            f"channels={channels!r} (PCM, width 1-4 bytes)")


async def worker_item(items: AsyncIterator[T], code: str, what: str, *, closes: bool = False) -> T | None:
    """The next item a model's thread produced (:func:`voicecli.concurrency.iterate_in_thread`), None
    at the end. The model's failure is raised as ``ProtocolError(code, "{what}: {error}")``; what
    the consumer itself raises (a write to a client gone) stays apart, outside this call."""
    try:
        return await items.__anext__()
    except StopAsyncIteration:
        return None
    except Exception as exc:
        raise ProtocolError(code, f"{what}: {exc}", closes=closes) from exc
