"""``GET /v1/realtime``: the WebSocket handshake (session slots, subprotocol, dialect, model,
``intent=transcription``, voicecli's own options) and one :class:`~.session.RealtimeSession` until
the client leaves. The API key is checked before this runs, by :class:`~voicecli.server.limits.AuthMiddleware`."""

from __future__ import annotations

import json
import logging

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from voicecli.server.limits import settle_after_denial
from voicecli.server.realtime.parsing import MAX_MODEL_CHARS
from voicecli.server.realtime.protocol import BETA, GA, SessionKind, new_id
from voicecli.server.realtime.session import RealtimeSession
from voicecli.server.realtime.transport import WebSocketTransport
from voicecli.server.state import ServerState

SUBPROTOCOL = "realtime"
LATENCY_QUERY = "voicecli_latency"
"""``?voicecli_latency=1`` asks for the per-turn ``voicecli.turn.latency`` event (as the session
field ``voicecli.latency_events`` does)."""
TRUE_VALUES = ("1", "true", "yes", "on")


async def realtime_endpoint(websocket: WebSocket) -> None:
    """Accept (or refuse) the WebSocket, then run one session until the client leaves."""
    quiet_invalid_utf8_tracebacks()
    state: ServerState = websocket.app.state.voicecli
    if not state.slots.try_acquire():
        state.metrics.session_rejected()
        await _refuse_busy(websocket, state.slots.max_sessions)
        return
    state.metrics.session_opened()
    try:
        await websocket.accept(subprotocol=select_subprotocol(websocket.scope.get("subprotocols") or []))
        beta = "realtime=v1" in websocket.headers.get("openai-beta", "").replace(" ", "")
        model = websocket.query_params.get("model") or state.config.model_id
        latency = websocket.query_params.get(LATENCY_QUERY, "").lower() in TRUE_VALUES
        kind: SessionKind = "transcription" if websocket.query_params.get("intent") == "transcription" else "realtime"
        session = RealtimeSession(WebSocketTransport(websocket), state, BETA if beta else GA,
                                  model[:MAX_MODEL_CHARS], latency, kind)
        await session.run()
    finally:
        state.slots.release()
        state.metrics.session_closed()


def select_subprotocol(offered: list[str]) -> str | None:
    """``realtime`` if offered, else none. Browsers also offer the API key as
    ``openai-insecure-api-key.<key>``: never selected, which would echo the key back."""
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


async def _refuse_busy(websocket: WebSocket, max_sessions: int) -> None:
    """HTTP 503 before the handshake where the server can send one, else an error event and close."""
    body = {"error": {"message": f"too many realtime sessions (limit {max_sessions}); try again later",
                      "type": "server_error", "param": None, "code": "session_limit_reached"}}
    if "websocket.http.response" in (websocket.scope.get("extensions") or {}):
        await websocket.send_denial_response(JSONResponse(body, status_code=503))
        await settle_after_denial()
    else:
        await websocket.accept()
        await websocket.send_text(json.dumps({"type": "error", "event_id": new_id("event"), **body}))
        await websocket.close(1013, "too many sessions")


class _InvalidUtf8Filter(logging.Filter):
    """uvicorn logs a client's invalid UTF-8 text frame as an ERROR with a traceback (then closes
    the socket with 1007): one warning line instead, so a client cannot fill the log with them."""

    MESSAGE = "Invalid UTF-8 sequence received from client."

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == self.MESSAGE and record.exc_info:
            record.msg = "WebSocket client sent an invalid UTF-8 text frame; closed with 1007"
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_UTF8_FILTER = _InvalidUtf8Filter()


def quiet_invalid_utf8_tracebacks() -> None:
    """Install the filter on uvicorn's error logger (once; the first realtime connection does)."""
    logger = logging.getLogger("uvicorn.error")
    if _UTF8_FILTER not in logger.filters:
        logger.addFilter(_UTF8_FILTER)
