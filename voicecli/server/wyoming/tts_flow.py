"""One connection's text to speech.

- ``synthesize`` → one ``audio-start`` … ``audio-stop`` block, synthesized sentence by sentence.
- ``synthesize-start``/``-chunk``…/``-stop`` → one start/chunks/stop block per piece as soon as
  it is complete (the first clause early, then sentences: what the listener waits for), then
  ``synthesize-stopped``; the connection stays open.

Audio is the voice's native rate, 16-bit mono, the same rate for every block. Synthesis of a
piece starts when it is queued (in the voice's thread); one task writes the queued jobs in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStopped

from voicecli.audio.format import float_to_pcm16
from voicecli.concurrency import ThreadIterator, iterate_in_thread
from voicecli.server.wyoming.catalog import ModelSlot, Speaker, WyomingEngines
from voicecli.server.wyoming.protocol import PCM_WIDTH_BYTES, ErrorCode, EventSink, ProtocolError, worker_item
from voicecli.tts.speakable import SpeakableStream, split_for_speech, whole_sentences

_LOGGER = logging.getLogger(__name__)

TTS_SAMPLES_PER_CHUNK = 1024
"""Samples per ``audio-chunk`` sent (wyoming-piper's default)."""
DRAIN_TIMEOUT_S = 60.0
"""After the client stops sending, queued speech is still delivered (half-closed sockets) for so long."""

_Speech = ThreadIterator[bytes]
"""A piece of text being synthesized: its PCM as the voice's thread makes it."""


def _is_ssml(text_format: object) -> bool:
    """A ``synthesize`` ``text_format`` (an enum or a string) that says SSML."""
    return text_format is not None and str(getattr(text_format, "value", text_format)) == "ssml"


def _pcm_of(speaker: Speaker, text: str, speed: float) -> Iterator[bytes]:
    """Worker thread: 16-bit PCM, one chunk per sentence Piper makes."""
    for chunk in speaker.synthesize(text, speed):
        yield float_to_pcm16(chunk.samples)


@dataclass
class _TextStream:
    """An open ``synthesize-start`` stream (``slot`` None: it failed to open; swallow its chunks)."""

    slot: ModelSlot[Speaker] | None
    speaker: Speaker | None
    text: SpeakableStream


def _language(slot: ModelSlot[Speaker]) -> str | None:
    """The voice's language (its first locale): numbers are said in it."""
    return slot.card.languages[0] if slot.card.languages else None


class TtsFlow:
    """The text-to-speech state of one connection; replies through ``sink``."""

    def __init__(self, engines: WyomingEngines, sink: EventSink) -> None:
        self.engines = engines
        self._sink = sink
        self._stream: _TextStream | None = None
        self._jobs: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self._speaking: asyncio.Task[None] | None = None
        self._pieces: set[_Speech] = set()

    # -- events -----------------------------------------------------------------------------

    async def on_synthesize(self, request: Synthesize) -> None:
        if self._stream is not None:
            return  # the whole text, repeated inside a stream for older servers: already being spoken
        try:
            if not isinstance(request.text, str):
                raise ProtocolError(ErrorCode.INVALID_EVENT, "synthesize text must be a string")
            slot = self.engines.pick_voice(request.voice)
            # Whole sentences: the client gets all the text at once and Home Assistant plays nothing
            # before audio-stop, so an early first clause (an extra Piper call) would only cost time.
            texts = split_for_speech(request.text, whole_sentences(self.engines.chunker),
                                     ssml=_is_ssml(request.text_format), language=_language(slot))
            if not texts:
                raise ProtocolError(ErrorCode.EMPTY_TEXT, "nothing to say: the text is empty")
            speaker = await slot.acquire()
        except ProtocolError as exc:
            # audio-stop too: clients that wait for it (older Home Assistant) do not hang
            self._enqueue(partial(self._send_failure, exc))
            return
        pieces = [self._start_speech(slot, speaker, t) for t in texts]
        self._enqueue(partial(self._send_block, speaker.sample_rate_hz, pieces))

    async def on_synthesize_start(self, request: SynthesizeStart) -> None:
        if self._stream is not None:
            raise ProtocolError(ErrorCode.UNEXPECTED_EVENT,
                                "synthesize-start inside a stream: send synthesize-stop first")
        self._stream = _TextStream(None, None, SpeakableStream(self.engines.chunker))
        slot = self.engines.pick_voice(request.voice)
        self._stream.text = SpeakableStream(self.engines.chunker, language=_language(slot))
        self._stream = _TextStream(slot, await slot.acquire(), self._stream.text)

    def on_synthesize_chunk(self, chunk: SynthesizeChunk) -> None:
        if self._stream is None:
            raise ProtocolError(ErrorCode.UNEXPECTED_EVENT,
                                "synthesize-chunk outside a stream: send synthesize-start first")
        if not isinstance(chunk.text, str):
            raise ProtocolError(ErrorCode.INVALID_EVENT, "synthesize-chunk text must be a string")
        for piece in self._stream.text.push(chunk.text):
            self._speak_in_stream(piece.spoken)

    def on_synthesize_stop(self) -> None:
        if self._stream is None:
            raise ProtocolError(ErrorCode.UNEXPECTED_EVENT, "synthesize-stop without synthesize-start")
        for piece in self._stream.text.flush():
            self._speak_in_stream(piece.spoken)
        self._stream = None
        self._enqueue(self._send_stopped)

    # -- lifetime ---------------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait (bounded) until everything queued has been written."""
        if self._speaking is not None and not self._speaking.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._jobs.join(), DRAIN_TIMEOUT_S)

    async def close(self) -> None:
        """Stop every synthesis and the writer task."""
        self._cancel_pieces()
        if self._speaking is not None and not self._speaking.done():
            self._speaking.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._speaking

    # -- synthesis and the job queue --------------------------------------------------------

    def _speak_in_stream(self, text: str) -> None:
        assert self._stream is not None
        slot, speaker = self._stream.slot, self._stream.speaker
        if slot is not None and speaker is not None:
            piece = self._start_speech(slot, speaker, text)
            self._enqueue(partial(self._send_stream_piece, speaker.sample_rate_hz, piece))

    def _start_speech(self, slot: ModelSlot[Speaker], speaker: Speaker, text: str) -> _Speech:
        speed = self.engines.speed
        piece = iterate_in_thread(slot.executor, lambda _stop: _pcm_of(speaker, text, speed))
        self._pieces.add(piece)
        return piece

    def _cancel_pieces(self) -> None:
        for piece in list(self._pieces):
            piece.cancel()

    def _enqueue(self, job: Callable[[], Awaitable[None]]) -> None:
        self._jobs.put_nowait(job)
        if self._speaking is None or self._speaking.done():
            self._speaking = asyncio.create_task(self._speak_jobs(), name="wyoming speech")

    async def _speak_jobs(self) -> None:
        try:
            while True:
                job = await self._jobs.get()
                try:
                    await job()
                except ConnectionError:
                    raise
                except Exception as exc:  # a bug in one job must not silence the rest
                    _LOGGER.exception("speech job failed")
                    await self._sink.send_error(ProtocolError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}"))
                finally:
                    self._jobs.task_done()
        except ConnectionError as exc:
            _LOGGER.debug("client went away while speaking: %s", exc)
            self._cancel_pieces()
            while not self._jobs.empty():
                self._jobs.get_nowait()
                self._jobs.task_done()
            self._sink.close_connection()

    # -- writing ----------------------------------------------------------------------------

    async def _send_audio(self, piece: _Speech, rate_hz: int) -> None:
        step = TTS_SAMPLES_PER_CHUNK * PCM_WIDTH_BYTES
        try:
            while (pcm := await worker_item(piece, ErrorCode.TTS_FAILED, "speech synthesis failed")) is not None:
                for i in range(0, len(pcm), step):
                    await self._sink.write_event(AudioChunk(rate=rate_hz, width=PCM_WIDTH_BYTES, channels=1,
                                                            audio=pcm[i:i + step]).event())
        finally:
            self._pieces.discard(piece)

    async def _send_block(self, rate_hz: int, pieces: list[_Speech]) -> None:
        await self._sink.write_event(AudioStart(rate=rate_hz, width=PCM_WIDTH_BYTES, channels=1).event())
        try:
            for piece in pieces:
                await self._send_audio(piece, rate_hz)
        except ProtocolError as exc:
            for piece in pieces:
                piece.cancel()
            await self._sink.send_error(exc)
        await self._sink.write_event(AudioStop().event())

    async def _send_stream_piece(self, rate_hz: int, piece: _Speech) -> None:
        await self._sink.write_event(AudioStart(rate=rate_hz, width=PCM_WIDTH_BYTES, channels=1).event())
        try:
            await self._send_audio(piece, rate_hz)
        except ProtocolError as exc:
            await self._sink.send_error(exc)
        await self._sink.write_event(AudioStop().event())

    async def _send_failure(self, exc: ProtocolError) -> None:
        await self._sink.send_error(exc)
        await self._sink.write_event(AudioStop().event())

    async def _send_stopped(self) -> None:
        await self._sink.write_event(SynthesizeStopped().event())
