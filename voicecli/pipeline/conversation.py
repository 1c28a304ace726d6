"""The conversation: the frame loop (frames → :class:`~voicecli.pipeline.listening.Listener` →
endpoint events), turn-taking (speculative transcripts and replies, push-to-talk, typed and
adapter turns) and barge-in. Which reply is current, and when replies start, open or stop, is
decided here; each reply's own life (transcribe, speak, record) is the
:class:`~voicecli.pipeline.responding.Responder`'s. The only layer with asyncio and threads;
engines stay blocking and renderers only see events."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from voicecli.audio.format import FRAME_MS
from voicecli.audio.io import END_OF_INPUT, AudioOutput, CapturedFrame, FrameSource, PushSource, post
from voicecli.audio.playback import Player
from voicecli.errors import VoicecliError
from voicecli.llm.tools import ToolRunner
from voicecli.pipeline.adapter_controls import AdapterControls
from voicecli.pipeline.chat_context import heard_text
from voicecli.pipeline.conversation_options import ConversationOptions
from voicecli.pipeline.echo_path import EchoCanceller, EchoPath
from voicecli.pipeline.events import (
    AssistantState,
    Event,
    NoticeRaised,
    ReplyInterrupted,
    StateChanged,
    TurnRecord,
    UserPartialTranscript,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTurnDiscarded,
)
from voicecli.pipeline.going_on import GoingOn
from voicecli.pipeline.listening import Listener
from voicecli.pipeline.own_voice import ConversationHooks, TalkOverGuard
from voicecli.pipeline.partials import conversation_partials
from voicecli.pipeline.reply import Reply, ReplyPhase
from voicecli.pipeline.responding import ReplyHooks, Responder, SttFuture
from voicecli.pipeline.turn_end import TurnEndJudge
from voicecli.pipeline.waking import WakeHooks, Waking
from voicecli.vad.endpointer import (
    EndpointEvent,
    EndpointState,
    PauseCheckpointReached,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    UtteranceDiscarded,
    UtteranceEnded,
)
from voicecli.vad.turn import SemanticTurnParams, TurnModel
from voicecli.vad.wake import WakeDetector

if TYPE_CHECKING:
    from voicecli.engines import EngineSet

__all__ = ["Conversation", "ConversationOptions", "heard_text"]


class Conversation(AdapterControls):
    def __init__(self, engines: EngineSet, source: FrameSource, player: Player, output: AudioOutput,
                 emit: Callable[[Event], None], options: ConversationOptions,
                 echo_canceller: EchoCanceller | None = None,
                 on_turn: Callable[[TurnRecord], None] | None = None, turn_model: TurnModel | None = None,
                 tools: ToolRunner | None = None, wake_detector: WakeDetector | None = None) -> None:
        self.engines = engines
        self.source = source
        self.player = player
        self.output = output
        self.emit = emit
        self.o = options
        self._echo = echo = EchoPath(echo_canceller, player, output_latency_s=lambda: getattr(
            self.output, "latency_s", None)) if echo_canceller is not None else None
        self._judge = (TurnEndJudge(turn_model, lambda: self.o.semantic_turn, self._end_turn_early,
                                    lambda: (p := self._prepared) is not None and p.making_first_audio)
                       if turn_model is not None else None)
        """Semantic end of turn (None: silence alone ends turns)."""
        self._ears = Listener(engines.new_vad(), options.endpointer, echo, emit, self._semantic(options))
        self._responder = Responder(engines, player, emit, on_turn, tools)
        self.talk_over = TalkOverGuard(echo, player, ConversationHooks(
            self._interrupt, self._start_checked_turn,
            lambda audio: self._responder.transcribe(audio, self.o.stt), self._call, emit, self._listening))
        self._partials = conversation_partials(self._responder, self._ears, lambda: self.o, self._heard_so_far)
        self._hooks = ReplyHooks(lambda: self.o, self._show, self._set_state, self._reply_ended)
        self._wake = Waking(options.wake, wake_detector, WakeHooks(  # talk --wake-word (else always awake)
            lambda audio: self._responder.transcribe(audio, self.o.stt), self._call, lambda text, eos, started:
            self._start_turn(None, eos, time.monotonic(), None, text=text, started_at=started), emit), player)
        self._turn = 0
        self._reply: Reply | None = None
        """The reply of the current turn (ACTIVE), if any."""
        self._prepared: Reply | None = None
        """A speculative reply waiting behind its gate for the endpointer (PREPARED)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._speculative: dict[int, SttFuture] = {}
        """Speculative transcripts of the current utterance, by the last voiced frame before the pause."""
        self._onset_at = 0.0
        self._onset_frame = 0
        """The first voiced frame of the latest utterance (endpointer numbering)."""
        """Capture time (monotonic) of the current utterance's first voiced frame."""
        self._going_on = GoingOn()
        """Speech soon after a turn's end that cuts its reply continues that turn."""
        self._state: AssistantState | None = None  # the first LISTENING is announced: "ready"
        self._quitting = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[CapturedFrame | None] = asyncio.Queue()

    # --- controls: thread-safe ------------------------------------------------------------
    def interrupt(self, reason: str = "key") -> None:
        self._call(lambda: self._interrupt(reason))

    def toggle_mute(self) -> None:
        def flip() -> None:
            self._ears.muted = not self._ears.muted
            self.emit(NoticeRaised("microphone muted" if self._ears.muted else "microphone on"))
        self._call(flip)

    def push_to_talk(self) -> None:
        """Push-to-talk toggle: first press opens the microphone, second press ends the turn."""
        def toggle() -> None:
            if self._reply is not None:
                self._interrupt("key")
            if not self._ears.ptt_open:
                self._ears.open_ptt()
            else:
                heard = self._ears.close_ptt(self.o.endpointer.preroll_ms)
                if heard is None:
                    self._set_state(AssistantState.LISTENING)
                else:
                    self._start_turn(heard[0], heard[1], time.monotonic(), None)
            self.emit(NoticeRaised("talk now; press space again when done" if self._ears.ptt_open else "sent"))
        self._call(toggle)

    def submit_text(self, text: str) -> None:
        self._call(lambda: self._start_text_turn(text))

    def stop(self) -> None:
        """Quit now (the `q` key): the current reply is cut, finished turns are kept."""
        def quit_now() -> None:
            self._quitting = True
            self._queue.put_nowait(END_OF_INPUT)
        self._call(quit_now)

    def _call(self, fn: Callable[[], None]) -> None:
        if self._loop is not None:
            post(self._loop, fn)

    # --- main loop ------------------------------------------------------------------------
    async def run(self, watchdog_s: float | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self.output.start()
        try:
            self.source.start(self._loop, self._queue)
            self._set_state(AssistantState.LISTENING)
            while True:
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout=watchdog_s)
                except asyncio.TimeoutError:
                    raise VoicecliError("the input device stopped delivering audio (unplugged?)",
                                        "reconnect it or pick another with --input-device") from None
                if item is END_OF_INPUT:
                    # the words a file or a pipe ended on are answered; a pushed source ends when
                    # its client has gone (a realtime disconnect): nobody to answer
                    if not self._quitting and not isinstance(self.source, PushSource):
                        for ev in self._ears.finish():
                            self._on_endpoint(ev)
                    break
                self._on_frame(item)
            if not self._quitting:
                await self._finish()
        finally:
            self.source.stop()
            for r in (self._reply, self._prepared):
                if r is not None:
                    r.cancel.set()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self.output.stop()
            self._responder.workers.shutdown()
            if self._judge is not None:
                self._judge.close()

    async def _finish(self) -> None:
        """Input is over: wait for the reply in progress (and any that follows it) to end."""
        while (r := self._reply) is not None and r.task is not None and not r.task.done():
            await asyncio.gather(r.task, return_exceptions=True)

    # --- audio path (never awaits inference) ----------------------------------------------
    def _on_frame(self, frame: CapturedFrame) -> None:
        events = self._ears.hear(frame, self.o.push_to_talk)
        for ev in events:
            self._on_endpoint(ev)
        r = self._reply
        self._partials.frame(events, self.o.partials and r is None and self._wake.may_listen)
        if r is not None and r.phase is ReplyPhase.ACTIVE:
            ep = self._ears.endpointer
            self.talk_over.frame(ep.voiced_ms, ep.state in (EndpointState.SPEAKING, EndpointState.STOPPING),
                                 self.o.barge_in_ms)
        busy = r is not None or self._prepared is not None or self._ears.state is not EndpointState.QUIET
        self._wake.frame(None if self._ears.muted else frame.samples, busy)

    def _on_endpoint(self, ev: EndpointEvent) -> None:
        if isinstance(ev, SpeechStarted):
            self.emit(UserSpeechStarted(ev.frame * FRAME_MS))
            self._speculative.clear()
            self._onset_at = self._ears.audio(ev.onset_frame, ev.onset_frame)[1]
            self._onset_frame = ev.onset_frame
            self._going_on.speech_started(self._reply, ev.onset_frame, self._after_playback(),
                                          self.o.continue_ms)
            self._wake.speech_started()
            if self._reply is None:
                self._set_state(AssistantState.HEARING)
        elif isinstance(ev, SpeechPaused) and self.o.speculative_stt and self._reply is None and self._wake.may_listen:
            audio = self._ears.pause_audio(ev)
            fut = self._responder.transcribe(audio, self.o.stt)
            self._speculative[ev.last_voiced_frame] = fut
            if self.o.speculative_reply and self.o.auto_respond and not self.o.push_to_talk and self._wake.follow_up:
                self._prepare_reply(ev.last_voiced_frame, audio, fut)
        elif isinstance(ev, PauseCheckpointReached) and self._judge is not None:
            self._judge.check(ev.last_voiced_frame, self._ears.checkpoint_audio(ev),
                              self._speculative.get(ev.last_voiced_frame), (ev.frame - ev.last_voiced_frame) * FRAME_MS)
        elif isinstance(ev, SpeechResumed):
            self._speculative.clear()
            self._drop_prepared()
        elif isinstance(ev, UtteranceDiscarded):
            self.talk_over.utterance_dropped()
            if (merged := self._going_on.forget()) is not None:
                self._ask_again(merged)
            elif self._reply is None:
                self._set_state(AssistantState.LISTENING)
        elif isinstance(ev, UtteranceEnded):
            self.emit(UserSpeechStopped((ev.last_voiced_frame + 1) * FRAME_MS))
            if self.o.push_to_talk:
                return
            audio, last_voiced_at = self._ears.utterance(ev)
            span = self._ears.span(ev)
            spec = self._speculative.pop(ev.last_voiced_frame, None)
            self._speculative.clear()
            self._going_on.merged = None
            if self.talk_over.utterance_ended(span[0], span[1], audio, last_voiced_at,
                                              time.monotonic(), spec, self._reply, self._onset_at):
                self._drop_prepared()  # heard over the loudspeaker: a turn only if checked to be the user's
                return
            if self._wake.utterance_ended(audio, last_voiced_at, self._ears.utterance_started_wall, spec):
                self._drop_prepared()  # asleep: ignored, or a waking utterance answered once checked
                return
            prepared = self._prepared
            if prepared is not None and prepared.prepared_for == ev.last_voiced_frame:
                prepared.utterance = span
                self._commit_prepared(prepared, last_voiced_at, time.monotonic())
            else:
                self._drop_prepared()
                self._start_turn(audio, last_voiced_at, time.monotonic(), spec).utterance = span

    def _end_turn_early(self, last_voiced_frame: int) -> None:
        """The turn detector judged the turn complete: end it now (if still in that pause)."""
        for ev in self._ears.end_turn(last_voiced_frame):
            self._on_endpoint(ev)

    def _semantic(self, options: ConversationOptions) -> SemanticTurnParams | None:
        return options.semantic_turn if self._judge is not None and not options.push_to_talk else None

    # --- turns ----------------------------------------------------------------------------
    def _prepare_reply(self, last_voiced_frame: int, audio: np.ndarray, stt: SttFuture) -> None:
        self._drop_prepared()
        r = Reply(self._turn + 1, "", self._ears.utterance_started_wall, phase=ReplyPhase.PREPARED,
                  prepared_for=last_voiced_frame)
        self._spawn(r, audio, None, stt)
        self._prepared = r

    def _drop_prepared(self) -> None:
        r, self._prepared = self._prepared, None
        if r is not None:
            r.discard()

    def _commit_prepared(self, r: Reply, end_of_speech_at: float, endpoint_at: float) -> None:
        """The endpointer confirmed the turn the prepared reply was made for: release it."""
        self._prepared = None
        if self._reply is not None:
            self._interrupt("speech")
        self._turn += 1
        r.turn = self._turn
        r.end_of_speech_at = end_of_speech_at
        r.endpoint_at = endpoint_at
        r.latency = dataclasses.replace(r.latency, endpoint_wait=(endpoint_at - end_of_speech_at) * 1000)
        self._reply = r
        self._set_state(AssistantState.THINKING)
        for ev in r.open():
            self._show(r, ev)
        if r.task is not None and r.task.done():  # it ended behind the gate: end the turn now
            if r.user:
                self._responder.complete(r)
            else:
                self._no_words(r)
            self._reply = None
            self._set_state(AssistantState.LISTENING)

    def _show(self, r: Reply, ev: Event) -> None:
        """Emit ``r``'s event, or hold it while ``r`` is behind its gate (dropped if discarded)."""
        if r.phase is ReplyPhase.PREPARED:
            r.held.append(ev)
        elif r.visible:
            self.emit(ev)

    def _start_turn(self, audio: np.ndarray | None, end_of_speech_at: float | None, endpoint_at: float | None,
                    speculative: SttFuture | None, text: str | None = None, started_at: float | None = None) -> Reply:
        if self._reply is not None:
            self._interrupt("speech")
        self._turn += 1
        if started_at is None:
            started_at = self._ears.utterance_started_wall if text is None else time.time()
        r = Reply(self._turn, text or "", started_at, end_of_speech_at)
        self._spawn(r, audio, endpoint_at, speculative)
        self._reply = r
        return r

    def _start_checked_turn(self, audio: np.ndarray, end_of_speech_at: float, endpoint_at: float,
                            stt: SttFuture | None, span: tuple[int, int]) -> None:
        """The own-voice check found the utterance ``span`` (endpointer frames) to be the user's.
        If it continues the turn of the reply it cuts, the turn is asked again with both parts."""
        started_at = None
        if (merged := self._going_on.take(self._reply, checked=True)) is not None and merged.utterance is not None:
            whole = self._echo.transcript_audio(merged.utterance[0], span[1]) if self._echo is not None else None
            if whole is not None:  # both parts from the canceller that keeps the user's words
                audio = whole[0]
            else:
                audio = np.concatenate([self._ears.audio(merged.utterance[0], span[0] - 1)[0], audio])
            stt, started_at = None, merged.started_at
            span = (merged.utterance[0], span[1])
            self._went_on(merged)
        r = self._start_turn(audio, end_of_speech_at, endpoint_at, stt, started_at=started_at)
        r.utterance = span
        if self._ears.state in (EndpointState.SPEAKING, EndpointState.STOPPING) and self._onset_frame > span[1]:
            # the user went on while this utterance was being checked ("Excuse me, … what time is it?")
            self._going_on.speech_started(r, self._onset_frame, False, self.o.continue_ms)

    def _after_playback(self) -> bool:
        """Did the speech that just started begin after the current reply began to play?"""
        r = self._reply
        played_from = self.player.progress(r.turn).first_sample_at if r is not None else None
        return played_from is not None and self._onset_at >= played_from

    def _went_on(self, merged: Reply) -> None:
        self.emit(UserTurnDiscarded(merged.turn, "the user went on: one turn with the next"))
        self.emit(NoticeRaised("you went on: answering the whole turn"))

    def _ask_again(self, merged: Reply) -> None:
        """The utterance that continued ``merged``'s turn was dropped: answer that turn as it was."""
        if merged.utterance is not None:
            audio, _ = self._ears.audio(merged.utterance[0], merged.utterance[1] + 1)
            self._start_turn(audio, merged.end_of_speech_at, time.monotonic(), None,
                             started_at=merged.started_at).utterance = merged.utterance

    def _start_text_turn(self, text: str) -> None:
        text = text.strip()
        if text:
            self._start_turn(None, time.monotonic(), time.monotonic(), None, text=text)

    def _spawn(self, r: Reply, audio: np.ndarray | None, endpoint_at: float | None,
               speculative: SttFuture | None) -> None:
        if endpoint_at is not None:
            r.endpoint_at = endpoint_at
            if r.end_of_speech_at is not None and audio is not None:
                r.latency = dataclasses.replace(r.latency, endpoint_wait=(endpoint_at - r.end_of_speech_at) * 1000)
        r.task = asyncio.get_running_loop().create_task(self._responder.run(r, audio, speculative, self._hooks))
        self._tasks.add(r.task)  # referenced until done
        r.task.add_done_callback(self._tasks.discard)

    def _heard_so_far(self, ev: UserPartialTranscript) -> None:
        """A live partial transcript: shown, and the reply's prompt evaluated up to its words."""
        self.emit(ev)
        if self._ears.state is EndpointState.SPEAKING:
            self._prefill(f"{ev.stable} {ev.unstable}".strip())

    def _prefill(self, words: str) -> None:
        """Evaluate the next reply's prompt ahead (history, then ``words``) while the cores are
        free: it gives way once the user pauses (the speculative transcript's time) or a reply runs."""
        if self.o.auto_respond and self._reply is None and self._wake.may_listen:
            self._responder.prefill(words, self.o, lambda: (
                self._reply is not None or self._prepared is not None or self._ears.state is EndpointState.STOPPING))

    def _reply_ended(self, r: Reply, had_words: bool) -> None:
        if not had_words and r.visible:  # (a prepared reply without words: the commit says so)
            self._no_words(r)
        self._wake.reply_ended()
        if self._reply is r:
            self._reply = None
            self.talk_over.reply_over(r)
            hearing = had_words and self._ears.state == EndpointState.SPEAKING
            self._set_state(AssistantState.HEARING if hearing else AssistantState.LISTENING)
            self._prefill("")

    def _no_words(self, r: Reply) -> None:
        self.emit(UserTurnDiscarded(r.turn, "no words"))
        self.emit(NoticeRaised("heard something, but no words"))

    def _interrupt(self, reason: str) -> None:
        r = self._reply
        if r is None or r.phase is not ReplyPhase.ACTIVE:
            return
        talking = self._ears.state in (EndpointState.SPEAKING, EndpointState.STOPPING)
        heard = self._echo is None or self._echo.state.heard
        if reason == "speech" and talking and self._going_on.take(r, False, heard) and r.utterance is not None:
            self._ears.reopen(r.utterance[0], r.started_at)  # the user went on: the same turn
            self._went_on(r)
        r.interrupt(reason)
        self.talk_over.reply_over(r)
        self.player.clear()
        r.interrupt_output_s = self.player.output_samples / self.player.sample_rate_hz
        self.emit(ReplyInterrupted(r.turn, reason, r.interrupt_output_s))
        if r.task is not None:
            r.task.cancel()
        self._reply = None
        self._set_state(AssistantState.HEARING if self._ears.state != EndpointState.QUIET
                        else AssistantState.LISTENING)

    def _listening(self) -> None:
        if self._reply is None:
            self._set_state(AssistantState.LISTENING if self._ears.state == EndpointState.QUIET
                            else AssistantState.HEARING)

    def _set_state(self, state: AssistantState) -> None:
        if state != self._state:
            self._state = state
            self.emit(StateChanged(state))
