"""``GET /v1/realtime``: the WebSocket handshake (session slots, subprotocol, dialect, model) and
one :class:`~.session.RealtimeSession` until the client leaves. The API key is checked before
this runs, by :class:`~voicecli.server.limits.AuthMiddleware`."""

from __future__ import annotations

import json

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from voicecli.server.limits import INSECURE_KEY_PROTOCOL
from voicecli.server.realtime.protocol import BETA, GA, new_id
from voicecli.server.realtime.session import RealtimeSession
from voicecli.server.state import ServerState

MAX_MODEL_CHARS = 200


async def realtime_endpoint(websocket: WebSocket) -> None:
    """Accept (or refuse) the WebSocket, then run one session until the client leaves."""
    state: ServerState = websocket.app.state.voicecli
    if not state.slots.try_acquire():
        state.metrics.session_rejected()
        await _refuse_busy(websocket, state.slots.max_sessions)
        return
    state.metrics.session_opened()
    try:
        await websocket.accept(subprotocol=_subprotocol(websocket.scope.get("subprotocols") or []))
        beta = "realtime=v1" in websocket.headers.get("openai-beta", "").replace(" ", "")
        model = websocket.query_params.get("model") or state.config.model_id
        session = RealtimeSession(websocket, state, BETA if beta else GA, model[:MAX_MODEL_CHARS])
        await session.run()
    finally:
        state.slots.release()
        state.metrics.session_closed()


def _subprotocol(offered: list[str]) -> str | None:
    """Browsers offer ``realtime`` (selected) and the key as ``openai-insecure-api-key.<key>``."""
    if "realtime" in offered:
        return "realtime"
    return next((p for p in offered if p.startswith(INSECURE_KEY_PROTOCOL)), None)


async def _refuse_busy(websocket: WebSocket, max_sessions: int) -> None:
    """HTTP 503 before the handshake where the server can send one, else an error event and close."""
    body = {"error": {"message": f"too many realtime sessions (limit {max_sessions}); try again later",
                      "type": "server_error", "param": None, "code": "session_limit_reached"}}
    if "websocket.http.response" in (websocket.scope.get("extensions") or {}):
        await websocket.send_denial_response(JSONResponse(body, status_code=503))
    else:
        await websocket.accept()
        await websocket.send_text(json.dumps({"type": "error", "event_id": new_id("event"), **body}))
        await websocket.close(1013, "too many sessions")
