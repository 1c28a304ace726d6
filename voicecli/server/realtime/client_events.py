"""One handler per client event type: validate the payload, then act through the session's
owners (input buffer, items, turns, responses, voice, the Conversation). A handler raises
:class:`~.protocol.ClientEventError` for anything it cannot apply; the session turns that into
an ``error`` event and carries on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from voicecli.server.realtime.input_buffer import MIN_COMMIT_MS, decode_item_audio
from voicecli.server.realtime.items import FunctionCallOutputItem, InputText, MessageItem
from voicecli.server.realtime.parsing import ToolLimits, parse_message, parse_response_create, parse_session_update
from voicecli.server.realtime.protocol import (
    BETA,
    WIRE_RATE_HZ,
    ClientEventError,
    SessionConfig,
    looks_beta,
    new_id,
    render_session,
)
from voicecli.server.realtime.response_input import with_input
from voicecli.server.realtime.wire_audio import WireFormat

if TYPE_CHECKING:
    from voicecli.server.realtime.session import RealtimeSession

ClientEvent = dict[str, Any]
"""A client event as decoded from JSON; only the handlers and :mod:`.parsing` look inside."""
MAX_ITEM_ID_CHARS = 64


class ClientEvents:
    def __init__(self, session: RealtimeSession) -> None:
        self.s = session
        self._handlers: dict[str, Callable[[ClientEvent], Awaitable[None] | None]] = {
            "session.update": self.session_update,
            "transcription_session.update": self.transcription_session_update,
            "input_audio_buffer.append": self.append,
            "input_audio_buffer.commit": self.commit,
            "input_audio_buffer.clear": self.clear,
            "conversation.item.create": self.item_create,
            "conversation.item.truncate": self.truncate,
            "conversation.item.retrieve": self.item_retrieve,
            "conversation.item.delete": self.item_delete,
            "response.create": self.response_create,
            "response.cancel": self.response_cancel,
            "output_audio_buffer.clear": self.output_clear,
        }

    def handles(self, kind: str) -> bool:
        return kind in self._handlers

    async def handle(self, kind: str, event: ClientEvent) -> None:
        result = self._handlers[kind](event)
        if result is not None:
            await result

    # --- session ----------------------------------------------------------------------------
    async def session_update(self, e: ClientEvent) -> None:
        s = self.s
        session = e.get("session")
        if not s.dialect_locked and isinstance(session, dict) and looks_beta(session):
            s.sender.dialect = BETA
        s.dialect_locked = True
        await self._apply(parse_session_update(s.cfg, session, ToolLimits(s.limits.max_tools,
                                                                          s.limits.max_tools_bytes)))
        s.sender.send("session.updated", session=render_session(s.cfg, s.id, s.sender.dialect))

    async def configure(self, session: object) -> None:
        """The ``session`` object a WebRTC call was created with: applied before
        ``session.created`` (which then shows it), so no ``session.updated``."""
        self.s.dialect_locked = True
        await self._apply(parse_session_update(self.s.cfg, session, ToolLimits(self.s.limits.max_tools,
                                                                               self.s.limits.max_tools_bytes)))

    async def transcription_session_update(self, e: ClientEvent) -> None:
        """The beta form of ``session.update`` with ``type: "transcription"`` (flat beta keys)."""
        s = self.s
        session = e.get("session")
        if not isinstance(session, dict):
            raise ClientEventError("'session' must be an object", "session", "invalid_type")
        if not s.dialect_locked:
            s.sender.dialect = BETA
        s.dialect_locked = True
        await self._apply(parse_session_update(s.cfg, {**session, "type": "transcription"}))
        s.sender.send("transcription_session.updated", session=render_session(s.cfg, s.id, s.sender.dialect))

    async def _apply(self, cfg: SessionConfig) -> None:
        s = self.s
        if cfg.kind != s.cfg.kind and s.responses.active is not None:
            raise ClientEventError("the session type cannot change while a response is active", "session.type",
                                   "conversation_already_has_active_response")
        if cfg.voice != s.cfg.voice:
            await s.voice.change(cfg.voice)
        s.cfg = cfg
        s.buffer.use_format(WireFormat(cfg.input_format))
        s.responses.output_format = WireFormat(cfg.output_format)
        if s.responses.active is None:
            s.voice.speak(cfg.output_audio)
        if cfg.turn_detection is None:
            s.conv.reset_input()
        s.conv.reconfigure(s.options())

    # --- input audio buffer --------------------------------------------------------------------
    def append(self, e: ClientEvent) -> None:
        s = self.s
        vad = s.cfg.turn_detection is not None
        samples = s.buffer.append(e.get("audio"), keep_newest=vad)
        if vad and len(samples):
            s.source.push(samples)

    def input_samples(self, samples16k: np.ndarray) -> None:
        """Audio that arrived outside events (WebRTC's media track), already at 16 kHz: as if
        appended to the input buffer, which (a stream cannot be refused) keeps the newest."""
        s = self.s
        s.buffer.add(samples16k, keep_newest=True)
        if s.cfg.turn_detection is not None and len(samples16k):
            s.source.push(samples16k)

    def commit(self, e: ClientEvent) -> None:
        s = self.s
        if not s.buffer.can_commit():
            raise ClientEventError(f"buffer too small: commit needs at least {MIN_COMMIT_MS} ms of audio",
                                   None, "input_audio_buffer_commit_empty")
        audio = s.buffer.take()
        if s.cfg.turn_detection is not None:
            s.conv.reset_input()
        s.turns.commit(audio, s.busy())

    def clear(self, e: ClientEvent) -> None:
        s = self.s
        s.buffer.take()
        if s.cfg.turn_detection is not None:
            s.conv.reset_input()
        s.sender.send("input_audio_buffer.cleared")

    # --- items --------------------------------------------------------------------------------
    async def item_create(self, e: ClientEvent) -> None:
        s = self.s
        item = e.get("item")
        if not isinstance(item, dict):
            raise ClientEventError("'item' must be an object", "item", "invalid_type")
        prev = e.get("previous_item_id")
        if prev is not None and prev != "root" and prev not in s.items:
            raise ClientEventError(f"previous item {str(prev)[:60]!r} does not exist", "previous_item_id",
                                   "item_not_found")
        kind = item.get("type", "message")
        given = item.get("id")
        item_id: str = given if isinstance(given, str) and given else new_id("item")
        if len(item_id) > MAX_ITEM_ID_CHARS or item_id in s.items:
            raise ClientEventError(f"'item.id' must be new and at most {MAX_ITEM_ID_CHARS} characters", "item.id")
        self._check_room(0)
        if kind == "function_call_output":
            output = item.get("output")
            if not isinstance(output, str):
                raise ClientEventError("'item.output' must be a string", "item.output", "invalid_type")
            self._check_text(output, "item.output")
            self._check_room(len(output.encode()))
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise ClientEventError("'item.call_id' must be the call_id of a function call", "item.call_id",
                                       "invalid_type")
            s.turns.add_tool_output(item_id, call_id[:MAX_ITEM_ID_CHARS], output)
            s.items.add(FunctionCallOutputItem(item_id, call_id[:MAX_ITEM_ID_CHARS], output))
            return
        if kind != "message":
            raise ClientEventError(f"item type {str(kind)[:40]!r} is not supported (use 'message' or "
                                   "'function_call_output')", "item.type")
        message = parse_message(item)
        self._check_text(message.text, "item.content")
        self._check_room(len(message.text.encode()))
        if message.role == "assistant":
            raise ClientEventError("assistant items cannot be created; the assistant's replies come from responses",
                                   "item.role", "unsupported_item")
        if message.role == "system":
            s.extra_system.append(message.text)
            s.conv.reconfigure(s.options())
        elif message.audio_b64 is not None:
            samples = decode_item_audio(message.audio_b64, s.limits.max_buffered_audio_s, s.buffer.format)
            s.turns.add_audio_item(item_id, samples, s.busy())
            return
        else:
            s.turns.add_text(message.text)
        content = (InputText(message.text),) if message.text else ()
        s.items.add(MessageItem(item_id, message.role, content))

    def _check_text(self, text: str, param: str) -> None:
        limit = self.s.limits.max_text_chars
        if len(text) > limit:
            raise ClientEventError(f"text is longer than {limit} characters", param, "string_above_max_length")

    def _check_room(self, text_bytes: int) -> None:
        """The conversation is bounded in items and in the text they hold, whoever added them."""
        items, limits = self.s.items, self.s.limits
        if len(items) >= limits.max_items:
            raise ClientEventError(f"the conversation holds {len(items)} items, the limit; delete some "
                                   "(conversation.item.delete) first", "item", "conversation_full")
        if items.text_bytes + text_bytes > limits.max_item_text_bytes:
            raise ClientEventError(f"the conversation's items would hold more than {limits.max_item_text_bytes} "
                                   "bytes of text; delete some (conversation.item.delete) first", "item",
                                   "conversation_full")

    def truncate(self, e: ClientEvent) -> None:
        s = self.s
        item_id = e.get("item_id")
        if not isinstance(item_id, str):
            raise ClientEventError("'item_id' must be a string", "item_id", "invalid_type")
        if s.responses.spoken(item_id) is None:
            raise ClientEventError(f"no assistant audio item {item_id[:60]!r}", "item_id", "item_not_found")
        index = e.get("content_index", 0)
        if index != 0 or isinstance(index, bool):
            raise ClientEventError("'content_index' must be 0", "content_index")
        end_ms = e.get("audio_end_ms")
        if isinstance(end_ms, bool) or not isinstance(end_ms, int) or end_ms < 0:
            raise ClientEventError("'audio_end_ms' must be a non-negative integer", "audio_end_ms", "invalid_type")
        self.truncate_spoken(item_id, end_ms)

    def truncate_spoken(self, item_id: str, end_ms: int, played: bool = False) -> None:
        """The assistant's audio item ``item_id`` was heard up to ``end_ms``: the item and the
        LLM's history keep only the words said by then (the client says so with
        ``conversation.item.truncate``; on WebRTC the server's player knows)."""
        s = self.s
        reply = s.responses.spoken(item_id)
        if reply is None:
            return
        if played:  # the server's player: its count may pass the item's by a resampled sample
            end_ms = min(end_ms, sum(reply.piece_samples) * 1000 // WIRE_RATE_HZ)
        heard = reply.heard_until(end_ms)
        if not s.conv.truncate_history(reply.turn, heard):
            s.responses.defer_truncation(reply.turn, heard)
        s.responses.truncate_item(item_id, heard)
        s.sender.send("conversation.item.truncated", item_id=item_id, content_index=0, audio_end_ms=end_ms)

    def item_retrieve(self, e: ClientEvent) -> None:
        item_id = e.get("item_id")
        wire = self.s.items.wire(item_id) if isinstance(item_id, str) else None
        if wire is None:
            raise ClientEventError(f"no item {str(item_id)[:60]!r}", "item_id", "item_not_found")
        self.s.sender.send("conversation.item.retrieved", item=wire)

    def item_delete(self, e: ClientEvent) -> None:
        s = self.s
        item_id = e.get("item_id")
        if not isinstance(item_id, str) or item_id not in s.items:
            raise ClientEventError(f"no item {str(item_id)[:60]!r}", "item_id", "item_not_found")
        s.forget(s.items.delete(item_id))
        s.sender.send("conversation.item.deleted", item_id=item_id)

    # --- responses ----------------------------------------------------------------------------
    async def response_create(self, e: ClientEvent) -> None:
        s = self.s
        if s.cfg.kind == "transcription":
            raise ClientEventError("a transcription session creates no responses (session.type is "
                                   "'transcription')", None, "invalid_session_type")
        if s.responses.active is not None:
            raise ClientEventError(f"conversation already has an active response ({s.responses.active.id})",
                                   None, "conversation_already_has_active_response")
        params = parse_response_create(e.get("response"), ToolLimits(s.limits.max_tools, s.limits.max_tools_bytes))
        params = with_input(params, e.get("response"), s.items, s.limits.max_text_chars)
        s.options(params)  # checks the response's tools and tool choice against the session's
        speaker = await s.voice.for_response(params.voice)
        if s.responses.active is not None:  # another one started while the voice loaded
            raise ClientEventError("conversation already has an active response", None,
                                   "conversation_already_has_active_response")
        audio = s.cfg.output_audio if params.output_audio is None else params.output_audio
        resp = s.responses.create(params, audio)
        s.request_response(resp, speaker)

    def response_cancel(self, e: ClientEvent) -> None:
        s = self.s
        resp = s.responses.active
        rid = e.get("response_id")
        if resp is None:
            raise ClientEventError("there is no active response to cancel", None, "response_cancel_not_active")
        if rid is not None and rid != resp.id:
            raise ClientEventError(f"response {str(rid)[:60]!r} is not the active response", "response_id",
                                   "response_not_found")
        if resp.turn is None or not s.conv.cancel_reply("client"):
            s.responses.finish(resp, "cancelled", "client_cancelled")

    def output_clear(self, e: ClientEvent) -> None:
        """``output_audio_buffer.clear``: on WebRTC, stop the reply playing and keep only what
        was heard; over WebSocket the client owns playback, so nothing to do."""
        self.s.stop_playback()
