"""The ASGI app: OpenAI-compatible REST, the realtime WebSocket, health and metrics, with
cross-site protection (Host and Origin), auth, size limits and OpenAI-style errors everywhere.
Nothing it serves loads anything from another host (no /docs: Swagger UI comes from a CDN)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from voicecli.errors import RemoteEngineError
from voicecli.server.config import ServerConfig
from voicecli.server.http_errors import ApiError, api_error_response, error_response
from voicecli.server.limits import (
    AuthMiddleware,
    BodyLimitMiddleware,
    BodyTooLarge,
    MetricsMiddleware,
)
from voicecli.server.origin import OriginMiddleware, OriginPolicy
from voicecli.server.realtime import realtime_endpoint
from voicecli.server.rest import router
from voicecli.server.state import ServerState

log = logging.getLogger("voicecli.server")


WEB_PAGE_PATHS = ("/", "/static/")
"""The browser page's static files: they hold no secret, and a browser cannot send a Bearer
header when it loads a page; the page then sends the key itself on every API call."""


def _add_webrtc_route(app: FastAPI) -> None:
    """``POST /v1/realtime/calls`` (WebRTC), when aiortc is installed (the ``webrtc`` extra)."""
    try:
        from voicecli.server.realtime.webrtc import create_call
    except ImportError:
        log.info("aiortc is not installed: no WebRTC (POST /v1/realtime/calls); pip install 'voicecli[webrtc]'")
        return
    app.add_api_route("/v1/realtime/calls", create_call, methods=["POST"], include_in_schema=False)


def create_app(engines: Any, config: ServerConfig, public_paths: tuple[str, ...] = WEB_PAGE_PATHS) -> FastAPI:
    """One app per process: the engines are loaded once by the caller and shared by every
    request and realtime session. ``public_paths`` are exempt from the API key (see
    :class:`~voicecli.server.limits.AuthMiddleware`); by default only the web page's files."""
    state = ServerState(engines, config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.shutdown()

    # No /docs or /redoc: FastAPI's pages load Swagger UI and ReDoc from a CDN, and nothing served
    # here may reach beyond this machine. The schema itself is at /openapi.json.
    app = FastAPI(title="voicecli", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="OpenAI-compatible local speech and chat API (faster-whisper, llama.cpp, Piper).")
    app.state.voicecli = state
    app.include_router(router)
    app.add_api_websocket_route("/v1/realtime", realtime_endpoint)
    _add_webrtc_route(app)
    from voicecli.server.web import mount_web

    mount_web(app)  # the browser voice page at /

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": state.model_names(), "active_sessions": state.slots.active,
                "max_sessions": state.slots.max_sessions}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return api_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "form")]
        param = ".".join(loc) or None
        msg = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
        return error_response(400, msg, param, "invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BodyTooLarge):
            return error_response(413, str(exc.__cause__), None, "request_too_large")
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            detail = f"no route {request.method} {request.url.path[:200]}"
        return error_response(exc.status_code, detail, None, None, headers=getattr(exc, "headers", None))

    @app.exception_handler(RemoteEngineError)
    async def on_remote_error(request: Request, exc: RemoteEngineError) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc.message)
        return error_response(502, exc.message, None, "upstream_error")

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, f"internal error: {type(exc).__name__}", None, "server_error")

    app.add_middleware(BodyLimitMiddleware, max_bytes=config.limits.max_upload_bytes)
    app.add_middleware(AuthMiddleware, api_key=config.api_key, public_paths=public_paths)
    app.add_middleware(OriginMiddleware, policy=OriginPolicy.for_server(config.host, config.allow_hosts,
                                                                        config.allow_origins))
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app
