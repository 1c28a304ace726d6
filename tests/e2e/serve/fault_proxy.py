"""A loopback HTTP proxy in front of a real ``voicecli serve`` (the remote engine tier) that can
fail the ways a remote tier fails: an HTTP 500, a body that is not the API's, an answer slower
than the client waits, or no server at all (:meth:`FaultProxy.stop`, then :meth:`start` again on
the same port). Everything else is passed through unchanged to the real server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.e2e.serve.conftest import free_port

STT = "/v1/audio/transcriptions"
TTS = "/v1/audio/speech"


class FaultProxy:
    def __init__(self, upstream: str, slow_s: float = 8.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = free_port()
        self.slow_s = slow_s
        self.script: dict[str, deque[str]] = {STT: deque(), TTS: deque()}
        """Per path, the modes of its next POSTs ("500", "garbage", "slow", "pass"); empty: pass."""
        self.seen: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, bytes]] = []
        """Every request's path and body, in order (what the client asked the remote tier)."""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, path: str, *modes: str) -> None:
        self.script[path].extend(modes)

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        queue = self.script.get(path)
        mode = queue.popleft() if queue and request.method == "POST" else "pass"
        self.seen.append((path, mode))
        if mode == "500":
            return JSONResponse({"error": {"message": "engine exploded", "type": "server_error"}}, status_code=500)
        if mode == "garbage":
            return Response(b"<html><body>502 Bad Gateway</body></html>", media_type="text/html")
        body = await request.body()
        self.bodies.append((path, body))
        if mode == "slow":
            await asyncio.to_thread(self._closing.wait, self.slow_s)  # cut short when the proxy stops
            return JSONResponse({"error": {"message": "too late"}}, status_code=503)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")}
        async with httpx.AsyncClient(timeout=120) as client:
            r = await client.request(request.method, self.upstream + path, content=body,
                                     headers=headers)
        return Response(r.content, r.status_code, media_type=r.headers.get("content-type"))

    def start(self) -> FaultProxy:
        self._closing.clear()
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="off", timeout_graceful_shutdown=1))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the fault proxy did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Down: nothing listens on the port until :meth:`start`."""
        self._closing.set()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
