"""One OpenAI Realtime session on one WebSocket, on top of one
:class:`~voicecli.pipeline.conversation.Conversation` (PushSource in, InstantOutput out). The
session reads client events and dispatches them (:mod:`.client_events`), translates pipeline
events into server events, and runs the session's lifetime: writer, idle watchdog, close."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from voicecli.audio.io import InstantOutput, PushSource
from voicecli.pipeline import events as ev
from voicecli.pipeline.conversation import ConversationOptions
from voicecli.pipeline.options import conversation_options as pipeline_options
from voicecli.pipeline.session import build_conversation
from voicecli.server.realtime.client_events import ClientEvents
from voicecli.server.realtime.input_buffer import InputBuffer
from voicecli.server.realtime.items import ItemStore
from voicecli.server.realtime.options import conversation_options, initial_config, system_prompt
from voicecli.server.realtime.outbox import EventSender, Outbox
from voicecli.server.realtime.protocol import BETA, ClientEventError, Dialect, ResponseParams, new_id, render_session
from voicecli.server.realtime.responses import Response, Responses
from voicecli.server.realtime.session_voice import SessionVoice
from voicecli.server.realtime.turns import UserTurns
from voicecli.server.state import NORMAL, URGENT, ServerState, SessionExecutor
from voicecli.tts.types import Synthesizer

log = logging.getLogger("voicecli.server.realtime")

PLACEHOLDER_PROMPT = "Continue."
"""User text for a response.create with no new user input (the LLM needs a user turn)."""
CLOSE_TIMEOUT_S = 2
PIPELINE_STOP_TIMEOUT_S = 5


class RealtimeSession:
    def __init__(self, ws: WebSocket, state: ServerState, dialect: Dialect, model: str) -> None:
        self.ws = ws
        self.state = state
        self.limits = state.config.limits
        self.id = new_id("sess")
        self.dialect_locked = dialect == BETA
        """A GA client's first session.update may still turn out to speak beta."""
        settings = state.engines.settings
        self.cfg = initial_config(settings, model)
        self.base_options = pipeline_options(settings)
        self.extra_system: list[str] = []
        """System messages the client added as items."""
        self.sender = EventSender(Outbox(ws, self.limits.max_outbound_bytes), dialect, state.metrics,
                                  lambda: self._finish(1008, "client too slow: too many unsent events"))
        self._done = asyncio.Event()
        self._close_code = 1000
        self._close_reason = ""
        self.last_activity = time.monotonic()
        self.voice = SessionVoice(state)
        self.source = PushSource()
        self.conv = build_conversation(state.engines, source=lambda _: self.source, output=InstantOutput,
                                       emit=self._on_event, options=self.options(), voice=self.voice.speaker)
        self.voice.attach(self.conv.use_speaker)
        self.player = self.conv.player
        self.conv.use_executors(stt=SessionExecutor(state.stt_pool), llm=SessionExecutor(state.llm_pool),
                                tts=SessionExecutor(state.tts_pool, self._tts_priority))
        self.buffer = InputBuffer(self.limits.max_buffered_audio_s)
        self.items = ItemStore(self.sender)
        self.responses = Responses(self.sender, self.items, self.id, self._response_done)
        self.turns = UserTurns(self.sender, self.items, self.conv, self._after_transcript)
        self.client_events = ClientEvents(self)
        self._requested_speaker: Synthesizer | None = None
        self.completed_turns = 0

    @property
    def closed(self) -> bool:
        return self.sender.closed

    # --- lifecycle ------------------------------------------------------------------------
    async def run(self) -> None:
        conv_task = asyncio.create_task(self.conv.run(), name=f"{self.id}-conversation")
        conv_task.add_done_callback(self._conversation_ended)
        await asyncio.sleep(0)  # let run() start the source before any audio is pushed
        tasks = [asyncio.create_task(self._read_loop(), name=f"{self.id}-reader"),
                 asyncio.create_task(self._write_loop(), name=f"{self.id}-writer"),
                 asyncio.create_task(self._watchdog(), name=f"{self.id}-watchdog")]
        self.sender.send("session.created", session=render_session(self.cfg, self.id, self.sender.dialect))
        try:
            await self._done.wait()
        finally:
            self.sender.closed = True
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.conv.cancel_reply("disconnect")
            self.source.end()
            try:
                await asyncio.wait_for(asyncio.shield(conv_task), timeout=PIPELINE_STOP_TIMEOUT_S)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - the session is over either way
                conv_task.cancel()
            try:
                await asyncio.wait_for(self.ws.close(self._close_code, self._close_reason[:120]),
                                       timeout=CLOSE_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - the client may already be gone
                pass

    def _tts_priority(self) -> int:
        """The first sentence of a reply is urgent (someone waits in silence); later ones are not.
        Called on the event loop when the pipeline submits TTS work."""
        resp = self.responses.active
        return URGENT if resp is None or not resp.pieces else NORMAL

    def _conversation_ended(self, task: asyncio.Task[None]) -> None:
        if not self.closed:
            exc = None if task.cancelled() else task.exception()
            log.error("%s: the pipeline stopped: %r", self.id, exc)
            self.sender.error(f"the voice pipeline stopped: {exc}", code="pipeline_error", type_="server_error")
            self._finish(1011, "pipeline stopped")

    def _finish(self, code: int = 1000, reason: str = "") -> None:
        if not self._done.is_set():
            self._close_code, self._close_reason = code, reason
            self._done.set()

    async def _write_loop(self) -> None:
        try:
            await self.sender.outbox.run()
        except Exception:  # noqa: BLE001 - client gone
            self._finish(1001)
            return
        if self.sender.outbox.overflowed:
            log.warning("%s: client is not reading; closing the session", self.id)
            self._finish(1008, "client too slow: too many unsent events")

    async def _watchdog(self) -> None:
        timeout_s = self.limits.idle_timeout_s
        while True:
            await asyncio.sleep(min(1.0, timeout_s / 4))
            idle = time.monotonic() - self.last_activity
            if idle > timeout_s and self.responses.active is None and not self.busy():
                self.sender.error(f"session idle for {timeout_s:.0f} s; closing", code="session_idle_timeout")
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

    # --- client events ----------------------------------------------------------------------
    async def _handle_raw(self, raw: str | bytes | None) -> None:
        if raw is None:
            return
        error = self.sender.error
        if len(raw) > self.limits.max_ws_message_bytes:
            error(f"event is larger than {self.limits.max_ws_message_bytes} bytes", code="message_too_large")
            return
        try:
            event = json.loads(raw)
        except (ValueError, RecursionError, UnicodeDecodeError) as exc:
            error(f"invalid JSON: {str(exc)[:200]}", code="invalid_json")
            return
        if not isinstance(event, dict):
            error("an event must be a JSON object", code="invalid_event")
            return
        client_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        kind = event.get("type")
        if not isinstance(kind, str):
            error("the event has no 'type' string", param="type", code="invalid_event", event_id=client_id)
            return
        if not self.client_events.handles(kind):
            error(f"unknown event type {kind[:100]!r}", param="type", code="unknown_event_type", event_id=client_id)
            return
        try:
            await self.client_events.handle(kind, event)
        except ClientEventError as exc:
            error(exc.message, param=exc.param, code=exc.code, event_id=client_id)
        except Exception as exc:
            log.exception("%s: handling %s failed", self.id, kind)
            error(f"internal error handling {kind}: {type(exc).__name__}", code="server_error",
                  event_id=client_id, type_="server_error")

    # --- what client events and pipeline events share --------------------------------------
    def options(self, params: ResponseParams | None = None) -> ConversationOptions:
        return conversation_options(self.base_options, self.cfg, self.limits.max_tokens, self.extra_system, params)

    def busy(self) -> bool:
        """A response runs or a transcription is pending: new audio turns wait."""
        return self.responses.active is not None or bool(self.turns.awaiting)

    def request_response(self, resp: Response, speaker: Synthesizer) -> None:
        """Start ``resp`` now, or once the pending transcriptions are in (they are its input)."""
        if not self.turns.awaiting:
            self._start_response(resp, speaker)
        else:  # started by _after_transcript once the pending transcription arrives
            self._requested_speaker = speaker

    def _start_response(self, resp: Response, speaker: Synthesizer | None = None) -> None:
        text = self.turns.take_text() or PLACEHOLDER_PROMPT
        self.voice.speak(resp.audio, speaker)
        self.conv.reconfigure(self.options(resp.params))
        system = None
        if resp.params.instructions is not None:
            system = system_prompt(resp.params.instructions, self.extra_system)
        resp.turn = self.conv.reply_to(text, system_prompt=system)

    def _after_transcript(self) -> None:
        """Runs once the Conversation has finished the transcribed turn: start a response that
        was requested while transcription ran, or a commit that waited for a busy pipeline."""
        if self.closed or self.turns.awaiting:
            return
        resp = self.responses.active
        if resp is not None and resp.turn is None:
            self._start_response(resp, self._requested_speaker)
        elif resp is None and self.turns.has_queued():
            self.turns.submit_queued()

    def _response_done(self) -> None:
        self.voice.speak(self.cfg.output_audio)
        if self.turns.has_queued() and not self.turns.awaiting:
            asyncio.get_running_loop().call_soon(self._after_transcript)

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
            self.turns.speech_started(e.audio_ms)
        elif isinstance(e, ev.UserSpeechStopped):
            self.buffer.take()
            self.turns.speech_stopped(e.audio_ms)
        elif isinstance(e, ev.UserTranscribed):
            self.turns.transcribed(e.turn, e.text)
        elif isinstance(e, ev.UserTurnDiscarded):
            self.turns.transcribed(e.turn, "")
        elif isinstance(e, ev.ReplyStarted):
            self.turns.settle_older(e.turn)
            self._on_reply_started(e.turn)
        elif isinstance(e, ev.ReplyDelta):
            self.responses.text_delta(e.turn, e.text)
        elif isinstance(e, ev.ReplyAudio):
            if self.responses.audio(e.turn, e.text, e.samples, e.sample_rate_hz):
                self.voice.audio_produced = True
        elif isinstance(e, ev.ReplyInterrupted):
            resp = self.responses.for_turn(e.turn)
            if resp is not None:
                reason = "turn_detected" if e.reason == "speech" else "client_cancelled"
                self.responses.finish(resp, "cancelled", reason)
            elif e.turn in self.turns.awaiting:
                self.turns.failed(e.turn, "the turn was replaced by new speech before it was transcribed")
        elif isinstance(e, ev.TurnCompleted):
            self._on_turn_completed(e.record)
        elif isinstance(e, ev.PipelineFailed):
            self.sender.error(e.message, code="pipeline_error", type_="server_error")
            if self.responses.active is not None:
                self.responses.active.failed = e.message
        # StateChanged, LevelMeasured, NoticeRaised: nothing on the wire

    def _on_reply_started(self, turn: int) -> None:
        resp = self.responses.active
        if resp is not None and resp.turn is None:  # a VAD turn answers the requested response
            resp.turn = turn
        if resp is None or resp.turn != turn:
            if resp is not None:
                self.responses.finish(resp, "cancelled", "turn_detected")
            self.voice.speak(self.cfg.output_audio)
            resp = self.responses.create(ResponseParams(), self.cfg.output_audio, turn=turn)
        self.responses.started(resp, turn)

    def _on_turn_completed(self, record: ev.TurnRecord) -> None:
        for stage, value in record.latency.as_dict().items():
            if value is not None:
                self.state.metrics.observe(stage, value / 1000)
        self.completed_turns += 1
        response_id, item_id = self.responses.pop_turn_ids(record.turn)
        # voicecli's own event (clients ignore unknown types): the pipeline's per-stage latency.
        self.sender.send("voicecli.turn.latency", response_id=response_id, item_id=item_id, turn=record.turn,
                         interrupted=record.interrupted, latency_ms=record.latency.as_dict())
        heard = self.responses.pop_truncation(record.turn)
        if heard is not None:
            self.conv.truncate_history(record.turn, heard)
        resp = self.responses.for_turn(record.turn)
        if resp is not None:
            self.responses.finish(resp, "failed" if resp.failed else "completed", None)
        elif self.turns.has_queued() and not self.turns.awaiting:
            asyncio.get_running_loop().call_soon(self._after_transcript)
