"""One OpenAI Realtime session on one connection (a WebSocket or a WebRTC call, :mod:`.transport`), on top of one
:class:`~voicecli.pipeline.conversation.Conversation` (PushSource in, InstantOutput out). The
session reads client events (rate-limited, :mod:`.rate_limit`) and dispatches them
(:mod:`.client_events`), hands pipeline events to :mod:`.pipeline_events`, and runs the session's
lifetime: writer, idle watchdog, and the close — 1008 for a client that floods or stops reading,
with one log line saying which."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import replace

from voicecli.audio.io import InstantOutput, PushSource
from voicecli.llm.types import ChatMessage
from voicecli.pipeline.conversation import ConversationOptions
from voicecli.pipeline.options import conversation_options as pipeline_options
from voicecli.pipeline.options import smart_turn_model_path
from voicecli.pipeline.session import SMART_TURN_MISSING, build_conversation, load_turn_model
from voicecli.server.realtime.client_events import ClientEvents
from voicecli.server.realtime.context_budget import PromptBudget, SystemPrompt
from voicecli.server.realtime.input_buffer import InputBuffer
from voicecli.server.realtime.items import FunctionCallOutputItem, InputText, Item, ItemStore, MessageItem
from voicecli.server.realtime.options import conversation_options, initial_config
from voicecli.server.realtime.outbox import EventSender, Outbox
from voicecli.server.realtime.pipeline_events import PipelineEvents
from voicecli.server.realtime.protocol import (
    BETA,
    ClientEventError,
    Dialect,
    ResponseParams,
    SessionKind,
    new_id,
    render_session,
)
from voicecli.server.realtime.rate_limit import ClientRateLimit, RateLimits
from voicecli.server.realtime.responses import Response, Responses
from voicecli.server.realtime.session_voice import SessionVoice
from voicecli.server.realtime.transport import Transport
from voicecli.server.realtime.turns import UserTurns
from voicecli.server.state import NORMAL, URGENT, ServerState, SessionExecutor
from voicecli.tts.types import Synthesizer
from voicecli.vad.turn import params_for_eagerness

log = logging.getLogger("voicecli.server.realtime")

PLACEHOLDER_PROMPT = "Continue."
"""User text for a response.create with no new user input (the LLM needs a user turn)."""
CLOSE_TIMEOUT_S = 2
"""How long the events already queued may take to go out before the close frame."""
SLOW_CLIENT_CLOSE_TIMEOUT_S = 10
"""How long a client that stopped reading has to read up to the close frame before it is abandoned."""
PIPELINE_STOP_TIMEOUT_S = 5
TOO_SLOW = "client too slow: too many unsent events"
TOO_FAST = "client sends events too fast"


class RealtimeSession:
    def __init__(self, transport: Transport, state: ServerState, dialect: Dialect, model: str,
                 latency_events: bool = False, kind: SessionKind = "realtime") -> None:
        self.transport = transport
        self.state = state
        self.limits = state.config.limits
        self.id = new_id("sess")
        self.peer = transport.peer
        self.dialect_locked = dialect == BETA
        """A GA client's first session.update may still turn out to speak beta."""
        settings = state.engines.settings
        self.cfg = replace(initial_config(settings, model, kind), latency_events=latency_events)
        # semantic_vad needs the turn model whatever the server's own vad.turn_detector says
        self.base_options = replace(pipeline_options(settings), smart_turn_model=smart_turn_model_path(settings))
        self.prompt = PromptBudget(self.base_options.history_tokens, state.engines.chat.count_tokens)
        self.extra_system: list[str] = []
        """System messages the client added as items."""
        self.sender = EventSender(Outbox(transport, self.limits.max_outbound_bytes), dialect, state.metrics,
                                  self._client_too_slow)
        lim = self.limits
        self.rate = ClientRateLimit(RateLimits(lim.realtime_events_per_s, lim.realtime_event_burst,
                                               lim.realtime_bytes_per_s, lim.realtime_byte_burst), time.monotonic())
        self._done = asyncio.Event()
        self._close_code = 1000
        self._close_reason = ""
        self.last_activity = time.monotonic()
        self.voice = SessionVoice(state)
        self.source = PushSource()
        self.pipeline_events = PipelineEvents(self)
        self.turn_model_missing: str | None = None
        """Why semantic_vad falls back to silence here (the turn model is missing), if it does."""
        turn_model = load_turn_model(replace(self.base_options, semantic_turn=params_for_eagerness("auto")),
                                     self._no_turn_model)  # loaded once per process, shared
        self.conv = build_conversation(state.engines, source=lambda _: self.source, output=InstantOutput,
                                       emit=self.pipeline_events.on_event, options=self.options(),
                                       voice=self.voice.speaker, turn_model=turn_model)
        self.voice.attach(self.conv.use_speaker)
        self.conv.use_language_voices(state.language_voices)
        self.player = self.conv.player
        self.conv.use_executors(stt=SessionExecutor(state.stt_pool), llm=SessionExecutor(state.llm_pool),
                                tts=SessionExecutor(state.tts_pool, self._tts_priority))
        self.buffer = InputBuffer(self.limits.max_buffered_audio_s)
        self.items = ItemStore(self.sender)
        self.responses = Responses(self.sender, self.items, self.id, self._response_done,
                                   max_spoken=self.limits.max_items, audio_out=transport.audio_out)
        self.turns = UserTurns(self.sender, self.items, self.conv, self.after_transcript)
        self.client_events = ClientEvents(self)
        self._requested_speaker: Synthesizer | None = None
        self._cut: tuple[str, int] | None = None
        """WebRTC: the reply item the player cut off while its response ran, and the ms heard."""

    def _no_turn_model(self, why: str) -> None:
        missing = why == SMART_TURN_MISSING
        self.turn_model_missing = "Smart Turn is not installed (make install adds it)" if missing else why

    @property
    def closed(self) -> bool:
        return self.sender.closed

    # --- lifecycle ------------------------------------------------------------------------
    async def run(self) -> None:
        conv_task = asyncio.create_task(self.conv.run(), name=f"{self.id}-conversation")
        conv_task.add_done_callback(self._conversation_ended)
        await asyncio.sleep(0)  # let run() start the source before any audio is pushed
        writer = asyncio.create_task(self._write_loop(), name=f"{self.id}-writer")
        tasks = [asyncio.create_task(self._read_loop(), name=f"{self.id}-reader"),
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
            await self._close(writer)

    async def _close(self, writer: asyncio.Task[None]) -> None:
        """Send what is queued (an error event explaining the close, say), then the close frame.
        For a client that stopped reading, drop the queue: the close frame goes out as soon as it
        reads what the socket already holds, or the session gives up on it."""
        outbox = self.sender.outbox
        timeout_s: float = CLOSE_TIMEOUT_S
        if outbox.overflowed:
            writer.cancel()
            timeout_s = SLOW_CLIENT_CLOSE_TIMEOUT_S
        else:
            outbox.finish()
            try:
                await asyncio.wait_for(asyncio.shield(writer), timeout=CLOSE_TIMEOUT_S)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - client gone or not reading
                writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        try:
            await asyncio.wait_for(self.transport.close(self._close_code, self._close_reason[:120]), timeout=timeout_s)
        except Exception:  # noqa: BLE001 - the client may already be gone
            if outbox.overflowed:
                log.warning("%s: client %s never read up to the close frame; abandoned", self.id, self.peer)

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

    def _client_too_slow(self) -> None:
        """The outbox overflowed: the client stopped reading."""
        if not self._done.is_set():
            log.warning("%s: client %s is not reading (%d bytes of events unsent); closing the session with 1008",
                        self.id, self.peer, self.sender.outbox.queued_bytes)
        self._finish(1008, TOO_SLOW)

    def _client_too_fast(self) -> None:
        r = self.rate
        log.warning("%s: client %s is sending events too fast (%d events, %d bytes in %.1f s); "
                    "closing the session with 1008", self.id, self.peer, r.events, r.bytes,
                    time.monotonic() - r.started_s)
        self.sender.error(f"{TOO_FAST}: at most {self.limits.realtime_events_per_s:.0f} events and "
                          f"{self.limits.realtime_bytes_per_s / 1e6:.1f} MB per second; closing",
                          code="rate_limit_exceeded")
        self._finish(1008, TOO_FAST)

    async def _write_loop(self) -> None:
        try:
            await self.sender.outbox.run()
        except Exception:  # noqa: BLE001 - client gone
            self._finish(1001)

    async def _watchdog(self) -> None:
        timeout_s = self.limits.idle_timeout_s
        while True:
            await asyncio.sleep(min(1.0, timeout_s / 4))
            idle = time.monotonic() - self.last_activity
            if idle > timeout_s and self.responses.active is None and not self.busy():
                self.sender.error(f"session idle for {timeout_s:.0f} s; closing", code="session_idle_timeout")
                self._finish(1000, "idle timeout")
                return

    async def _read_loop(self) -> None:
        while True:
            raw = await self.transport.receive()
            if raw is None:
                self._finish(1001)
                return
            now = time.monotonic()
            if not self.rate.allow(len(raw), now):
                self._client_too_fast()  # no JSON work for a flood: the session ends here
                return
            self.last_activity = now
            await self._handle_raw(raw)
            await asyncio.sleep(0)  # a busy client must not starve other sessions and routes

    # --- client events ----------------------------------------------------------------------
    async def _handle_raw(self, raw: str | bytes) -> None:
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
    def system(self, instructions: str | None = None) -> SystemPrompt:
        """The system prompt (these instructions or the session's, then the system items), cut to
        the LLM's budget."""
        return self.prompt.system(self.cfg.instructions if instructions is None else instructions, self.extra_system)

    def options(self, params: ResponseParams | None = None) -> ConversationOptions:
        td = self.cfg.turn_detection
        if self.turn_model_missing and td is not None and td.type == "semantic_vad":
            log.warning("%s: semantic_vad ends turns after silence alone: %s", self.id, self.turn_model_missing)
            self.turn_model_missing = None  # said once
        system = self.system()
        return conversation_options(self.base_options, replace(self.cfg, instructions=system.instructions),
                                    self.limits.max_tokens, system.items, params)

    def busy(self) -> bool:
        """A response runs or a transcription is pending: new audio turns wait."""
        return self.responses.active is not None or bool(self.turns.awaiting)

    def forget(self, item: Item) -> None:
        """A deleted item no longer reaches the LLM: not as a system message, nor as input to the
        next response, nor as a spoken reply to truncate."""
        if isinstance(item, FunctionCallOutputItem):
            self.turns.forget_tool_output(item.id)
        elif isinstance(item, MessageItem):
            for part in item.content:
                if isinstance(part, InputText) and item.role == "system" and part.text in self.extra_system:
                    self.extra_system.remove(part.text)
                    self.conv.reconfigure(self.options())
                elif isinstance(part, InputText):
                    self.turns.forget_text(part.text)
        self.responses.forget(item.id)

    def request_response(self, resp: Response, speaker: Synthesizer) -> None:
        """Start ``resp`` now, or once the pending transcriptions are in (they are its input)."""
        if not self.turns.awaiting:
            self._start_response(resp, speaker)
        else:  # started by after_transcript once the pending transcription arrives
            self._requested_speaker = speaker

    def _start_response(self, resp: Response, speaker: Synthesizer | None = None) -> None:
        """Start ``resp`` on the user input since the last response. Results of the calls the
        last reply ended with go into the history after those calls; a response with nothing
        else new goes on from them (no user message). A result for another call is user text."""
        if resp.params.out_of_band:
            self._start_out_of_band(resp, speaker)
            return
        instructions = resp.params.instructions
        system = self.system(instructions)
        answered = False
        unmatched = []
        for call_id, output in self.turns.take_tool_outputs():
            if self.conv.add_tool_result(call_id, output):
                answered = True
            else:
                unmatched.append(f"(tool result) {output}")
        text = self.prompt.user(self.turns.take_pieces() + unmatched, system.tokens)
        self.voice.speak(resp.audio, speaker)
        self.conv.reconfigure(self.options(resp.params))
        resp.turn = self.conv.reply_to(text or (None if answered else PLACEHOLDER_PROMPT),
                                       system_prompt=None if instructions is None else system.text)

    def _start_out_of_band(self, resp: Response, speaker: Synthesizer | None) -> None:
        """A ``conversation: "none"`` response: the pending input and tool results stay for the
        next in-band response; its own ``input`` (if given) replaces the history as context, its
        last user message being what it answers; its reply is not recorded."""
        params = resp.params
        context: tuple[ChatMessage, ...] | None = None
        extra = list(self.extra_system)
        text = PLACEHOLDER_PROMPT
        if params.input is not None:
            extra += [m.content for m in params.input if m.role == "system" and m.content]
            messages = [m for m in params.input if m.role != "system"]
            if messages and messages[-1].role == "user" and messages[-1].content.strip():
                text = messages.pop().content
            context = tuple(messages)
        system = self.prompt.system(self.cfg.instructions if params.instructions is None else params.instructions,
                                    extra)
        self.voice.speak(resp.audio, speaker)
        self.conv.reconfigure(self.options(params))
        text = self.prompt.user([text], system.tokens) or PLACEHOLDER_PROMPT
        resp.turn = self.conv.reply_to(text, system_prompt=system.text, out_of_band=True, context=context)

    def after_transcript(self) -> None:
        """Runs once the Conversation has finished the transcribed turn: start a response that
        was requested while transcription ran, or a commit that waited for a busy pipeline."""
        if self.closed or self.turns.awaiting:
            return
        if self.cfg.kind == "transcription":
            self._transcribed_only()
        resp = self.responses.active
        if resp is not None and resp.turn is None:
            self._start_response(resp, self._requested_speaker)
        elif resp is None and self.turns.has_queued():
            self.turns.submit_queued()

    def _transcribed_only(self) -> None:
        """A transcription session answers nothing: its transcripts wait for no response, and its
        oldest items go once it holds the most items a session may (it may run for hours)."""
        self.turns.take_pieces()
        while len(self.items) > self.limits.max_items and (oldest := self.items.first_id()) is not None:
            self.forget(self.items.delete(oldest))

    def stop_playback(self) -> None:
        """WebRTC: the server's player stops (barge-in, ``output_audio_buffer.clear``) and the
        item it cut off keeps only what was heard (once its response is over, if it still runs)."""
        out = self.transport.audio_out
        cut = out.clear() if out is not None else None
        if cut is None:
            return
        if self.responses.spoken(cut[0]) is None:
            self._cut = cut
        else:
            self.client_events.truncate_spoken(*cut, played=True)

    def _response_done(self) -> None:
        if self._cut is not None:
            cut, self._cut = self._cut, None
            self.client_events.truncate_spoken(*cut, played=True)
        self.voice.speak(self.cfg.output_audio)
        self.conv.reconfigure(self.options())  # a response's overrides (tools, length) end with it
        if self.turns.has_queued() and not self.turns.awaiting:
            asyncio.get_running_loop().call_soon(self.after_transcript)
