"""What every REST route shares: the app state accessor, the documented error responses and
server-sent-event framing."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from voicecli.server.state import ServerState

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request (OpenAI error body)"},
    401: {"description": "Missing or wrong API key"},
    413: {"description": "Request body too large"},
}
"""The error responses every route documents in the OpenAPI schema."""

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def server_state(request: Request) -> ServerState:
    """The engines, executors and limits shared by every request (set by ``create_app``)."""
    state: ServerState = request.app.state.voicecli
    return state


def sse(obj: Any) -> bytes:
    """One server-sent event carrying ``obj`` as JSON."""
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()
