"""Admission and size limits as plain ASGI middleware (so they cover HTTP and WebSocket alike),
and the realtime session slots."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from voicecli.server.http_errors import error_body
from voicecli.server.metrics import Metrics

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

INSECURE_KEY_PROTOCOL = "openai-insecure-api-key."
"""Browsers cannot set headers on a WebSocket; OpenAI's clients offer the key as a subprotocol."""
DENIAL_SETTLE_YIELDS = 3
"""Event-loop turns a refused WebSocket waits after its HTTP answer (see :func:`deny_websocket`)."""


class SessionSlots:
    """Counts realtime sessions against ``max_sessions`` (event-loop thread only)."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self.active = 0

    def try_acquire(self) -> bool:
        if self.active >= self.max_sessions:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        self.active = max(0, self.active - 1)


class BodyTooLarge(Exception):
    pass


async def send_json(send: Send, status: int, body: dict[str, Any],
                    headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": data})


class BodyLimitMiddleware:
    """413 for request bodies over ``max_bytes``: at once from Content-Length, or as soon as a
    chunked body crosses the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body is larger than the limit of {self.max_bytes} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await send_json(send, 400, error_body("invalid Content-Length header"))
                    return
                if length > self.max_bytes:
                    await send_json(send, 413, error_body(message, code="request_too_large"))
                    return
        seen = 0
        started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(message)
            return msg

        async def tracking_send(msg: dict[str, Any]) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await send_json(send, 413, error_body(message, code="request_too_large"))


def _bearer(scope: Scope) -> bytes | None:
    """The key of an ``Authorization: Bearer`` header, as the bytes the client sent."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            value = value.strip()
            if value[:7].lower() == b"bearer ":
                return bytes(value[7:].strip())
            return None
    return None


def _subprotocol_key(scope: Scope) -> bytes | None:
    """The key offered as ``openai-insecure-api-key.<key>``, as the bytes the client sent (servers
    decode the header as latin-1)."""
    for proto in scope.get("subprotocols", []) or []:
        if proto.startswith(INSECURE_KEY_PROTOCOL):
            key: str = proto[len(INSECURE_KEY_PROTOCOL):]
            try:
                return key.encode("latin-1")
            except UnicodeEncodeError:
                return key.encode("utf-8", "surrogateescape")
    return None


class AuthMiddleware:
    """With an API key configured, every HTTP route and the WebSocket need it: ``Authorization:
    Bearer <key>``, or for WebSockets the subprotocol ``openai-insecure-api-key.<key>``."""

    def __init__(self, app: ASGIApp, api_key: str | None, public_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.api_key = api_key
        self._key_forms = _key_forms(api_key)
        self.public_paths = public_paths
        """Paths (a trailing ``/`` makes a prefix) served without a key, e.g. a static browser page
        that holds no secret itself. Empty by default: every route needs the key."""

    def _public(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and p != "/" and path.startswith(p)) for p in self.public_paths)

    def _ok(self, key: bytes | None) -> bool:
        if key is None:
            return False
        match = False
        for form in self._key_forms:  # every form compared: no timing hint which one matched
            match |= hmac.compare_digest(key, form)
        return match

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.api_key is None or scope["type"] not in ("http", "websocket")
                or (scope["type"] == "http" and self._public(scope.get("path", "")))):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            key = _bearer(scope)
            if self._ok(key):
                await self.app(scope, receive, send)
                return
            msg = ("missing API key: send 'Authorization: Bearer <key>'" if key is None
                   else "incorrect API key provided")
            await send_json(send, 401, error_body(msg, code="invalid_api_key"),
                             [(b"www-authenticate", b"Bearer")])
            return
        if self._ok(_bearer(scope)) or self._ok(_subprotocol_key(scope)):
            await self.app(scope, receive, send)
            return
        await deny_websocket(scope, receive, send, 401, error_body(
            "missing or incorrect API key: send 'Authorization: Bearer <key>' or the subprotocol "
            "'openai-insecure-api-key.<key>'", code="invalid_api_key"))


def _key_forms(api_key: str | None) -> tuple[bytes, ...]:
    """The byte strings a client may send for ``api_key``: its UTF-8 (curl in a UTF-8 terminal)
    and, where it has one, its latin-1 encoding (browsers, Python clients)."""
    if api_key is None:
        return ()
    forms = [api_key.encode("utf-8")]
    try:
        forms.append(api_key.encode("latin-1"))
    except UnicodeEncodeError:
        pass
    return tuple(dict.fromkeys(forms))


async def deny_websocket(scope: Scope, receive: Receive, send: Send, status: int, body: dict[str, Any]) -> None:
    """Refuse a WebSocket handshake with an HTTP status and a JSON body where the server
    supports it (the websocket.http.response extension), else with close code 1008."""
    msg = await receive()
    if msg["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}) or {}:
        data = json.dumps(body).encode()
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "websocket.http.response.body", "body": data})
        await settle_after_denial()
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": body["error"]["message"][:120]})


async def settle_after_denial() -> None:
    """Let the server finish a refused handshake before the app returns. uvicorn's websockets
    protocol counts a denial response as a completed handshake only once the connection is lost
    (it closes the transport right after the response; the loss is the next loop turn); an app
    that returns sooner gets "ERROR: ASGI callable returned without completing handshake" logged,
    one line per refused client — a log any unauthenticated client could fill."""
    for _ in range(DENIAL_SETTLE_YIELDS):
        await asyncio.sleep(0)


class MetricsMiddleware:
    """Counts HTTP requests by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def tracking_send(msg: dict[str, Any]) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = scope.get("route")
            self.metrics.request(getattr(route, "path", "unmatched"), scope.get("method", "?"), status)
