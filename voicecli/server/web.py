"""The browser voice page: plain static files (native ES modules, no build step, nothing from a
CDN) served at ``/`` and ``/static/``, plus ``/web/config.json`` (the voices the page can offer and
the server's own turn-detection defaults, which the page's sliders start from)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
STATIC_ROUTE_NAME = "voicecli-web-static"
SCRIPT_TYPE = "text/javascript; charset=utf-8"
"""Browsers refuse an ES module (or an AudioWorklet module) served as anything but JavaScript."""


class PageFiles(StaticFiles):
    """The page's static files. Scripts get a JavaScript type whatever the OS's MIME tables say
    (``mimetypes`` reads them: a Windows registry or an old /etc/mime.types can map ``.js`` to
    ``text/plain``) and are revalidated on every load, so after an upgrade the browser never mixes
    cached modules with new ones (unchanged files cost a 304)."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if os.fspath(full_path).endswith((".js", ".mjs")):
            response.headers["content-type"] = SCRIPT_TYPE
            response.headers["cache-control"] = "no-cache"
        return response


def _csp(request: Request) -> str:
    """Everything from this origin only: the page works offline and can't be made to load
    scripts from elsewhere. WebSockets are named explicitly for browsers whose 'self' misses ws:."""
    host = request.headers.get("host", "").replace(";", "").replace(",", "").strip()
    ws = f" ws://{host} wss://{host}" if host else ""
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"media-src 'self' blob:; connect-src 'self'{ws}; worker-src 'self'; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'; form-action 'none'")


def mount_web(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files under ``/static/``. Calling it twice is harmless."""
    if any(getattr(r, "name", None) == STATIC_ROUTE_NAME for r in app.routes):
        return

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index(request: Request) -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache", "Content-Security-Policy": _csp(request),
                                     "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})

    @app.get("/web/config.json", include_in_schema=False)
    async def web_config(request: Request) -> JSONResponse:
        return JSONResponse(_page_config(request.app), headers={"Cache-Control": "no-store"})

    app.mount("/static", PageFiles(directory=STATIC_DIR), name=STATIC_ROUTE_NAME)


def _page_config(app: FastAPI) -> dict[str, Any]:
    """The installed Piper voices (the default first) and the server's VAD defaults (the same
    ``vad`` settings ``talk`` uses) for the settings panel."""
    state = getattr(app.state, "voicecli", None)
    voices = getattr(state, "voices", None)
    installed = list(getattr(voices, "installed", []) or [])
    config: dict[str, Any] = {"voices": installed, "default_voice": installed[0] if installed else None}
    vad = getattr(getattr(getattr(state, "engines", None), "settings", None), "vad", None)
    if vad is not None:
        config["vad"] = {"threshold": vad.threshold, "end_silence_ms": vad.end_silence_ms}
    return config
