"""``GET /v1/realtime``: one OpenAI Realtime session per WebSocket, on top of one
:class:`~voicecli.pipeline.conversation.Conversation` (PushSource in, InstantOutput out). This
module only translates: client events → pipeline controls, pipeline events → server events."""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from voicecli.audio.format import PIPELINE_RATE_HZ, float_to_pcm16, pcm16_to_float
from voicecli.audio.io import InstantOutput, PushSource
from voicecli.audio.playback import Player
from voicecli.audio.resample import StreamResampler, resample
from voicecli.pipeline import events as ev
from voicecli.pipeline.conversation import Conversation, ConversationOptions, heard_text
from voicecli.pipeline.options import conversation_options
from voicecli.server.limits import INSECURE_KEY_PROTOCOL
from voicecli.server.realtime_protocol import (
    BETA,
    GA,
    WIRE_RATE_HZ,
    ClientEventError,
    ResponseParams,
    SessionConfig,
    TurnDetection,
    content_type,
    event_name,
    looks_beta,
    message_text,
    new_id,
    parse_response_create,
    parse_session_update,
    render_session,
)
from voicecli.server.state import NORMAL, URGENT, ServerState, SessionExecutor

log = logging.getLogger("voicecli.server.realtime")

AUDIO_DELTA_MS = 200
"""Audio is sent in deltas of this length (a sentence is synthesised at once)."""
MIN_COMMIT_MS = 100
NO_BARGE_IN_MS = 10**9
PLACEHOLDER_PROMPT = "Continue."
"""User text for a response.create with no new user input (the LLM needs a user turn)."""


class SessionEngines:
    """The shared engines with this session's voice (the Conversation reads ``engines.speaker``)."""

    def __init__(self, base: Any, speaker: Any) -> None:
        self._base = base
        self.settings = base.settings
        self.transcriber = base.transcriber
        self.chat = base.chat
        self.speaker = speaker

    def new_vad(self) -> Any:
        return self._base.new_vad()


class SilentSpeaker:
    """Text-only responses: the pipeline's TTS step produces nothing."""

    def __init__(self, like: Any) -> None:
        self.name = "none"
        self.sample_rate_hz = like.sample_rate_hz

    def synthesize(self, text: str, speed: float = 1.0) -> Any:
        return iter(())


class Outbox:
    """Server events waiting to be written to one client. Unbounded waiting would let a client
    that stops reading grow the server's memory, so past ``max_bytes`` the session is dropped."""

    def __init__(self, ws: WebSocket, max_bytes: int) -> None:
        self.ws = ws
        self.max_bytes = max_bytes
        self.queued_bytes = 0
        self.overflowed = False
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(self, data: str) -> bool:
        if self.overflowed:
            return False
        self.queued_bytes += len(data)
        if self.queued_bytes > self.max_bytes:
            self.overflowed = True
            self._queue.put_nowait(None)
            return False
        self._queue.put_nowait(data)
        return True

    async def run(self) -> None:
        while True:
            data = await self._queue.get()
            if data is None:
                return
            await self.ws.send_text(data)
            self.queued_bytes -= len(data)


@dataclass
class _Response:
    id: str
    item_id: str
    params: ResponseParams
    audio: bool
    turn: int | None = None
    output_started: bool = False
    transcript: list[str] = field(default_factory=list)
    text: str = ""
    pieces: list[str] = field(default_factory=list)
    piece_samples: list[int] = field(default_factory=list)
    """24 kHz samples sent per piece (for conversation.item.truncate)."""
    failed: str | None = None


@dataclass
class _AssistantItem:
    turn: int
    pieces: list[str]
    piece_samples: list[int]
    transcript: str
    item: dict[str, Any]


class RealtimeSession:
    def __init__(self, ws: WebSocket, state: ServerState, dialect: str, model: str) -> None:
        self.ws = ws
        self.state = state
        self.limits = state.config.limits
        self.dialect = dialect
        self.dialect_locked = dialect == BETA
        self.id = new_id("sess")
        settings = state.engines.settings
        td = TurnDetection(threshold=settings.vad.threshold, prefix_padding_ms=settings.vad.preroll_ms,
                           silence_duration_ms=settings.vad.end_silence_ms)
        self.cfg = SessionConfig(model=model, instructions=settings.llm.system_prompt, turn_detection=td)
        self.base_options = conversation_options(settings)
        self.speaker = state.engines.speaker
        self.out = Outbox(ws, self.limits.max_outbound_bytes)
        self.closed = False
        self._done = asyncio.Event()
        self._close_code = 1000
        self._close_reason = ""
        self.last_activity = time.monotonic()
        # input audio
        self._resampler = StreamResampler(WIRE_RATE_HZ, PIPELINE_RATE_HZ)
        self._carry = b""
        self._uncommitted: collections.deque[np.ndarray] = collections.deque()
        self._uncommitted_samples = 0
        self._pending_commits: list[tuple[np.ndarray, str]] = []
        # conversation items and turns
        self._items: list[str] = []
        self._item_objects: dict[str, dict[str, Any]] = {}
        self._speech_item: str | None = None
        self._speech_start_ms = 0.0
        self._item_audio_s: dict[str, float] = {}
        self._audio_turn_items: dict[int, str] = {}
        self._awaiting_transcript: set[int] = set()
        self._held_turns: set[int] = set()
        """Transcribed but not answered by the Conversation itself (commits, create_response off)."""
        self._requested_speaker: Any = None
        self._pending_user_text: list[str] = []
        self._extra_system: list[str] = []
        self._response: _Response | None = None
        self._assistant_items: dict[str, _AssistantItem] = {}
        self._turn_ids: dict[int, tuple[str, str]] = {}
        """turn → (response id, assistant item id), for the per-turn latency event."""
        self._pending_truncations: dict[int, str] = {}
        self._audio_produced = False
        self.completed_turns = 0

    # --- lifecycle ------------------------------------------------------------------------
    async def run(self) -> None:
        engines = SessionEngines(self.state.engines, self.speaker)
        self.engines = engines
        self.player = Player(self.speaker.sample_rate_hz)
        self.source = PushSource()
        self.conv = Conversation(engines, self.source, self.player, InstantOutput(self.player), self._on_event,
                                 self._conversation_options())
        self.conv.use_executors(stt=SessionExecutor(self.state.stt_pool), llm=SessionExecutor(self.state.llm_pool),
                                tts=SessionExecutor(self.state.tts_pool, self._tts_priority))
        conv_task = asyncio.create_task(self.conv.run(), name=f"{self.id}-conversation")
        conv_task.add_done_callback(self._conversation_ended)
        await asyncio.sleep(0)  # let run() start the source before any audio is pushed
        tasks = [asyncio.create_task(self._read_loop(), name=f"{self.id}-reader"),
                 asyncio.create_task(self._write_loop(), name=f"{self.id}-writer"),
                 asyncio.create_task(self._watchdog(), name=f"{self.id}-watchdog")]
        self._send("session.created", session=render_session(self.cfg, self.id, self.dialect))
        try:
            await self._done.wait()
        finally:
            self.closed = True
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.conv.cancel_reply("disconnect")
            self.source.end()
            try:
                await asyncio.wait_for(asyncio.shield(conv_task), timeout=5)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - the session is over either way
                conv_task.cancel()
            try:
                await asyncio.wait_for(self.ws.close(self._close_code, self._close_reason[:120]), timeout=2)
            except Exception:  # noqa: BLE001 - the client may already be gone
                pass

    def _tts_priority(self) -> int:
        """The first sentence of a reply is urgent (someone waits in silence); later ones are not.
        Called on the event loop when the pipeline submits TTS work."""
        resp = self._response
        return URGENT if resp is None or not resp.pieces else NORMAL

    def _conversation_ended(self, task: asyncio.Task[None]) -> None:
        if not self.closed:
            exc = None if task.cancelled() else task.exception()
            log.error("%s: the pipeline stopped: %r", self.id, exc)
            self._error(f"the voice pipeline stopped: {exc}", code="pipeline_error", type_="server_error")
            self._finish(1011, "pipeline stopped")

    def _finish(self, code: int = 1000, reason: str = "") -> None:
        if not self._done.is_set():
            self._close_code, self._close_reason = code, reason
            self._done.set()

    async def _write_loop(self) -> None:
        try:
            await self.out.run()
        except Exception:  # noqa: BLE001 - client gone
            self._finish(1001)
            return
        if self.out.overflowed:
            log.warning("%s: client is not reading; closing the session", self.id)
            self._finish(1008, "client too slow: too many unsent events")

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.limits.idle_timeout_s / 4))
            idle = time.monotonic() - self.last_activity
            if idle > self.limits.idle_timeout_s and self._response is None and not self._conversation_busy():
                self._error(f"session idle for {self.limits.idle_timeout_s:.0f} s; closing", code="session_idle_timeout")
                await asyncio.sleep(0.2)
                self._finish(1000, "idle timeout")
                return

    async def _read_loop(self) -> None:
        while True:
            try:
                msg = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                self._finish(1001)
                return
            if msg["type"] == "websocket.disconnect":
                self._finish(1001)
                return
            self.last_activity = time.monotonic()
            raw = msg.get("text")
            if raw is None:
                raw = msg.get("bytes")
            await self._handle_raw(raw)

    # --- client events --------------------------------------------------------------------
    async def _handle_raw(self, raw: str | bytes | None) -> None:
        if raw is None:
            return
        if len(raw) > self.limits.max_ws_message_bytes:
            self._error(f"event is larger than {self.limits.max_ws_message_bytes} bytes", code="message_too_large")
            return
        try:
            event = json.loads(raw)
        except (ValueError, RecursionError, UnicodeDecodeError) as exc:
            self._error(f"invalid JSON: {str(exc)[:200]}", code="invalid_json")
            return
        if not isinstance(event, dict):
            self._error("an event must be a JSON object", code="invalid_event")
            return
        client_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        kind = event.get("type")
        if not isinstance(kind, str):
            self._error("the event has no 'type' string", param="type", code="invalid_event", event_id=client_id)
            return
        handler = self._HANDLERS.get(kind)
        if handler is None:
            self._error(f"unknown event type {kind[:100]!r}", param="type", code="unknown_event_type",
                        event_id=client_id)
            return
        try:
            result = handler(self, event)
            if asyncio.iscoroutine(result):
                await result
        except ClientEventError as exc:
            self._error(exc.message, param=exc.param, code=exc.code, event_id=client_id)
        except Exception as exc:
            log.exception("%s: handling %s failed", self.id, kind)
            self._error(f"internal error handling {kind}: {type(exc).__name__}", code="server_error",
                        event_id=client_id, type_="server_error")

    async def _on_session_update(self, e: dict[str, Any]) -> None:
        session = e.get("session")
        if not self.dialect_locked and isinstance(session, dict) and looks_beta(session):
            self.dialect = BETA
        self.dialect_locked = True
        cfg = parse_session_update(self.cfg, session)
        if cfg.voice != self.cfg.voice:
            if self._audio_produced:
                raise ClientEventError("the voice cannot change once the session has produced audio",
                                       "session.voice", "cannot_update_voice")
            self.speaker = await self._load_voice(cfg.voice, "session.voice")
            self.engines.speaker = self.speaker
        self.cfg = cfg
        if self._response is None:
            self.engines.speaker = self._default_speaker()
        if self.cfg.turn_detection is None:
            self.conv.reset_input()
        self.conv.reconfigure(self._conversation_options())
        self._send("session.updated", session=render_session(self.cfg, self.id, self.dialect))

    def _default_speaker(self) -> Any:
        """What the pipeline speaks with when no response overrides it (VAD turns start their TTS
        speculatively, before the response exists, so this must always be right)."""
        return self.speaker if self.cfg.output_audio else SilentSpeaker(self.speaker)

    async def _load_voice(self, voice: str, param: str) -> Any:
        name = self.state.voices.resolve(voice)
        if name is None:
            raise ClientEventError(f"unknown voice {voice[:60]!r}; use one of: {', '.join(self.state.voices.accepted())}",
                                   param, "invalid_voice")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.state.tts_pool, self.state.voices.speaker, name)

    def _conversation_options(self, params: ResponseParams | None = None) -> ConversationOptions:
        o = self.base_options
        cfg = self.cfg
        td = cfg.turn_detection
        endpointer = o.endpointer
        if td is not None and td.type == "server_vad":
            endpointer = replace(endpointer, threshold=min(max(td.threshold, 0.05), 0.98),
                                 release=min(endpointer.release, td.threshold / 2),
                                 preroll_ms=td.prefix_padding_ms, end_silence_ms=max(96, td.silence_duration_ms))
        max_tokens = (params.max_output_tokens if params and params.max_output_tokens else
                      cfg.max_output_tokens or o.generation.max_tokens)
        max_tokens = min(max_tokens, self.limits.max_tokens)
        stt = o.stt
        if cfg.transcription:
            stt = replace(stt, language=cfg.transcription.get("language") or stt.language,
                          initial_prompt=cfg.transcription.get("prompt") or None)
        system = "\n\n".join(x for x in [cfg.instructions, *self._extra_system] if x)
        return replace(o, endpointer=endpointer, system_prompt=system, speed=cfg.speed, stt=stt,
                       generation=replace(o.generation, max_tokens=max_tokens),
                       auto_respond=bool(td and td.create_response),
                       barge_in_ms=o.barge_in_ms if (td and td.interrupt_response) else NO_BARGE_IN_MS)

    def _on_append(self, e: dict[str, Any]) -> None:
        audio = e.get("audio")
        if not isinstance(audio, str):
            raise ClientEventError("'audio' must be a base64 string", "audio", "invalid_type")
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise ClientEventError("'audio' is not valid base64", "audio", "invalid_base64") from None
        data = self._carry + data
        self._carry = data[-1:] if len(data) % 2 else b""
        if len(data) % 2:
            data = data[:-1]
        if not data:
            return
        samples = self._resampler.process(pcm16_to_float(data))
        room = int(self.limits.max_buffered_audio_s * PIPELINE_RATE_HZ) - self._uncommitted_samples
        if self.cfg.turn_detection is None:
            if len(samples) > room:
                raise ClientEventError(
                    f"input audio buffer is full ({self.limits.max_buffered_audio_s:.0f} s); commit or clear it",
                    "audio", "input_audio_buffer_full")
        else:
            while len(samples) > room and self._uncommitted:  # VAD mode: keep the newest audio
                dropped = self._uncommitted.popleft()
                self._uncommitted_samples -= len(dropped)
                room += len(dropped)
            self.source.push(samples)
        self._uncommitted.append(samples)
        self._uncommitted_samples += len(samples)

    def _take_uncommitted(self) -> np.ndarray:
        audio = np.concatenate(list(self._uncommitted)) if self._uncommitted else np.zeros(0, np.float32)
        self._uncommitted.clear()
        self._uncommitted_samples = 0
        return audio

    def _on_commit(self, e: dict[str, Any]) -> None:
        if self._uncommitted_samples < MIN_COMMIT_MS * PIPELINE_RATE_HZ // 1000:
            raise ClientEventError(f"buffer too small: commit needs at least {MIN_COMMIT_MS} ms of audio",
                                   None, "input_audio_buffer_commit_empty")
        audio = self._take_uncommitted()
        if self.cfg.turn_detection is not None:
            self.conv.reset_input()
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        self._commit_item(item_id)
        if self._conversation_busy():
            self._pending_commits.append((audio, item_id))
        else:
            self._submit_commit(audio, item_id)

    def _submit_commit(self, audio: np.ndarray, item_id: str) -> None:
        self._item_audio_s[item_id] = len(audio) / PIPELINE_RATE_HZ
        turn = self.conv.submit_audio(audio, respond=False)
        self._audio_turn_items[turn] = item_id
        self._awaiting_transcript.add(turn)
        self._held_turns.add(turn)

    def _conversation_busy(self) -> bool:
        return self._response is not None or bool(self._awaiting_transcript)

    def _on_clear(self, e: dict[str, Any]) -> None:
        self._take_uncommitted()
        if self.cfg.turn_detection is not None:
            self.conv.reset_input()
        self._send("input_audio_buffer.cleared")

    async def _on_item_create(self, e: dict[str, Any]) -> None:
        item = e.get("item")
        if not isinstance(item, dict):
            raise ClientEventError("'item' must be an object", "item", "invalid_type")
        prev = e.get("previous_item_id")
        if prev is not None and prev != "root" and prev not in self._item_objects:
            raise ClientEventError(f"previous item {str(prev)[:60]!r} does not exist", "previous_item_id",
                                   "item_not_found")
        kind = item.get("type", "message")
        given = item.get("id")
        item_id: str = given if isinstance(given, str) and given else new_id("item")
        if len(item_id) > 64 or item_id in self._item_objects:
            raise ClientEventError("'item.id' must be new and at most 64 characters", "item.id")
        if kind == "function_call_output":
            output = item.get("output")
            if not isinstance(output, str):
                raise ClientEventError("'item.output' must be a string", "item.output", "invalid_type")
            self._check_text(output, "item.output")
            self._pending_user_text.append(f"(tool result) {output}")
            self._add_item(item_id, {"id": item_id, "object": "realtime.item", "type": "function_call_output",
                                     "status": "completed", "call_id": str(item.get("call_id", "")),
                                     "output": output})
            return
        if kind != "message":
            raise ClientEventError(f"item type {str(kind)[:40]!r} is not supported (use 'message')", "item.type")
        role, text, audio = message_text(item)
        self._check_text(text, "item.content")
        if role == "assistant":
            raise ClientEventError("assistant items cannot be created; the assistant's replies come from responses",
                                   "item.role", "unsupported_item")
        content: list[dict[str, Any]] = [{"type": "input_text", "text": text}] if text else []
        if role == "system":
            self._extra_system.append(text)
            self.conv.reconfigure(self._conversation_options())
        elif audio is not None:
            samples = self._decode_item_audio(audio)
            content = [{"type": "input_audio", "transcript": None}]
            self._add_item(item_id, self._message(item_id, "user", content))
            if self._conversation_busy():
                self._pending_commits.append((samples, item_id))
            else:
                self._submit_commit(samples, item_id)
            return
        else:
            self._pending_user_text.append(text)
        self._add_item(item_id, self._message(item_id, role, content))

    def _decode_item_audio(self, b64: str) -> np.ndarray:
        try:
            data = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ClientEventError("'audio' is not valid base64", "item.content.audio", "invalid_base64") from None
        samples = resample(pcm16_to_float(data), WIRE_RATE_HZ, PIPELINE_RATE_HZ)
        if len(samples) < MIN_COMMIT_MS * PIPELINE_RATE_HZ // 1000:
            raise ClientEventError("audio item is too short", "item.content.audio")
        if len(samples) > self.limits.max_buffered_audio_s * PIPELINE_RATE_HZ:
            raise ClientEventError("audio item is too long", "item.content.audio")
        return samples

    def _check_text(self, text: str, param: str) -> None:
        if len(text) > self.limits.max_text_chars:
            raise ClientEventError(f"text is longer than {self.limits.max_text_chars} characters", param,
                                   "string_above_max_length")

    async def _on_response_create(self, e: dict[str, Any]) -> None:
        if self._response is not None:
            raise ClientEventError(f"conversation already has an active response ({self._response.id})",
                                   None, "conversation_already_has_active_response")
        params = parse_response_create(e.get("response"))
        speaker = self.speaker
        if params.voice is not None:
            if self._audio_produced and self.state.voices.resolve(params.voice) != self.speaker.name:
                raise ClientEventError("the voice cannot change once the session has produced audio",
                                       "response.voice", "cannot_update_voice")
            speaker = await self._load_voice(params.voice, "response.voice")
        if self._response is not None:  # another one started while the voice loaded
            raise ClientEventError("conversation already has an active response", None,
                                   "conversation_already_has_active_response")
        audio = self.cfg.output_audio if params.output_audio is None else params.output_audio
        resp = _Response(new_id("resp"), new_id("item"), params, audio)
        self._response = resp
        self._send("response.created", response=self._response_object(resp, "in_progress"))
        if not self._awaiting_transcript:
            self._start_response(resp, speaker)
        else:  # started by _after_transcript once the pending transcription arrives
            self._requested_speaker = speaker

    def _start_response(self, resp: _Response, speaker: Any | None = None) -> None:
        text = "\n".join(t for t in self._pending_user_text if t.strip()) or PLACEHOLDER_PROMPT
        self._pending_user_text.clear()
        self.engines.speaker = (speaker or self.speaker) if resp.audio else SilentSpeaker(self.speaker)
        self.conv.reconfigure(self._conversation_options(resp.params))
        system = None
        if resp.params.instructions is not None:
            system = "\n\n".join(x for x in [resp.params.instructions, *self._extra_system] if x)
        resp.turn = self.conv.reply_to(text, system_prompt=system)

    def _on_response_cancel(self, e: dict[str, Any]) -> None:
        resp = self._response
        rid = e.get("response_id")
        if resp is None:
            raise ClientEventError("there is no active response to cancel", None, "response_cancel_not_active")
        if rid is not None and rid != resp.id:
            raise ClientEventError(f"response {str(rid)[:60]!r} is not the active response", "response_id",
                                   "response_not_found")
        if resp.turn is None or not self.conv.cancel_reply("client"):
            self._finish_response(resp, "cancelled", "client_cancelled")

    def _on_truncate(self, e: dict[str, Any]) -> None:
        item_id = e.get("item_id")
        if not isinstance(item_id, str):
            raise ClientEventError("'item_id' must be a string", "item_id", "invalid_type")
        item = self._assistant_items.get(item_id)
        if item is None:
            raise ClientEventError(f"no assistant audio item {item_id[:60]!r}", "item_id", "item_not_found")
        index = e.get("content_index", 0)
        if index != 0 or isinstance(index, bool):
            raise ClientEventError("'content_index' must be 0", "content_index")
        end_ms = e.get("audio_end_ms")
        if isinstance(end_ms, bool) or not isinstance(end_ms, int) or end_ms < 0:
            raise ClientEventError("'audio_end_ms' must be a non-negative integer", "audio_end_ms", "invalid_type")
        total_ms = sum(item.piece_samples) * 1000 / WIRE_RATE_HZ
        if end_ms > math.ceil(total_ms):
            raise ClientEventError(f"audio_end_ms {end_ms} is beyond the item's audio ({total_ms:.0f} ms)",
                                   "audio_end_ms", "invalid_value")
        remaining = end_ms * WIRE_RATE_HZ // 1000
        played: dict[int, int] = {}
        for i, n in enumerate(item.piece_samples):
            played[i] = min(n, remaining)
            remaining -= played[i]
        heard = heard_text(item.pieces, played, dict(enumerate(item.piece_samples)))
        if not self.conv.truncate_history(item.turn, heard):
            self._pending_truncations[item.turn] = heard
        item.transcript = heard
        for part in item.item.get("content", []):
            if "transcript" in part:
                part["transcript"] = heard
        self._send("conversation.item.truncated", item_id=item_id, content_index=0, audio_end_ms=end_ms)

    def _on_item_retrieve(self, e: dict[str, Any]) -> None:
        item_id = e.get("item_id")
        if not isinstance(item_id, str) or item_id not in self._item_objects:
            raise ClientEventError(f"no item {str(item_id)[:60]!r}", "item_id", "item_not_found")
        self._send("conversation.item.retrieved", item=self._item_objects[item_id])

    def _on_item_delete(self, e: dict[str, Any]) -> None:
        item_id = e.get("item_id")
        if not isinstance(item_id, str) or item_id not in self._item_objects:
            raise ClientEventError(f"no item {str(item_id)[:60]!r}", "item_id", "item_not_found")
        obj = self._item_objects.pop(item_id)
        self._items.remove(item_id)
        for part in obj.get("content", []):
            if part.get("type") == "input_text" and part.get("text") in self._pending_user_text:
                self._pending_user_text.remove(part["text"])
        self._send("conversation.item.deleted", item_id=item_id)

    def _on_ignored(self, e: dict[str, Any]) -> None:
        """``output_audio_buffer.clear`` is for WebRTC/SIP; over WebSocket the client owns playback."""

    _HANDLERS: dict[str, Any] = {
        "session.update": _on_session_update,
        "input_audio_buffer.append": _on_append,
        "input_audio_buffer.commit": _on_commit,
        "input_audio_buffer.clear": _on_clear,
        "conversation.item.create": _on_item_create,
        "conversation.item.truncate": _on_truncate,
        "conversation.item.retrieve": _on_item_retrieve,
        "conversation.item.delete": _on_item_delete,
        "response.create": _on_response_create,
        "response.cancel": _on_response_cancel,
        "output_audio_buffer.clear": _on_ignored,
    }

    # --- pipeline events → server events ------------------------------------------------------
    def _on_event(self, e: Any) -> None:
        if self.closed:
            return
        try:
            self._translate(e)
        except Exception:
            log.exception("%s: translating %s failed", self.id, type(e).__name__)

    def _translate(self, e: Any) -> None:
        if isinstance(e, ev.UserSpeechStarted):
            self._speech_item = new_id("item")
            self._speech_start_ms = e.audio_ms
            self._send("input_audio_buffer.speech_started", audio_start_ms=int(e.audio_ms), item_id=self._speech_item)
        elif isinstance(e, ev.UserSpeechStopped):
            item_id = self._speech_item or new_id("item")
            self._speech_item = None
            self._take_uncommitted()
            self._item_audio_s[item_id] = max(0.0, e.audio_ms - self._speech_start_ms) / 1000
            self._send("input_audio_buffer.speech_stopped", audio_end_ms=int(e.audio_ms), item_id=item_id)
            self._commit_item(item_id)
            turn = self.conv.turn + 1  # the Conversation starts this turn right after the event
            self._audio_turn_items[turn] = item_id
            self._awaiting_transcript.add(turn)
            if not self.conv.o.auto_respond:
                self._held_turns.add(turn)
        elif isinstance(e, ev.UserTranscribed):
            self._settle_older(e.turn)
            self._on_transcript(e.turn, e.text)
        elif isinstance(e, ev.UserTurnDiscarded):
            self._settle_older(e.turn)
            self._on_transcript(e.turn, "")
        elif isinstance(e, ev.ReplyStarted):
            self._settle_older(e.turn)
            self._on_reply_started(e.turn)
        elif isinstance(e, ev.ReplyDelta):
            resp = self._response_for(e.turn)
            if resp is not None and not resp.audio:
                self._begin_output(resp)
                resp.text += e.text
                self._send("response.output_text.delta", **self._ids(resp), delta=e.text)
        elif isinstance(e, ev.ReplyAudio):
            self._on_reply_audio(e)
        elif isinstance(e, ev.ReplyInterrupted):
            resp = self._response_for(e.turn)
            if resp is not None:
                reason = "turn_detected" if e.reason == "speech" else "client_cancelled"
                self._finish_response(resp, "cancelled", reason)
            elif e.turn in self._awaiting_transcript:
                self._transcript_failed(e.turn, "the turn was replaced by new speech before it was transcribed")
        elif isinstance(e, ev.TurnCompleted):
            self._on_turn_completed(e.record)
        elif isinstance(e, ev.PipelineFailed):
            self._error(e.message, code="pipeline_error", type_="server_error")
            if self._response is not None:
                self._response.failed = e.message
        # StateChanged, LevelMeasured, NoticeRaised: nothing on the wire

    def _on_transcript(self, turn: int, text: str) -> None:
        item_id = self._audio_turn_items.pop(turn, None)
        if item_id is None:
            return  # a text turn: its user item was created by conversation.item.create
        self._awaiting_transcript.discard(turn)
        item = self._item_objects.get(item_id)
        if item is not None:
            item["content"] = [{"type": "input_audio", "transcript": text}]
        if text:
            self._send("conversation.item.input_audio_transcription.delta", item_id=item_id, content_index=0,
                       delta=text)
        self._send("conversation.item.input_audio_transcription.completed", item_id=item_id, content_index=0,
                   transcript=text,
                   usage={"type": "duration", "seconds": math.ceil(self._item_audio_s.pop(item_id, 0.0))})
        if text and turn in self._held_turns:
            self._pending_user_text.append(text)
        self._held_turns.discard(turn)
        asyncio.get_running_loop().call_soon(self._after_transcript)

    def _settle_older(self, turn: int) -> None:
        """Turns are handled in order: an audio turn older than ``turn`` that is still waiting for
        its transcript was dropped by the pipeline without words; close it as empty."""
        for old in sorted(t for t in self._awaiting_transcript if t < turn):
            self._on_transcript(old, "")

    def _transcript_failed(self, turn: int, message: str) -> None:
        item_id = self._audio_turn_items.pop(turn, None)
        self._awaiting_transcript.discard(turn)
        if item_id is not None:
            self._send("conversation.item.input_audio_transcription.failed", item_id=item_id, content_index=0,
                       error={"type": "transcription_error", "code": "interrupted", "message": message, "param": None})
        asyncio.get_running_loop().call_soon(self._after_transcript)

    def _after_transcript(self) -> None:
        """Runs once the Conversation has finished the transcribed turn: start a response that
        was requested while transcription ran, or a commit that waited for a busy pipeline."""
        if self.closed or self._awaiting_transcript:
            return
        resp = self._response
        if resp is not None and resp.turn is None:
            self._start_response(resp, self._requested_speaker)
        elif resp is None and self._pending_commits:
            audio, item_id = self._pending_commits.pop(0)
            self._submit_commit(audio, item_id)

    def _on_reply_started(self, turn: int) -> None:
        resp = self._response
        if resp is not None and resp.turn is None:  # a VAD turn answers the requested response
            resp.turn = turn
        if resp is None or resp.turn != turn:
            if resp is not None:
                self._finish_response(resp, "cancelled", "turn_detected")
            resp = _Response(new_id("resp"), new_id("item"), ResponseParams(), self.cfg.output_audio, turn=turn)
            self.engines.speaker = self.speaker if resp.audio else SilentSpeaker(self.speaker)
            self._response = resp
            self._send("response.created", response=self._response_object(resp, "in_progress"))
        self._turn_ids[turn] = (resp.id, resp.item_id)
        self._begin_output(resp)

    def _on_reply_audio(self, e: ev.ReplyAudio) -> None:
        resp = self._response_for(e.turn)
        if resp is None or not resp.audio:
            return
        self._begin_output(resp)
        self._audio_produced = True
        rate = self.engines.speaker.sample_rate_hz
        samples = resample(np.asarray(e.samples, dtype=np.float32), rate, WIRE_RATE_HZ)
        piece_text = e.text if not resp.transcript else " " + e.text
        resp.transcript.append(piece_text)
        resp.pieces.append(e.text)
        resp.piece_samples.append(len(samples))
        ids = self._ids(resp)
        self._send("response.output_audio_transcript.delta", **ids, delta=piece_text)
        step = WIRE_RATE_HZ * AUDIO_DELTA_MS // 1000
        for i in range(0, len(samples), step):
            chunk = float_to_pcm16(samples[i:i + step])
            self._send("response.output_audio.delta", **ids, delta=base64.b64encode(chunk).decode("ascii"))

    def _on_turn_completed(self, record: Any) -> None:
        m = self.state.metrics
        for stage, value in record.latency.as_dict().items():
            if value is not None:
                m.observe(stage, value / 1000)
        self.completed_turns += 1
        response_id, item_id = self._turn_ids.pop(record.turn, (None, None))
        # voicecli's own event (clients ignore unknown types): the pipeline's per-stage latency.
        self._send("voicecli.turn.latency", response_id=response_id, item_id=item_id, turn=record.turn,
                   interrupted=record.interrupted, latency_ms=record.latency.as_dict())
        heard = self._pending_truncations.pop(record.turn, None)
        if heard is not None:
            self.conv.truncate_history(record.turn, heard)
        resp = self._response_for(record.turn)
        if resp is not None:
            self._finish_response(resp, "failed" if resp.failed else "completed", None)
        elif self._pending_commits and not self._awaiting_transcript:
            asyncio.get_running_loop().call_soon(self._after_transcript)

    def _response_for(self, turn: int) -> _Response | None:
        resp = self._response
        return resp if resp is not None and resp.turn == turn else None

    # --- response lifecycle ---------------------------------------------------------------
    def _ids(self, resp: _Response) -> dict[str, Any]:
        return {"response_id": resp.id, "item_id": resp.item_id, "output_index": 0, "content_index": 0}

    def _assistant_item(self, resp: _Response, status: str) -> dict[str, Any]:
        if resp.audio:
            part = {"type": content_type("output_audio", self.dialect), "transcript": "".join(resp.transcript)}
        else:
            part = {"type": content_type("output_text", self.dialect), "text": resp.text}
        item = self._message(resp.item_id, "assistant", [part])
        item["status"] = status
        return item

    def _response_object(self, resp: _Response, status: str, reason: str | None = None,
                         output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        details: dict[str, Any] | None = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": reason}
        elif status == "failed":
            details = {"type": "failed", "error": {"type": "server_error", "code": "pipeline_error",
                                                   "message": resp.failed}}
        obj: dict[str, Any] = {"id": resp.id, "object": "realtime.response", "status": status,
                               "status_details": details, "output": output or [],
                               "conversation_id": self.id, "metadata": None,
                               "usage": self._usage(resp) if status != "in_progress" else None}
        if self.dialect == BETA:
            obj["modalities"] = ["text", "audio"] if resp.audio else ["text"]
        else:
            obj["output_modalities"] = ["audio"] if resp.audio else ["text"]
        return obj

    def _usage(self, resp: _Response) -> dict[str, Any]:
        out_tokens = max(1, len("".join(resp.transcript) or resp.text) // 4)
        return {"total_tokens": out_tokens, "input_tokens": 0, "output_tokens": out_tokens,
                "input_token_details": {"text_tokens": 0, "audio_tokens": 0, "cached_tokens": 0},
                "output_token_details": {"text_tokens": out_tokens, "audio_tokens": 0}}

    def _begin_output(self, resp: _Response) -> None:
        if resp.output_started:
            return
        resp.output_started = True
        item = self._assistant_item(resp, "in_progress")
        self._send("response.output_item.added", response_id=resp.id, output_index=0, item=item)
        self._add_item(resp.item_id, item)
        part = ({"type": "audio", "transcript": ""} if resp.audio else {"type": "text", "text": ""})
        self._send("response.content_part.added", **self._ids(resp), part=part)

    def _finish_response(self, resp: _Response, status: str, reason: str | None) -> None:
        if self._response is not resp:
            return
        self._response = None
        output: list[dict[str, Any]] = []
        if resp.output_started:
            ids = self._ids(resp)
            transcript = "".join(resp.transcript)
            if resp.audio:
                self._send("response.output_audio.done", **ids)
                self._send("response.output_audio_transcript.done", **ids, transcript=transcript)
                part = {"type": "audio", "transcript": transcript}
            else:
                self._send("response.output_text.done", **ids, text=resp.text)
                part = {"type": "text", "text": resp.text}
            self._send("response.content_part.done", **ids, part=part)
            item = self._assistant_item(resp, "completed" if status == "completed" else "incomplete")
            self._item_objects[resp.item_id] = item
            self._send("response.output_item.done", response_id=resp.id, output_index=0, item=item)
            if self.dialect == GA:
                self._send("conversation.item.done", item=item, previous_item_id=self._previous(resp.item_id))
            output = [item]
            if resp.audio and resp.turn is not None:
                self._assistant_items[resp.item_id] = _AssistantItem(resp.turn, resp.pieces, resp.piece_samples,
                                                                     transcript, item)
        self._send("response.done", response=self._response_object(resp, status, reason, output))
        self.engines.speaker = self._default_speaker()
        if self._pending_commits and not self._awaiting_transcript:
            asyncio.get_running_loop().call_soon(self._after_transcript)

    # --- items ------------------------------------------------------------------------------
    def _message(self, item_id: str, role: str, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
                "role": role, "content": content}

    def _previous(self, item_id: str) -> str | None:
        i = self._items.index(item_id) if item_id in self._items else len(self._items)
        return self._items[i - 1] if i > 0 else None

    def _add_item(self, item_id: str, item: dict[str, Any]) -> None:
        self._items.append(item_id)
        self._item_objects[item_id] = item
        prev = self._previous(item_id)
        self._send("conversation.item.added", item=item, previous_item_id=prev)
        if self.dialect == GA and item.get("status") == "completed":
            self._send("conversation.item.done", item=item, previous_item_id=prev)

    def _commit_item(self, item_id: str) -> None:
        prev = self._items[-1] if self._items else None
        self._send("input_audio_buffer.committed", item_id=item_id, previous_item_id=prev)
        self._add_item(item_id, self._message(item_id, "user", [{"type": "input_audio", "transcript": None}]))

    # --- output -------------------------------------------------------------------------------
    def _send(self, ga_type: str, **fields: Any) -> None:
        if self.closed and ga_type != "error":
            return
        event = {"type": event_name(ga_type, self.dialect), "event_id": new_id("event"), **fields}
        if not self.out.put(json.dumps(event, ensure_ascii=False)):
            self._finish(1008, "client too slow: too many unsent events")

    def _error(self, message: str, param: str | None = None, code: str | None = None,
               event_id: str | None = None, type_: str = "invalid_request_error") -> None:
        self.state.metrics.ws_error(code or "error")
        self._send("error", error={"type": type_, "code": code, "message": message, "param": param,
                                   "event_id": event_id})


async def realtime_endpoint(websocket: WebSocket) -> None:
    """Accept (or refuse) the WebSocket, then run one session until the client leaves."""
    state: ServerState = websocket.app.state.voicecli
    if not state.slots.try_acquire():
        state.metrics.session_rejected()
        body = {"error": {"message": f"too many realtime sessions (limit {state.slots.max_sessions}); try again later",
                          "type": "server_error", "param": None, "code": "session_limit_reached"}}
        if "websocket.http.response" in (websocket.scope.get("extensions") or {}):
            await websocket.send_denial_response(JSONResponse(body, status_code=503))
        else:
            await websocket.accept()
            await websocket.send_text(json.dumps({"type": "error", "event_id": new_id("event"), **body}))
            await websocket.close(1013, "too many sessions")
        return
    state.metrics.session_opened()
    try:
        offered = websocket.scope.get("subprotocols") or []
        subprotocol = "realtime" if "realtime" in offered else None
        if subprotocol is None and any(p.startswith(INSECURE_KEY_PROTOCOL) for p in offered):
            subprotocol = next(p for p in offered if p.startswith(INSECURE_KEY_PROTOCOL))
        await websocket.accept(subprotocol=subprotocol)
        beta = "realtime=v1" in websocket.headers.get("openai-beta", "").replace(" ", "")
        model = websocket.query_params.get("model") or state.config.model_id
        session = RealtimeSession(websocket, state, BETA if beta else GA, model[:200])
        await session.run()
    finally:
        state.slots.release()
        state.metrics.session_closed()
