"""The OpenAI Realtime API over WebSocket (``GET /v1/realtime``)."""

from voicecli.server.realtime.session import RealtimeSession, realtime_endpoint

__all__ = ["RealtimeSession", "realtime_endpoint"]
