"""The browser voice page: plain static files (no build step, nothing from a CDN) served at
``/`` and ``/static/``, plus ``/web/config.json`` (the voices the page can offer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_ROUTE_NAME = "voicecli-web-static"


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

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name=STATIC_ROUTE_NAME)


def _page_config(app: FastAPI) -> dict[str, Any]:
    """The installed Piper voices (the default first) for the settings panel."""
    state = getattr(app.state, "voicecli", None)
    voices = getattr(state, "voices", None)
    installed = list(getattr(voices, "installed", []) or [])
    return {"voices": installed, "default_voice": installed[0] if installed else None}
