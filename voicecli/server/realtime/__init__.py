"""The OpenAI Realtime API over WebSocket (``GET /v1/realtime``), GA and beta dialects, and over
WebRTC (``POST /v1/realtime/calls``), on top of the talk pipeline's Conversation. One owner per
concern:

- ``endpoint``: the WebSocket route and handshake;
- ``webrtc``: the WebRTC route (SDP offer → answer), the data-channel transport, the call's life;
- ``webrtc_media``: a call's audio: the server's reply player on the outgoing track, the mic in;
- ``transport``: the seam between a session and its connection (events in/out, audio out);
- ``session``: one session's lifetime, reading (rate-limited) and client-event dispatch, the close;
- ``rate_limit``: the per-connection token buckets on client events and bytes (pure);
- ``client_events``: one handler per client event type;
- ``pipeline_events``: pipeline events → server events;
- ``context_budget``: the prompt text cut to the LLM's budget before it is tokenised (pure);
- ``protocol`` / ``parsing``: the wire vocabulary and validation of client payloads (pure);
- ``outbox``: naming, serialising and the bounded send queue;
- ``input_buffer``: input audio, base64 in the input format → 16 kHz, bounded;
- ``wire_audio``: the wire audio formats (24 kHz PCM16, 8 kHz G.711) and their codecs;
- ``response_input``: a response's own ``input`` and ``metadata`` (out-of-band responses);
- ``items``: the conversation items (typed) and their store;
- ``responses``: the response lifecycle and what each spoken reply sent;
- ``turns``: user turns ↔ pipeline turns, transcripts, queued commits;
- ``session_voice``: the session's voice and per-response voices;
- ``options``: session config → Conversation options (pure).
"""

from voicecli.server.realtime.endpoint import realtime_endpoint
from voicecli.server.realtime.session import RealtimeSession

__all__ = ["RealtimeSession", "realtime_endpoint"]
