"""Conversation orchestration: frames → VAD → endpointer → (speculative) STT → streaming LLM →
clause chunks → Piper → player, with barge-in. The only layer here that knows about asyncio
and threads; engines stay blocking and the renderers only see events."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicecli.audio.echo_gate import EchoCouplingGate
from voicecli.audio.format import FRAME_MS, rms_dbfs
from voicecli.audio.io import END_OF_INPUT, CapturedFrame, post
from voicecli.audio.playback import Player
from voicecli.errors import VoicecliError
from voicecli.llm.types import ChatMessage, GenerationOptions, messages_to_forget, trim_history
from voicecli.pipeline.events import (
    AssistantState,
    Event,
    Latency,
    LevelMeasured,
    NoticeRaised,
    PipelineFailed,
    ReplyAudio,
    ReplyDelta,
    ReplyInterrupted,
    ReplyStarted,
    StateChanged,
    TurnCompleted,
    TurnRecord,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscribed,
    UserTurnDiscarded,
)
from voicecli.stt.types import TranscribeOptions, Transcription
from voicecli.tts.chunker import ChunkerParams, SpeechChunker
from voicecli.tts.normalize import normalize_for_speech
from voicecli.vad.endpointer import (
    Endpointer,
    EndpointerParams,
    EndpointState,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    UtteranceDiscarded,
    UtteranceEnded,
)

_DONE = object()
LEVEL_EVERY_FRAMES = 3
MAX_KEPT_FRAMES = int(60_000 / FRAME_MS)
"""Audio kept for the current utterance (60 s)."""


@dataclass(frozen=True)
class ConversationOptions:
    endpointer: EndpointerParams = EndpointerParams()
    barge_in_ms: int = 192
    """Voiced time needed during a reply to interrupt it."""
    stt: TranscribeOptions = TranscribeOptions(language="en")
    generation: GenerationOptions = GenerationOptions()
    system_prompt: str = ""
    history_tokens: int = 1024
    chunker: ChunkerParams = ChunkerParams()
    speed: float = 1.0
    speculative_stt: bool = True
    speculative_reply: bool = True
    """When silence begins, also start the reply (LLM + first TTS) on the speculative transcript;
    it is played only if the endpointer confirms the turn, and dropped if the user goes on."""
    echo_cancel: bool = True
    push_to_talk: bool = False
    auto_respond: bool = True
    """Answer a finished user turn at once; when False the turn is only transcribed (UserTranscribed)
    and a protocol adapter answers later with ``reply_to`` (realtime ``create_response: false``)."""


@dataclass
class _Reply:
    turn: int
    user: str
    started_at: float
    end_of_speech_at: float | None
    cancel: threading.Event = field(default_factory=threading.Event)
    pieces: list[str] = field(default_factory=list)
    text: str = ""
    interrupted_by: str | None = None
    interrupt_output_s: float | None = None
    task: asyncio.Task[None] | None = None
    system_prompt: str | None = None
    """Overrides the session's system prompt for this reply only (set by ``reply_to``)."""
    respond: bool | None = None
    gate: asyncio.Event | None = None
    """Speculative replies are prepared behind a closed gate; nothing is played or shown until
    the endpointer confirms the turn (the gate opens) — or the reply is dropped."""
    held: list[Any] = field(default_factory=list)
    prepared_for: int | None = None
    discarded: bool = False
    lat: dict[str, float | None] = field(default_factory=dict)
    stt_done_at: float | None = None
    endpoint_at: float | None = None
    """Answer this turn? None: as ``ConversationOptions.auto_respond`` says (set by ``submit_audio``
    and ``reply_to``)."""


class Conversation:
    def __init__(self, engines: Any, source: Any, player: Player, output: Any,
                 emit: Callable[[Event], None], options: ConversationOptions,
                 echo_canceller: Any | None = None, on_turn: Callable[[TurnRecord], None] | None = None) -> None:
        self.engines = engines
        self.source = source
        self.player = player
        self.output = output
        self.emit = emit
        self.o = options
        self.on_turn = on_turn
        self.vad = engines.new_vad()
        self.endpointer = Endpointer(options.endpointer)
        self._aec = echo_canceller
        self._echo_gate = EchoCouplingGate()
        self._ref = collections.deque[np.ndarray]()
        self._ref_lock = threading.Lock()
        if echo_canceller is not None:
            player.add_tap(self._on_reference)
        self._frames: collections.deque[CapturedFrame] = collections.deque(maxlen=MAX_KEPT_FRAMES)
        self._history: list[ChatMessage] = []
        self._turn = 0
        self._reply: _Reply | None = None
        self._prepared: _Reply | None = None
        self._speculative: dict[int, concurrent.futures.Future[tuple[Transcription, float]]] = {}
        self._utterance_started_wall = time.time()
        self._state: AssistantState | None = None  # the first LISTENING is announced: "ready"
        self._muted = False
        self._ptt_open = False
        self._ptt_open_frame = 0
        self._ptt_heard_speech = False
        self._quitting = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stt_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="stt")
        self._llm_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="llm")
        self._tts_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tts")
        self._pending: set[asyncio.Task[None]] = set()
        self._text_inputs: asyncio.Queue[str] | None = None
        self.fatal: str | None = None
        self.completed: list[TurnRecord] = []

    # --- public controls (thread-safe) ---------------------------------------------------
    def interrupt(self, reason: str = "key") -> None:
        self._call(lambda: self._interrupt(reason))

    def toggle_mute(self) -> None:
        def flip() -> None:
            self._muted = not self._muted
            self.emit(NoticeRaised("microphone muted" if self._muted else "microphone on"))
        self._call(flip)

    def push_to_talk(self) -> None:
        """Push-to-talk toggle: first press opens the microphone, second press ends the turn."""
        def toggle() -> None:
            if self._reply is not None:
                self._interrupt("key")
            self._ptt_open = not self._ptt_open
            if self._ptt_open:
                self._ptt_open_frame = self.endpointer.frame + 1
                self._ptt_heard_speech = False
            else:
                self._end_ptt_turn()
            self.emit(NoticeRaised("talk now; press space again when done" if self._ptt_open else "sent"))
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
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
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
                    break
                self._on_frame(item)
                if self.fatal:
                    raise VoicecliError(self.fatal)
            if not self._quitting:
                await self._finish()
        finally:
            self.source.stop()
            for t in list(self._pending):
                t.cancel()
            if self._reply and self._reply.task:
                self._reply.cancel.set()
                self._reply.task.cancel()
                await asyncio.gather(self._reply.task, return_exceptions=True)
            self.output.stop()
            for pool in (self._stt_pool, self._llm_pool, self._tts_pool):
                pool.shutdown(wait=False, cancel_futures=True)

    async def _finish(self) -> None:
        """Input is over: let the endpointer close an open utterance, then wait for replies."""
        while self._pending or (self._reply and self._reply.task and not self._reply.task.done()):
            await asyncio.sleep(0.05)
            if self._reply and self._reply.task:
                await asyncio.gather(self._reply.task, return_exceptions=True)

    # --- audio path (never awaits inference) ----------------------------------------------
    def _on_reference(self, block16k: np.ndarray) -> None:
        with self._ref_lock:
            self._ref.append(block16k)

    def _reference_frame(self, n: int) -> np.ndarray:
        with self._ref_lock:
            data = np.concatenate(list(self._ref)) if self._ref else np.zeros(0, np.float32)
            self._ref.clear()
            keep_max = n * 4
            if len(data) > keep_max:
                data = data[-keep_max:]
            frame, rest = data[:n], data[n:]
            if len(rest):
                self._ref.append(rest)
        if len(frame) < n:
            frame = np.concatenate([np.zeros(n - len(frame), np.float32), frame])
        return frame

    def _on_frame(self, frame: CapturedFrame) -> None:
        samples = frame.samples
        if self._aec is not None:
            reference = self._reference_frame(len(samples))
            cleaned = self._aec.process(samples, reference)
            self._echo_gate.observe(samples, reference)
            if not self._echo_gate.echo_free:
                samples = cleaned
        if self._muted or (self.o.push_to_talk and not self._ptt_open):
            samples = np.zeros_like(samples)
        frame = CapturedFrame(frame.index, samples, frame.captured_at)
        self._frames.append(frame)
        if frame.index % LEVEL_EVERY_FRAMES == 0:
            self.emit(LevelMeasured(rms_dbfs(frame.samples), self._muted))
        prob = self.vad.probability(samples)
        for ev in self.endpointer.step(prob):
            self._on_endpoint(ev)
        if (self._reply is not None and self._reply.interrupted_by is None
                and self.endpointer.state in (EndpointState.SPEAKING, EndpointState.STOPPING)
                and self.endpointer.voiced_ms >= self.o.barge_in_ms):
            self._interrupt("speech")

    def _audio(self, start: int, stop: int) -> tuple[np.ndarray, float]:
        """Samples of endpointer frames [start, stop] and the capture time of ``stop``."""
        if not self._frames:
            return np.zeros(0, np.float32), time.monotonic()
        first = self._frames[0].index
        offset = self._frames[-1].index - self.endpointer.frame
        lo, hi = max(start + offset - first, 0), stop + offset - first
        frames = [self._frames[i] for i in range(lo, min(hi + 1, len(self._frames)))]
        if not frames:
            return np.zeros(0, np.float32), time.monotonic()
        return np.concatenate([f.samples for f in frames]), frames[-1].captured_at

    def _on_endpoint(self, ev: Any) -> None:
        if isinstance(ev, SpeechStarted):
            self._ptt_heard_speech = True
            self.emit(UserSpeechStarted(ev.frame * FRAME_MS))
            self._utterance_started_wall = time.time()
            self._utterance_start = ev.frame
            self._speculative.clear()
            if self._reply is None:
                self._set_state(AssistantState.HEARING)
        elif isinstance(ev, SpeechPaused) and self.o.speculative_stt and self._reply is None:
            audio, _ = self._audio(self._utterance_start, ev.last_voiced_frame + 1)
            fut = self._stt_pool.submit(self._transcribe, audio)
            self._speculative[ev.last_voiced_frame] = fut
            if self.o.speculative_reply and self.o.auto_respond and not self.o.push_to_talk:
                self._prepare_reply(ev.last_voiced_frame, audio, fut)
        elif isinstance(ev, SpeechResumed):
            self._speculative.clear()
            self._drop_prepared()
        elif isinstance(ev, UtteranceDiscarded):
            if self._reply is None:
                self._set_state(AssistantState.LISTENING)
        elif isinstance(ev, UtteranceEnded):
            self.emit(UserSpeechStopped((ev.last_voiced_frame + 1) * FRAME_MS))
            if self.o.push_to_talk:
                return
            audio, end_of_speech_at = self._audio(ev.start_frame, ev.last_voiced_frame + 1)
            _, last_voiced_at = self._audio(ev.last_voiced_frame, ev.last_voiced_frame)
            spec = self._speculative.pop(ev.last_voiced_frame, None)
            self._speculative.clear()
            prepared = self._prepared
            if prepared is not None and prepared.prepared_for == ev.last_voiced_frame and not prepared.discarded:
                self._commit_prepared(prepared, last_voiced_at, time.monotonic())
            else:
                self._drop_prepared()
                self._start_turn(audio, last_voiced_at, time.monotonic(), spec)

    def _end_ptt_turn(self) -> None:
        """Push-to-talk released: everything heard since the key was pressed is the turn (the
        endpointer may already have seen the speech end while the key was still down)."""
        if not self._ptt_heard_speech:
            self._set_state(AssistantState.LISTENING)
            return
        start = max(0, self._ptt_open_frame - int(self.o.endpointer.preroll_ms // FRAME_MS))
        audio, _ = self._audio(start, self.endpointer.frame)
        _, last_voiced_at = self._audio(self.endpointer.last_voiced_frame, self.endpointer.last_voiced_frame)
        self._start_turn(audio, last_voiced_at, time.monotonic(), None)

    def _prepare_reply(self, last_voiced_frame: int, audio: np.ndarray,
                       stt: concurrent.futures.Future[tuple[Transcription, float]]) -> None:
        self._drop_prepared()
        r = _Reply(self._turn + 1, "", self._utterance_started_wall, None, gate=asyncio.Event(),
                   prepared_for=last_voiced_frame)
        r.task = asyncio.get_running_loop().create_task(self._respond(r, audio, None, stt))
        self._prepared = r

    def _drop_prepared(self) -> None:
        r, self._prepared = self._prepared, None
        if r is not None:
            r.discarded = True
            r.cancel.set()
            if r.task is not None:
                r.task.cancel()

    def _commit_prepared(self, r: _Reply, end_of_speech_at: float, endpoint_at: float) -> None:
        """The endpointer confirmed the turn the prepared reply was made for: release it."""
        self._prepared = None
        if self._reply is not None:
            self._interrupt("speech")
        self._turn += 1
        r.turn = self._turn
        r.end_of_speech_at = end_of_speech_at
        r.endpoint_at = endpoint_at
        r.lat["endpoint_wait"] = (endpoint_at - end_of_speech_at) * 1000
        self._reply = r
        self._set_state(AssistantState.THINKING)
        assert r.gate is not None
        r.gate.set()
        held, r.held = r.held, []
        for ev in held:
            self._emit_for(r, ev)
        if r.task is not None and r.task.done() and not r.user:
            self.emit(UserTurnDiscarded(r.turn, "no words"))
            self.emit(NoticeRaised("heard something, but no words"))
            self._reply = None  # the transcript had no words
            self._set_state(AssistantState.LISTENING)

    def _emit_for(self, r: _Reply, ev: Any) -> None:
        if r.gate is not None and not r.gate.is_set():
            r.held.append(ev)
        elif isinstance(ev, StateChanged):
            self._set_state(ev.state)
        else:
            self.emit(ev)

    def _transcribe(self, audio: np.ndarray) -> tuple[Transcription, float]:
        t0 = time.monotonic()
        result = self.engines.transcriber.transcribe(audio, self.o.stt)
        return result, (time.monotonic() - t0) * 1000

    # --- turns ----------------------------------------------------------------------------
    def _start_turn(self, audio: np.ndarray | None, end_of_speech_at: float | None, endpoint_at: float | None,
                    speculative: concurrent.futures.Future[tuple[Transcription, float]] | None,
                    text: str | None = None) -> None:
        if self._reply is not None:
            self._interrupt("speech")
        self._turn += 1
        reply = _Reply(self._turn, text or "", self._utterance_started_wall if text is None else time.time(),
                       end_of_speech_at)
        task = asyncio.get_running_loop().create_task(
            self._respond(reply, audio, endpoint_at, speculative))
        reply.task = task
        self._reply = reply

    def _start_text_turn(self, text: str) -> None:
        text = text.strip()
        if text:
            self._start_turn(None, time.monotonic(), time.monotonic(), None, text=text)

    async def _respond(self, r: _Reply, audio: np.ndarray | None, endpoint_at: float | None,
                       speculative: concurrent.futures.Future[tuple[Transcription, float]] | None) -> None:
        loop = asyncio.get_running_loop()
        lat = r.lat
        r.endpoint_at = endpoint_at if endpoint_at is not None else r.endpoint_at
        if r.end_of_speech_at is not None and endpoint_at is not None and audio is not None:
            lat["endpoint_wait"] = (endpoint_at - r.end_of_speech_at) * 1000
        try:
            if r.gate is None:
                self._set_state(AssistantState.THINKING)
            if audio is not None:
                fut = speculative or self._stt_pool.submit(self._transcribe, audio)
                transcription, stt_ms = await asyncio.wrap_future(fut)
                lat["stt"] = stt_ms
                r.stt_done_at = time.monotonic()
                r.user = _clean_transcript(transcription)
                if not r.user:
                    if r.gate is not None and not r.gate.is_set():
                        return  # a speculative reply: the commit step tells the user
                    self.emit(UserTurnDiscarded(r.turn, "no words"))
                    self.emit(NoticeRaised("heard something, but no words"))
                    self._reply = None
                    self._set_state(AssistantState.LISTENING)
                    return
            self._emit_for(r, UserTranscribed(r.turn, r.user))
            if not (self.o.auto_respond if r.respond is None else r.respond):
                r.user = ""  # held: the adapter answers it later with reply_to(); not in history yet
                return
            await self._speak_reply(r, loop, lat)
        except asyncio.CancelledError:
            pass
        except VoicecliError as exc:
            self.emit(PipelineFailed(exc.one_line(), fatal=False))
        except Exception as exc:  # an engine failure must not kill the microphone loop
            self.emit(PipelineFailed(f"{type(exc).__name__}: {exc}", fatal=False))
        finally:
            r.cancel.set()
            if r.user and not r.discarded and (r.gate is None or r.gate.is_set()):
                if r.stt_done_at is not None and r.endpoint_at is not None:
                    lat["stt_wait"] = max(0.0, (r.stt_done_at - r.endpoint_at) * 1000)
                self._complete(r, lat)
            if self._reply is r:
                self._reply = None
                self._set_state(AssistantState.HEARING if self.endpointer.state == EndpointState.SPEAKING
                                else AssistantState.LISTENING)

    async def _speak_reply(self, r: _Reply, loop: asyncio.AbstractEventLoop, lat: dict[str, float | None]) -> None:
        system = ChatMessage("system", self.o.system_prompt if r.system_prompt is None else r.system_prompt)
        forget = messages_to_forget(system, [*self._history, ChatMessage("user", r.user)], self.o.history_tokens,
                                    self.engines.chat.count_tokens)
        del self._history[:min(forget, len(self._history))]
        messages = trim_history(system, [*self._history, ChatMessage("user", r.user)], self.o.history_tokens,
                                self.engines.chat.count_tokens)
        tokens: asyncio.Queue[Any] = asyncio.Queue()
        llm_t0 = time.monotonic()
        self._emit_for(r, ReplyStarted(r.turn))

        def produce() -> None:
            gen = self.engines.chat.stream(messages, self.o.generation)
            try:
                for delta in gen:
                    if r.cancel.is_set():
                        break
                    post(loop, tokens.put_nowait, delta)
            except Exception as exc:  # noqa: BLE001 - forwarded to the loop as an event
                post(loop, tokens.put_nowait, exc)
            finally:
                gen.close()
                post(loop, tokens.put_nowait, _DONE)

        self._llm_pool.submit(produce)
        chunker = SpeechChunker(self.o.chunker)
        speak_q: asyncio.Queue[Any] = asyncio.Queue()
        speaker_task = loop.create_task(self._synthesize_pieces(r, speak_q, lat))
        try:
            while True:
                item = await tokens.get()
                if item is _DONE:
                    break
                if isinstance(item, Exception):
                    raise item
                if "llm_first_token" not in lat:
                    lat["llm_first_token"] = (time.monotonic() - llm_t0) * 1000
                r.text += item
                self._emit_for(r, ReplyDelta(r.turn, item))
                for chunk in chunker.push(item):
                    speak_q.put_nowait(chunk)
            for chunk in chunker.flush():
                speak_q.put_nowait(chunk)
            speak_q.put_nowait(_DONE)
            await speaker_task
        finally:
            if not speaker_task.done():
                speaker_task.cancel()
                await asyncio.gather(speaker_task, return_exceptions=True)

    async def _synthesize_pieces(self, r: _Reply, speak_q: asyncio.Queue[Any], lat: dict[str, float | None]) -> None:
        speaker = self.engines.speaker
        loop = asyncio.get_running_loop()
        while True:
            chunk = await speak_q.get()
            if chunk is _DONE:
                break
            spoken = normalize_for_speech(chunk)
            if not spoken:
                continue
            t0 = time.monotonic()
            audio = await loop.run_in_executor(self._tts_pool, self._synthesize, spoken)
            if r.cancel.is_set():
                return
            if "tts_first_audio" not in lat:
                lat["tts_first_audio"] = (time.monotonic() - t0) * 1000
            if r.gate is not None and not r.gate.is_set():
                await r.gate.wait()
            if r.cancel.is_set():
                return
            piece = len(r.pieces)
            r.pieces.append(chunk)
            self.player.enqueue(r.turn, piece, audio)
            self._emit_for(r, ReplyAudio(r.turn, piece, chunk, audio, self.player.sample_rate_hz))
            if self._state != AssistantState.SPEAKING:
                self._set_state(AssistantState.SPEAKING)
        # wait until everything queued for this reply has been played
        while not r.cancel.is_set():
            prog = self.player.progress(r.turn)
            if all(prog.played_samples.get(k, 0) >= v for k, v in prog.queued_samples.items()):
                break
            await asyncio.sleep(0.02)

    def _synthesize(self, text: str) -> np.ndarray:
        parts = [c.samples for c in self.engines.speaker.synthesize(text, self.o.speed)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def _interrupt(self, reason: str) -> None:
        r = self._reply
        if r is None or r.interrupted_by is not None:
            return
        r.interrupted_by = reason
        r.cancel.set()
        self.player.clear()
        r.interrupt_output_s = self.player.output_samples / self.player.sample_rate_hz
        self.emit(ReplyInterrupted(r.turn, reason, r.interrupt_output_s))
        if r.task is not None:
            r.task.cancel()
        self._reply = None
        self._set_state(AssistantState.HEARING if self.endpointer.state != EndpointState.QUIET
                        else AssistantState.LISTENING)

    def _complete(self, r: _Reply, lat: dict[str, float | None]) -> None:
        prog = self.player.progress(r.turn)
        if r.end_of_speech_at is not None and prog.first_sample_at is not None:
            lat["voice_to_voice"] = (prog.first_sample_at - r.end_of_speech_at) * 1000
        interrupted = r.interrupted_by is not None
        heard = heard_text(r.pieces, prog.played_samples, prog.queued_samples) if interrupted else r.text.strip()
        record = TurnRecord(turn=r.turn, user=r.user, assistant=heard, interrupted=interrupted,
                            full_reply=r.text.strip(), started_at=r.started_at, ended_at=time.time(),
                            latency=Latency(**lat), interrupted_by=r.interrupted_by,
                            interrupt_output_s=r.interrupt_output_s)
        self._history.append(ChatMessage("user", r.user))
        if heard:
            self._history.append(ChatMessage("assistant", heard + (" …" if interrupted else "")))
        self.completed.append(record)
        if self.on_turn is not None:
            self.on_turn(record)
        self.emit(TurnCompleted(record))

    # --- protocol adapter controls (a server session; call on the event-loop thread) -------
    @property
    def turn(self) -> int:
        """Number of the latest turn started (the next audio or text turn gets ``turn + 1``)."""
        return self._turn

    @property
    def history(self) -> list[ChatMessage]:
        return list(self._history)

    def use_executors(self, stt: Any = None, llm: Any = None, tts: Any = None) -> None:
        """Run inference on executors shared with other conversations (a server) instead of this
        conversation's own threads. ``run`` shuts them down at the end, so pass per-session
        wrappers whose ``shutdown`` only cancels this session's work."""
        for name, pool in (("_stt_pool", stt), ("_llm_pool", llm), ("_tts_pool", tts)):
            if pool is not None:
                getattr(self, name).shutdown(wait=False)
                setattr(self, name, pool)

    def reconfigure(self, options: ConversationOptions) -> None:
        """Replace the options between turns (realtime ``session.update``). New endpointer
        parameters take effect when the endpointer is quiet; the input position is kept."""
        self.o = options
        if options.endpointer != self.endpointer.p and self.endpointer.state == EndpointState.QUIET:
            frame = self.endpointer.frame
            self.endpointer = Endpointer(options.endpointer)
            self.endpointer.frame = frame

    def reset_input(self) -> None:
        """Forget the utterance in progress (realtime ``input_audio_buffer.clear`` / ``commit``)."""
        frame = self.endpointer.frame
        self.endpointer.reset()
        self.endpointer.frame = frame
        self._speculative.clear()

    def submit_audio(self, samples16k: np.ndarray, respond: bool = True) -> int:
        """End a user turn with this audio now (manual turn-taking: realtime
        ``input_audio_buffer.commit``). Returns the turn number."""
        now = time.monotonic()
        self._utterance_started_wall = time.time()
        self._start_turn(samples16k.astype(np.float32, copy=False), now, now, None)
        assert self._reply is not None
        self._reply.respond = respond
        return self._turn

    def reply_to(self, text: str, system_prompt: str | None = None) -> int:
        """Answer ``text`` now, like ``submit_text`` but synchronous, optionally with a system
        prompt for this reply only (realtime ``response.create``). Returns the turn number."""
        now = time.monotonic()
        self._start_turn(None, now, now, None, text=text.strip() or "…")
        assert self._reply is not None
        self._reply.system_prompt = system_prompt
        self._reply.respond = True
        return self._turn

    def cancel_reply(self, reason: str) -> bool:
        """Stop the reply in progress (if any) as barge-in does; True if one was stopped."""
        r = self._reply
        if r is None or r.interrupted_by is not None:
            return False
        self._interrupt(reason)
        return True

    def truncate_history(self, turn: int, heard: str) -> bool:
        """Keep only ``heard`` of ``turn``'s reply in the history: the client played no more
        (realtime ``conversation.item.truncate``). False if the turn is not in the history."""
        idx = next((i for i, rec in enumerate(self.completed) if rec.turn == turn), None)
        if idx is None:
            return False
        rec = self.completed[idx]
        heard = heard.strip()
        if heard == rec.full_reply:
            return True
        said = rec.assistant + (" …" if rec.interrupted else "")
        for i in range(len(self._history) - 1, 0, -1):
            msg, before = self._history[i], self._history[i - 1]
            if msg.role == "assistant" and msg.content == said and before.content == rec.user:
                if heard:
                    self._history[i] = ChatMessage("assistant", heard + " …")
                else:
                    del self._history[i]
                break
        self.completed[idx] = dataclasses.replace(rec, assistant=heard, interrupted=True)
        return True

    def _set_state(self, state: AssistantState) -> None:
        if state != self._state:
            self._state = state
            self.emit(StateChanged(state))


def _clean_transcript(t: Transcription) -> str:
    """Drop segments Whisper itself marks as probably not speech (hallucinations on noise)."""
    kept = [s.text for s in t.segments if not (s.no_speech_prob > 0.6 and s.avg_logprob < -1.0)]
    text = "".join(kept).strip()
    return text if any(c.isalnum() for c in text) else ""


def heard_text(pieces: list[str], played: dict[int, int], queued: dict[int, int]) -> str:
    """The part of an interrupted reply the user actually heard: whole pieces that finished
    playing plus the proportional word prefix of the piece that was cut."""
    words: list[str] = []
    for i, text in enumerate(pieces):
        total = queued.get(i, 0)
        done = played.get(i, 0)
        if total == 0 or done == 0:
            break
        piece_words = text.split()
        if done >= total:
            words.extend(piece_words)
            continue
        words.extend(piece_words[:int(len(piece_words) * done / total)])
        break
    return " ".join(words)
