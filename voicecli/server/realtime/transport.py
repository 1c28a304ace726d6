"""The seam between one realtime session and how its client is connected: events in and out
(a WebSocket's text frames, or a WebRTC ``oai-events`` data channel) and, where the server
plays the reply itself (WebRTC's media track), the audio out. Over a WebSocket the reply's
audio goes out as ``response.output_audio.delta`` events and the client owns playback."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect


class AudioOut(Protocol):
    """A player on the server (WebRTC): the reply's audio plays as it is generated."""

    def play(self, response_id: str, item_id: str, samples: np.ndarray, rate_hz: int) -> None:
        """Queue one spoken piece of ``item_id`` (float samples at ``rate_hz``)."""

    def done(self, response_id: str) -> None:
        """``response_id`` will send no more audio."""

    def clear(self) -> tuple[str, int] | None:
        """Stop at once and drop what is queued: the item cut off and the milliseconds of it
        played, or None if nothing was playing."""


class Transport(Protocol):
    peer: str
    audio_out: AudioOut | None
    """None: the reply's audio goes out as events and the client plays it."""

    async def send_text(self, data: str) -> None:
        """Send one serialised event (raises once the client is gone)."""

    async def receive(self) -> str | bytes | None:
        """The next client event, or None once the client is gone."""

    async def close(self, code: int, reason: str) -> None:
        """End the connection (a WebSocket close code; WebRTC just hangs up)."""


class WebSocketTransport:
    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.peer = f"{ws.client.host}:{ws.client.port}" if ws.client else "?"
        self.audio_out: AudioOut | None = None

    async def send_text(self, data: str) -> None:
        await self.ws.send_text(data)

    async def receive(self) -> str | bytes | None:
        while True:
            try:
                msg = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return None
            if msg["type"] == "websocket.disconnect":
                return None
            raw: str | bytes | None = msg.get("text")
            if raw is None:
                raw = msg.get("bytes")
            if raw is not None:
                return raw

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)
