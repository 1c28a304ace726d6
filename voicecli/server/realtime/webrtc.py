"""``POST /v1/realtime/calls``: OpenAI's GA WebRTC flow. The caller posts an SDP offer (the body
as ``application/sdp``, or ``multipart/form-data`` with ``sdp`` and a ``session`` JSON, as the
openai SDK's ``realtime.calls.create`` sends); the answer comes back in the body (201, and the
call's id in ``Location``). The caller's microphone arrives on the audio track, the reply plays
back on it (:mod:`.webrtc_media`), and the events are those of the WebSocket on the
``oai-events`` data channel: one :class:`~.session.RealtimeSession`, through this transport.
The API key is checked by :class:`~voicecli.server.limits.AuthMiddleware` like any route; a call
takes one of the realtime session slots; the offer's size is bounded; the call ends when the
peer goes (connection failed or closed, data channel closed) or never connects."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import numpy as np
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from voicecli.server.http_errors import ApiError
from voicecli.server.realtime.parsing import MAX_MODEL_CHARS
from voicecli.server.realtime.protocol import GA, ClientEventError, SessionKind, new_id
from voicecli.server.realtime.session import RealtimeSession
from voicecli.server.realtime.transport import AudioOut
from voicecli.server.realtime.webrtc_media import ReplyTrack, pump_input
from voicecli.server.state import ServerState

log = logging.getLogger("voicecli.server.realtime")

EVENTS_CHANNEL = "oai-events"
MAX_OFFER_BYTES = 64 * 1024
"""The whole request: an SDP offer is a few KB, a session object at most a few more."""
CONNECT_TIMEOUT_S = 20.0
"""How long the caller has to open the data channel after the answer."""
MAX_BUFFERED_BYTES = 1 << 20
"""Unsent data-channel bytes before the writer waits (the session's outbox bounds the rest)."""
MAX_INBOX = 1000
"""Client events received and not yet read: past this the caller floods, and is hung up on."""
_CALLS: set[asyncio.Task[None]] = set()
"""Calls running (a task must be referenced until it ends)."""


class DataChannelTransport:
    """The session's :class:`~.transport.Transport` on a peer connection: events on the
    ``oai-events`` channel, the reply's audio on the :class:`ReplyTrack`."""

    def __init__(self, pc: RTCPeerConnection, peer: str, has_channel: bool) -> None:
        self.pc = pc
        self.peer = peer
        self.track = ReplyTrack(self._player_event)
        self.audio_out: AudioOut | None = self.track
        self.session: RealtimeSession | None = None
        self.call_id = new_id("rtc")
        self.tasks: list[asyncio.Task[None]] = []
        """The microphone pump, cancelled with the call."""
        self._has_channel = has_channel
        self._channel: RTCDataChannel | None = None
        self._open = asyncio.Event()
        self._drained = asyncio.Event()
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._gone = False

    def attach(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_CHANNEL or self._channel is not None:
            return  # other channels carry nothing here
        self._channel = channel
        channel.on("message", self._received)
        channel.on("close", self.gone)
        channel.bufferedAmountLowThreshold = MAX_BUFFERED_BYTES // 2
        channel.on("bufferedamountlow", self._drained.set)
        self._open.set()

    def _received(self, message: str | bytes) -> None:
        if self._gone:
            return
        if self._inbox.qsize() >= MAX_INBOX:
            log.warning("%s: caller %s sent %d events unread; hanging up", self.session and self.session.id,
                        self.peer, MAX_INBOX)
            self.gone()
            return
        self._inbox.put_nowait(message)

    def gone(self) -> None:
        """The peer left (or must): the session's reader sees the end."""
        if not self._gone:
            self._gone = True
            self._inbox.put_nowait(None)
            self._drained.set()

    def _player_event(self, kind: str, response_id: str) -> None:
        if self.session is not None:
            self.session.sender.send(kind, response_id=response_id)

    async def send_text(self, data: str) -> None:
        if not self._has_channel:
            return  # an audio-only call: nobody reads events
        await asyncio.wait_for(self._open.wait(), CONNECT_TIMEOUT_S)
        channel = self._channel
        if channel is not None and channel.bufferedAmount > MAX_BUFFERED_BYTES and not self._gone:
            self._drained.clear()
            await self._drained.wait()  # the peer reads again, or left
        if channel is None or channel.readyState != "open":
            raise ConnectionError("the data channel is closed")
        channel.send(data)

    async def receive(self) -> str | bytes | None:
        return await self._inbox.get()

    async def close(self, code: int, reason: str) -> None:
        self.track.stop()
        await self.pc.close()


async def create_call(request: Request) -> Response:
    """The route: read the offer, take a session slot, answer, and run the call in the background."""
    state: ServerState = request.app.state.voicecli
    sdp, session_cfg = await read_offer(request)
    if not state.slots.try_acquire():
        state.metrics.session_rejected()
        raise ApiError(503, f"too many realtime sessions (limit {state.slots.max_sessions}); try again later",
                       code="session_limit_reached")
    client = request.client
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # local: no STUN server to ask
    transport = DataChannelTransport(pc, f"{client.host}:{client.port}" if client else "?", "m=application" in sdp)
    try:
        session, answer = await _answer(state, pc, transport, sdp, session_cfg)
    except BaseException:
        state.slots.release()
        await pc.close()
        raise
    state.metrics.session_opened()
    task = asyncio.create_task(_run_call(state, session, transport), name=f"{session.id}-call")
    _CALLS.add(task)
    task.add_done_callback(_CALLS.discard)
    return Response(answer, status_code=201, media_type="application/sdp",
                    headers={"Location": f"/v1/realtime/calls/{transport.call_id}"})


async def _answer(state: ServerState, pc: RTCPeerConnection, transport: DataChannelTransport, sdp: str,
                  session_cfg: dict[str, Any]) -> tuple[RealtimeSession, str]:
    model = session_cfg.get("model")
    model = model if isinstance(model, str) and model else state.config.model_id
    kind: SessionKind = "transcription" if session_cfg.get("type") == "transcription" else "realtime"
    session = RealtimeSession(transport, state, GA, model[:MAX_MODEL_CHARS], kind=kind)
    transport.session = session
    if session_cfg:
        try:
            await session.client_events.configure(session_cfg)
        except ClientEventError as exc:
            raise ApiError(400, f"session: {exc.message}", f"session.{exc.param}" if exc.param else "session",
                           exc.code) from None
    pc.on("datachannel", transport.attach)
    pc.on("track", lambda track: _on_track(pc, session, transport, track))
    pc.on("connectionstatechange", lambda: _on_state(pc, transport))
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    except Exception as exc:  # noqa: BLE001 - aiortc raises several kinds for a bad offer
        raise ApiError(400, f"invalid SDP offer: {str(exc)[:200] or type(exc).__name__}", "sdp",
                       "invalid_offer") from None
    if not any(t.kind == "audio" for t in pc.getTransceivers()):
        raise ApiError(400, "the SDP offer has no audio track (add the microphone to the peer connection)",
                       "sdp", "invalid_offer")
    await pc.setLocalDescription(await pc.createAnswer())
    return session, pc.localDescription.sdp


def _on_track(pc: RTCPeerConnection, session: RealtimeSession, transport: DataChannelTransport,
              track: MediaStreamTrack) -> None:
    if track.kind != "audio" or transport.tasks:
        return  # the first audio track is the microphone; the reply goes back on its transceiver
    pc.addTrack(transport.track)

    def on_samples(samples: np.ndarray) -> None:
        if session.source.started and not session.closed:  # (audio before the session runs is dropped)
            session.last_activity = time.monotonic()
            session.client_events.input_samples(samples)

    transport.tasks.append(asyncio.create_task(pump_input(track, on_samples), name=f"{session.id}-mic"))


def _on_state(pc: RTCPeerConnection, transport: DataChannelTransport) -> None:
    if pc.connectionState in ("failed", "closed"):
        transport.gone()


async def _run_call(state: ServerState, session: RealtimeSession, transport: DataChannelTransport) -> None:
    try:
        await session.run()
    except Exception:
        log.exception("%s: the WebRTC call failed", session.id)
    finally:
        for task in transport.tasks:
            task.cancel()
        await transport.pc.close()
        state.slots.release()
        state.metrics.session_closed()
        log.info("%s: WebRTC call %s from %s ended", session.id, transport.call_id, transport.peer)


async def read_offer(request: Request) -> tuple[str, dict[str, Any]]:
    """The SDP offer and the session object (empty if none) of a ``POST /v1/realtime/calls``."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            raise ApiError(413, f"the offer is larger than {MAX_OFFER_BYTES} bytes", None, "request_too_large")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    session: Any = {}
    if ctype == "application/sdp":
        sdp: Any = bytes(body).decode("utf-8", "replace")
    elif ctype == "multipart/form-data":
        data = bytes(body)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": data, "more_body": False}

        try:
            form = await Request(request.scope, receive).form(max_files=4, max_fields=8)
        except Exception as exc:  # noqa: BLE001 - malformed multipart
            raise ApiError(400, f"invalid multipart body: {str(exc)[:200]}", None, "invalid_request") from None
        sdp = await _part(form.get("sdp"))
        raw_session = await _part(form.get("session"))
        if raw_session:
            try:
                session = json.loads(raw_session)
            except ValueError:
                raise ApiError(400, "'session' is not valid JSON", "session", "invalid_json") from None
    else:
        raise ApiError(415, "send the SDP offer as 'Content-Type: application/sdp', or as multipart/form-data "
                       "with 'sdp' (and optionally 'session')", None, "unsupported_media_type")
    if not isinstance(session, dict):
        raise ApiError(400, "'session' must be a JSON object", "session", "invalid_type")
    if not isinstance(sdp, str) or not sdp.lstrip().startswith("v=0"):
        raise ApiError(400, "'sdp' must be an SDP offer (text starting with 'v=0')", "sdp", "invalid_offer")
    return sdp, session


async def _part(value: Any) -> str | None:
    if isinstance(value, UploadFile):
        return (await value.read()).decode("utf-8", "replace")
    return value if isinstance(value, str) else None
