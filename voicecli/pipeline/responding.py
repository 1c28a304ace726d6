"""A reply's life once its turn has started: transcribe the user's audio (or take the typed
text), show the transcript, speak the answer (:class:`~voicecli.pipeline.speaking.ReplyStream`)
with the voice chosen for it, and record the finished turn — what the user heard — in the chat
context. Which reply is current, and when replies start, open or stop, is the conversation's
business, not this module's."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from voicecli.audio.playback import Player
from voicecli.errors import VoicecliError
from voicecli.llm.tools import ToolRunner
from voicecli.pipeline.chat_context import ChatContext, clean_transcript, heard_text, said_text, standalone_prompt
from voicecli.pipeline.conversation_options import ConversationOptions
from voicecli.pipeline.events import (
    AssistantState,
    Event,
    Latency,
    NoticeRaised,
    PipelineFailed,
    ReplyStarted,
    TurnCompleted,
    TurnRecord,
    UserTranscribed,
)
from voicecli.pipeline.language import LanguageVoices, reply_in
from voicecli.pipeline.reply import Reply, ReplyPhase
from voicecli.pipeline.speaking import ReplyStream, SpeakingOptions, VoiceChoice
from voicecli.pipeline.tool_use import tools_for_reply
from voicecli.pipeline.workers import Workers
from voicecli.stt.types import TranscribeOptions, Transcription
from voicecli.tts.types import Synthesizer

if TYPE_CHECKING:
    from voicecli.engines import EngineSet

SttFuture = concurrent.futures.Future[tuple[Transcription, float]]
"""A transcription running on the STT worker: the result and its compute time (ms)."""


@dataclass(frozen=True)
class ReplyHooks:
    """What a reply needs from its conversation."""

    options: Callable[[], ConversationOptions]
    """The conversation's current options (an adapter may change them while a reply runs)."""
    show: Callable[[Reply, Event], None]
    """Emit the reply's event, or hold it while the reply is behind its gate."""
    set_state: Callable[[AssistantState], None]
    ended: Callable[[Reply, bool], None]
    """The reply is over (its turn recorded if it became one); False: its audio had no words."""


class Responder:
    def __init__(self, engines: EngineSet, player: Player, emit: Callable[[Event], None],
                 on_turn: Callable[[TurnRecord], None] | None, tools: ToolRunner | None = None) -> None:
        self.engines = engines
        self.tools = tools
        """Runs the calls the model makes (None: a call ends the reply, see :mod:`.tool_use`)."""
        self.player = player
        self.emit = emit
        self.on_turn = on_turn
        self.context = ChatContext()
        self.voice = VoiceChoice(lambda: engines.speaker)
        self.workers = Workers()
        self.completed: list[TurnRecord] = []
        self.multilingual = bool(getattr(engines.transcriber, "is_multilingual", False))
        """Each spoken turn's language asks for the reply's language and voice (:mod:`.language`)."""
        self.languages: LanguageVoices | None = None
        """The voices of the languages (None: made from the settings on first use; a server
        shares its voice catalogue's)."""
        self._stt_running: set[SttFuture] = set()
        self._prefill_seq = 0

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> SttFuture:
        """Start transcribing on the STT worker."""
        fut = self.workers.stt.submit(self._transcribe, audio, options)
        self._stt_running.add(fut)
        fut.add_done_callback(self._stt_running.discard)
        return fut

    def stt_idle(self) -> bool:
        """Nothing this conversation started is running or queued on the STT worker, nor anything
        else on it when the worker is shared and says so (a server's ``idle()``)."""
        shared_idle = getattr(self.workers.stt, "idle", None)
        return not self._stt_running and (shared_idle is None or bool(shared_idle()))

    def prefill(self, words: str, options: ConversationOptions, give_way: Callable[[], bool]) -> None:
        """Evaluate the next reply's prompt ahead of time, as far as it is known: the history and
        ``words`` (what the user said so far; "" before they speak) on the prefill thread, until
        ``give_way()`` (see ``LlamaChat.prefill``). Only the newest request runs; models without
        a local prompt cache (a remote LLM) and replies in a language still to be heard skip it."""
        chat = self.engines.chat
        prefill = getattr(chat, "prefill", None)
        if prefill is None or self.multilingual:
            return
        messages = self.context.prompt(options.system_prompt, words, options.history_tokens, chat.count_tokens,
                                       forget=False)
        use = tools_for_reply(options.tools, self.tools)
        self._prefill_seq += 1
        seq = self._prefill_seq

        def run() -> None:
            if seq == self._prefill_seq and not give_way():
                prefill(messages, use.request if use is not None else None, give_way)

        self.workers.prefill.submit(run)

    def _transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> tuple[Transcription, float]:
        t0 = time.monotonic()
        result = self.engines.transcriber.transcribe(audio, options)
        return result, (time.monotonic() - t0) * 1000

    async def run(self, r: Reply, audio: np.ndarray | None, speculative: SttFuture | None,
                  hooks: ReplyHooks) -> None:
        """The whole reply; an engine failure becomes a PipelineFailed event, not an exception."""
        had_words = True
        try:
            if r.prepared_for is None:
                hooks.set_state(AssistantState.THINKING)
            had_words = await self._answer(r, audio, speculative, hooks)
        except asyncio.CancelledError:
            pass
        except VoicecliError as exc:
            self.emit(PipelineFailed(exc.one_line(), fatal=False))
        except Exception as exc:  # noqa: BLE001 - an engine failure must not kill the microphone loop
            self.emit(PipelineFailed(f"{type(exc).__name__}: {exc}", fatal=False))
        finally:
            r.cancel.set()
            if r.becomes_turn:
                self.complete(r)
            hooks.ended(r, had_words)

    async def _answer(self, r: Reply, audio: np.ndarray | None, speculative: SttFuture | None,
                      hooks: ReplyHooks) -> bool:
        """Transcribe ``audio`` (or take ``speculative``'s transcript of it; typed turns have
        none), show it, and answer unless the turn is only to be transcribed (then ``r`` is
        HELD). False when the audio had no words."""
        if audio is not None:
            fut = speculative or self.transcribe(audio, hooks.options().stt)
            transcription, stt_ms = await asyncio.wrap_future(fut)
            r.latency = dataclasses.replace(r.latency, stt=stt_ms)
            r.stt_done_at = time.monotonic()
            r.user = clean_transcript(transcription)
            if not r.user:
                return False
            r.language = transcription.language if self.multilingual and transcription.language else None
        if not r.continues:
            hooks.show(r, UserTranscribed(r.turn, r.user, r.language))
        o = hooks.options()
        if not (o.auto_respond if r.respond is None else r.respond):
            r.hold()  # the adapter answers it later with reply_to(); not in the history yet
            return True
        system = o.system_prompt if r.system_prompt is None else r.system_prompt
        if r.language:
            system = reply_in(system, r.language)
        if r.context is not None:  # out of band, on its own input
            messages = standalone_prompt(system, r.context, r.user, o.history_tokens, self.engines.chat.count_tokens)
        else:
            messages = self.context.prompt(system, None if r.continues else r.user, o.history_tokens,
                                           self.engines.chat.count_tokens)
        hooks.show(r, ReplyStarted(r.turn))
        chosen = self.voice.chosen()  # after ReplyStarted: an adapter may pick the voice then
        voice = chosen if chosen is not None else self.engines.speaker
        if r.language and chosen is None:  # nobody chose one: the language's voice
            voice = await self._voice_for(r.language)
        r.voice = voice.name
        stream = ReplyStream(r, self.engines.chat, voice, self.player, self.workers,
                             SpeakingOptions(o.generation, o.chunker, o.speed), hooks.show,
                             lambda: hooks.set_state(AssistantState.SPEAKING),
                             tools_for_reply(o.tools, self.tools, r.continues))
        await stream.run(messages)
        return True

    async def _voice_for(self, language: str) -> Synthesizer:
        """The voice of ``language`` (loaded on the TTS worker the first time)."""
        settings = getattr(self.engines, "settings", None)
        if settings is None or settings.tts.url:  # a server session's adapter, or --tts-url's server, picks voices
            return self.engines.speaker

        def pick() -> tuple[Synthesizer, str | None]:
            if self.languages is None:
                self.languages = LanguageVoices.from_settings(settings, self.engines.speaker)
            return self.languages.voice_for(language)

        voice, notice = await asyncio.get_running_loop().run_in_executor(self.workers.tts, pick)
        if notice is not None:
            self.emit(NoticeRaised(notice))
        return voice

    def complete(self, r: Reply) -> None:
        """Record ``r``'s turn: what the user heard goes into the chat context."""
        if r.stt_done_at is not None and r.endpoint_at is not None:
            r.latency = dataclasses.replace(r.latency, stt_wait=max(0.0, (r.stt_done_at - r.endpoint_at) * 1000))
        prog = self.player.progress(r.turn)
        if r.end_of_speech_at is not None and prog.first_sample_at is not None:
            r.latency = dataclasses.replace(r.latency,
                                            voice_to_voice=(prog.first_sample_at - r.end_of_speech_at) * 1000)
            rest = _remainder(r.latency)
            if rest is not None:
                r.latency = dataclasses.replace(r.latency, other=max(rest, 0.0), hidden_by_speculation=max(-rest, 0.0))
        interrupted = r.phase is ReplyPhase.INTERRUPTED
        spans = prog.voiced_spans  # the voice's own silence around each piece holds no words
        heard = heard_text(r.pieces, prog.played_samples, prog.queued_samples, spans) if interrupted else r.text.strip()
        record = TurnRecord(turn=r.turn, user=r.user, assistant=heard, interrupted=interrupted,
                            full_reply=r.text.strip(), started_at=r.started_at, ended_at=time.time(),
                            latency=r.latency, interrupted_by=r.interrupted_by,
                            interrupt_output_s=r.interrupt_output_s, tools=tuple(r.tool_outcomes),
                            language=r.language, voice=r.voice)
        if not r.out_of_band:
            self.context.add_turn(None if r.continues else r.user, heard, interrupted, r.tool_outcomes,
                                  r.pending_calls)
            self.completed.append(record)
            if self.on_turn is not None:
                self.on_turn(record)
        self.emit(TurnCompleted(record))

    def truncate(self, turn: int, heard: str) -> bool:
        """Keep only ``heard`` of ``turn``'s reply in the history; False if it is not there."""
        idx = next((i for i, rec in enumerate(self.completed) if rec.turn == turn), None)
        if idx is None:
            return False
        rec = self.completed[idx]
        heard = heard.strip()
        if heard == rec.full_reply:
            return True
        self.context.truncate_reply(rec.user or None, said_text(rec.assistant, rec.interrupted), heard)
        self.completed[idx] = dataclasses.replace(rec, assistant=heard, interrupted=True)
        return True


def _remainder(latency: Latency) -> float | None:
    """voice_to_voice less the sequential stages (see :attr:`Latency.other`); negative when the
    speculative reply hid work. None when a stage did not run."""
    stages = (latency.endpoint_wait, latency.stt_wait, latency.llm_first_token, latency.tts_first_audio)
    if latency.voice_to_voice is None or any(s is None for s in stages):
        return None
    return latency.voice_to_voice - sum(s for s in stages if s is not None)
