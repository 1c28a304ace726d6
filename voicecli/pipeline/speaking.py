"""Speaking one reply: the LLM's token stream (a worker thread) → the clause chunker → the
speech normaliser → TTS (a worker thread) → the player, and back once the player has played it
all. Nothing is queued for playback before the reply's gate opens. A reply the token cap cut
mid-sentence ends at its last full sentence. Until its first piece is cut the LLM goes token by
token with the event loop, and while that piece is being synthesised it pauses
(:mod:`~voicecli.pipeline.llm_pacing`: its later tokens are not needed for a second or more;
on 2 cores they slowed the first audio by competing with Piper). A reply offered tools runs in rounds (see
:mod:`~voicecli.pipeline.tool_use`): each round's text is spoken, a call is run (or handed to the
adapter) and the model answers with its result. Also owns the choice of voice: set from any
thread, read once when a reply starts speaking."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from voicecli.audio.format import AudioChunk
from voicecli.audio.playback import Player
from voicecli.concurrency import iterate_in_thread, post
from voicecli.llm.tools import ToolCall, ToolOutcome, ToolRequest
from voicecli.llm.types import ChatMessage, ChatModel, GenerationOptions
from voicecli.pipeline.events import Event, ReplyAudio, ReplyDelta, ToolCalled, ToolFinished
from voicecli.pipeline.llm_pacing import LlmPacing
from voicecli.pipeline.reply import Reply
from voicecli.pipeline.tool_use import FILLER, ToolCalls, ToolUse, call_messages, follow_up, reply_items, run_call
from voicecli.pipeline.workers import Workers
from voicecli.tts.chunker import ChunkerParams
from voicecli.tts.speakable import SpeakableStream, SpeechPiece
from voicecli.tts.types import Synthesizer

_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*$")
FIRST_AUDIO_MAX_HOLD_S = 1.0
"""The longest the LLM waits for the first piece's audio before it goes on regardless."""
_PUNCTUATED_END = re.compile(r"[.!?…,;:—–\-][\"')\]]*$")
MID_SENTENCE_PAUSE_MS = 60.0
"""Silence kept after a piece cut inside a sentence."""


def _trim_trailing_silence(samples: np.ndarray, rate_hz: int, dbfs: float = -50.0) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) >= 10 ** (dbfs / 20))
    if not loud.size:
        return samples
    return samples[: int(loud[-1]) + 1 + int(rate_hz * MID_SENTENCE_PAUSE_MS / 1000)]


class _Done:
    """End of the stream of pieces to speak."""


_DONE = _Done()


@dataclass(frozen=True)
class SpeakingOptions:
    generation: GenerationOptions
    chunker: ChunkerParams
    speed: float


class VoiceChoice:
    """The voice for the next reply. ``choose`` from any thread; a reply reads it once, when it
    starts speaking, and keeps it to the end. Nothing chosen: the engines' current speaker."""

    def __init__(self, default: Callable[[], Synthesizer]) -> None:
        self._default = default
        self._chosen: Synthesizer | None = None
        self._lock = threading.Lock()

    def choose(self, voice: Synthesizer | None) -> None:
        with self._lock:
            self._chosen = voice

    def for_next_reply(self) -> Synthesizer:
        chosen = self.chosen()
        return chosen if chosen is not None else self._default()

    def chosen(self) -> Synthesizer | None:
        """The voice someone chose (None: nobody did; the default voice, or the language's)."""
        with self._lock:
            return self._chosen


class ReplyStream:
    """Speaks one reply. ``show`` passes events through the conversation (which holds them while
    the reply is behind its gate); ``on_queued`` runs when a piece is queued for playback."""

    def __init__(self, reply: Reply, chat: ChatModel, voice: Synthesizer, player: Player, workers: Workers,
                 options: SpeakingOptions, show: Callable[[Reply, Event], None],
                 on_queued: Callable[[], None], tools: ToolUse | None = None) -> None:
        self.r = reply
        self.chat = chat
        self.voice = voice
        self.player = player
        self.workers = workers
        self.o = options
        self.show = show
        self.on_queued = on_queued
        self._pacing = LlmPacing(FIRST_AUDIO_MAX_HOLD_S)
        """When the LLM may compute its next token (lockstep, then held for the first audio)."""
        self.tools = tools
        """The tools offered for this reply (None: text only)."""
        self._deltas = 0
        """Text deltas of the current round."""
        self._spoken = 0
        """Pieces queued for speech so far."""
        self._speaker: asyncio.Task[None] | None = None
        """Synthesises and queues the pieces; if it fails (a remote TTS down), the LLM round stops."""

    async def run(self, messages: Sequence[ChatMessage]) -> None:
        pieces = SpeakableStream(self.o.chunker, language=self.r.language)  # numbers said in its language
        speak_q: asyncio.Queue[SpeechPiece | _Done] = asyncio.Queue()
        speaker_task = self._speaker = asyncio.get_running_loop().create_task(self._speak_pieces(speak_q))
        try:
            prompt = list(messages)
            request = self.tools.request if self.tools is not None else None
            while True:
                calls = await self._round(prompt, request, pieces, speak_q)
                if not calls:
                    break
                for piece in pieces.flush():  # what was said before the call is said before its result
                    speak_q.put_nowait(piece)
                for call in calls:
                    self.show(self.r, ToolCalled(self.r.turn, call))
                if self.tools is None or self.tools.runner is None:
                    self.r.pending_calls = calls  # the adapter's client answers it; the reply ends here
                    break
                outcomes = [await self._run_tool(call, speak_q) for call in calls]
                self.r.tool_outcomes.extend(outcomes)
                prompt += call_messages(outcomes)
                request = follow_up(request, len(self.r.tool_outcomes))
            for piece in pieces.flush():
                if self._spoken and self._deltas >= self.o.generation.max_tokens \
                        and not _SENTENCE_END.search(piece.text):
                    self._drop_unfinished(piece.text)  # cut by the token cap mid-sentence
                    continue
                speak_q.put_nowait(piece)
            speak_q.put_nowait(_DONE)
            await speaker_task
        finally:
            self._pacing.release()
            if not speaker_task.done():
                speaker_task.cancel()
                await asyncio.gather(speaker_task, return_exceptions=True)

    async def _round(self, prompt: list[ChatMessage], request: ToolRequest | None, pieces: SpeakableStream,
                     speak_q: asyncio.Queue[SpeechPiece | _Done]) -> ToolCalls:
        """One LLM round: its text is spoken as it comes; returns the calls it ended with."""
        r = self.r
        llm_t0 = time.monotonic()
        items = iterate_in_thread(self.workers.llm, lambda stop: reply_items(
            self.chat, prompt, self.o.generation, request, r.cancel,
            self._pacing.after_token))
        self._deltas = 0
        try:
            async for item in items:
                if self._speaker is not None and self._speaker.done():
                    break  # speech failed: run() re-raises its error; generating more is wasted
                if not isinstance(item, str):
                    return item
                if r.latency.llm_first_token is None:
                    r.latency = replace(r.latency, llm_first_token=(time.monotonic() - llm_t0) * 1000)
                self._deltas += 1
                r.text += item
                self.show(r, ReplyDelta(r.turn, item))
                new = pieces.push(item)
                self._pacing.token_taken(first_piece_cut=bool(new) and self._spoken == 0)  # the first audio goes first
                for piece in new:
                    speak_q.put_nowait(piece)
                    self._spoken += 1
        finally:
            self._pacing.release()  # a thread still waiting goes on, to see that it is cancelled
            items.cancel()
        return ()

    async def _run_tool(self, call: ToolCall, speak_q: asyncio.Queue[SpeechPiece | _Done]) -> ToolOutcome:
        """Run ``call`` (only once the reply's gate is open: a speculative reply the user talks
        over must not have done anything); a slow tool gets a short spoken filler."""
        assert self.tools is not None and self.tools.runner is not None
        await self.r.gate.wait()
        task = asyncio.ensure_future(run_call(self.tools.runner, call, self.workers.tools, self.tools.timeout_s))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.tools.filler_after_s)
            if not done:
                speak_q.put_nowait(SpeechPiece("", FILLER))  # heard, but not the model's words
            outcome = await task
        finally:
            task.cancel()
        self.show(self.r, ToolFinished(self.r.turn, outcome))
        return outcome

    def _drop_unfinished(self, tail: str) -> None:
        """Not say the sentence the token cap cut off; the reply (and history) ends before it."""
        text = self.r.text.rstrip()
        if text.endswith(tail):
            self.r.text = text[: len(text) - len(tail)].rstrip()

    async def _speak_pieces(self, speak_q: asyncio.Queue[SpeechPiece | _Done]) -> None:
        try:
            await self._speak_each(speak_q)
        finally:
            self._pacing.release()  # never leave the LLM waiting on a first piece that failed

    async def _speak_each(self, speak_q: asyncio.Queue[SpeechPiece | _Done]) -> None:
        r = self.r
        loop = asyncio.get_running_loop()
        while True:
            item = await speak_q.get()
            if isinstance(item, _Done):
                break
            chunk = item.text
            t0 = time.monotonic()
            audio = await loop.run_in_executor(self.workers.tts, self._synthesize, item.spoken)
            if r.cancel.is_set():
                return
            if r.latency.tts_first_audio is None:
                r.latency = replace(r.latency, tts_first_audio=(time.monotonic() - t0) * 1000)
            await r.gate.wait()
            # A speculative reply goes on generating only once its turn is confirmed: the turn
            # model runs now (see turn_end), and beside the LLM it took ~3x as long on two cores.
            self._pacing.release()
            if r.cancel.is_set():
                return
            piece = len(r.pieces)
            r.pieces.append(chunk)
            self.player.enqueue(r.turn, piece, audio)
            self.show(r, ReplyAudio(r.turn, piece, chunk, audio.samples, audio.sample_rate_hz))
            self.on_queued()
        if not r.cancel.is_set():
            await self._played_out()

    async def _played_out(self) -> None:
        """Until the player has played everything queued for this reply (or was cleared)."""
        loop = asyncio.get_running_loop()
        drained: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            if not drained.done():
                drained.set_result(None)

        self.player.when_drained(self.r.turn, lambda: post(loop, resolve))
        await drained

    def _synthesize(self, text: str) -> AudioChunk:
        """TTS thread: the whole piece as one chunk. A piece cut mid-sentence (no punctuation at
        its end) keeps only a short pause after it: the voice's sentence-final silence would
        be a gap inside the sentence."""
        chunks = list(self.voice.synthesize(text, self.o.speed))
        if not chunks:
            return AudioChunk(np.zeros(0, np.float32), self.voice.sample_rate_hz)
        rate = chunks[0].sample_rate_hz
        samples = np.concatenate([c.samples for c in chunks])
        if not _PUNCTUATED_END.search(text):
            samples = _trim_trailing_silence(samples, rate)
        return AudioChunk(samples, rate)
