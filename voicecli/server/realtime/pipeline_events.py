"""Pipeline events → server events: what the session's Conversation reports (speech started and
stopped, transcripts, reply text and audio, interruptions, finished turns, failures) becomes the
realtime events of the input side (:mod:`.turns`) and of the response lifecycle (:mod:`.responses`)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from voicecli.pipeline import events as ev
from voicecli.server.realtime.protocol import ResponseParams

if TYPE_CHECKING:
    from voicecli.server.realtime.session import RealtimeSession

log = logging.getLogger("voicecli.server.realtime")

LATENCY_EVENT = "voicecli.turn.latency"
"""voicecli's own per-turn event (the pipeline's stage latencies), sent only to clients that ask
for it: strict clients (the openai-agents SDK) report unknown server events as errors."""


class PipelineEvents:
    def __init__(self, session: RealtimeSession) -> None:
        self.s = session
        self.completed_turns = 0

    def on_event(self, e: ev.Event) -> None:
        """The Conversation's ``emit``: runs on the event loop."""
        if self.s.closed:
            return
        try:
            self._translate(e)
        except Exception:
            log.exception("%s: translating %s failed", self.s.id, type(e).__name__)

    def _translate(self, e: ev.Event) -> None:
        s = self.s
        if isinstance(e, ev.UserSpeechStarted):
            s.turns.speech_started(e.audio_ms)
            td = s.cfg.turn_detection
            if td is not None and td.interrupt_response:
                s.stop_playback()
        elif isinstance(e, ev.UserSpeechStopped):
            s.buffer.take()
            s.turns.speech_stopped(e.audio_ms)
        elif isinstance(e, ev.UserPartialTranscript):
            s.turns.partial(e.started_ms, e.stable)
        elif isinstance(e, ev.UserTranscribed):
            s.turns.transcribed(e.turn, e.text)
        elif isinstance(e, ev.UserTurnDiscarded):
            s.turns.transcribed(e.turn, "")
        elif isinstance(e, ev.ReplyStarted):
            s.turns.settle_older(e.turn)
            self._reply_started(e.turn)
        elif isinstance(e, ev.ReplyDelta):
            s.responses.text_delta(e.turn, e.text)
        elif isinstance(e, ev.ReplyAudio):
            if s.responses.audio(e.turn, e.text, e.samples, e.sample_rate_hz):
                s.voice.audio_produced = True
        elif isinstance(e, ev.ReplyInterrupted):
            resp = s.responses.for_turn(e.turn)
            if resp is not None:
                reason = "turn_detected" if e.reason == "speech" else "client_cancelled"
                s.responses.finish(resp, "cancelled", reason)
            elif e.turn in s.turns.awaiting:
                s.turns.failed(e.turn, "the turn was replaced by new speech before it was transcribed")
        elif isinstance(e, ev.ToolCalled):
            s.responses.function_call(e.turn, e.call)
        elif isinstance(e, ev.TurnCompleted):
            self._turn_completed(e.record)
        elif isinstance(e, ev.PipelineFailed):
            s.sender.error(e.message, code="pipeline_error", type_="server_error")
            if s.responses.active is not None:
                s.responses.active.failed = e.message
        # StateChanged, LevelMeasured, NoticeRaised: nothing on the wire

    def _reply_started(self, turn: int) -> None:
        s = self.s
        resp = s.responses.active
        if resp is not None and resp.turn is None:  # a VAD turn answers the requested response
            resp.turn = turn
        if resp is None or resp.turn != turn:
            if resp is not None:
                s.responses.finish(resp, "cancelled", "turn_detected")
            s.voice.speak(s.cfg.output_audio)
            resp = s.responses.create(ResponseParams(), s.cfg.output_audio, turn=turn)
        s.responses.started(resp, turn, message_now=s.conv.o.tools is None)

    def _turn_completed(self, record: ev.TurnRecord) -> None:
        s = self.s
        for stage, value in record.latency.as_dict().items():
            if value is not None:
                s.state.metrics.observe(stage, value / 1000)
        self.completed_turns += 1
        response_id, item_id = s.responses.pop_turn_ids(record.turn)
        if s.cfg.latency_events:
            s.sender.send(LATENCY_EVENT, response_id=response_id, item_id=item_id, turn=record.turn,
                          interrupted=record.interrupted, latency_ms=record.latency.as_dict(),
                          language=record.language, voice=record.voice)
        heard = s.responses.pop_truncation(record.turn)
        if heard is not None:
            s.conv.truncate_history(record.turn, heard)
        resp = s.responses.for_turn(record.turn)
        if resp is not None:
            s.responses.finish(resp, "failed" if resp.failed else "completed", None)
        elif s.turns.has_queued() and not s.turns.awaiting:
            asyncio.get_running_loop().call_soon(s.after_transcript)
