"""One connection's speech to text: ``transcribe`` → ``audio-start``, ``audio-chunk``…,
``audio-stop`` → ``transcript-start``, one ``transcript-chunk`` per segment as it is decoded,
``transcript``, ``transcript-stop``; then the connection closes, as wyoming-faster-whisper does
(Home Assistant opens a new connection per utterance). Received audio of any PCM format is
converted to 16 kHz 16-bit mono as it arrives."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart

from voicecli.audio.format import PIPELINE_RATE_HZ, pcm16_to_float
from voicecli.concurrency import iterate_in_thread
from voicecli.languages import base_language
from voicecli.server.wyoming.catalog import ModelSlot, WyomingEngines
from voicecli.server.wyoming.protocol import (
    PCM_WIDTH_BYTES,
    ErrorCode,
    EventSink,
    ProtocolError,
    check_format,
    worker_item,
)
from voicecli.stt.types import Segment, TranscribeOptions, Transcriber, TranscriptionInfo

_LOGGER = logging.getLogger(__name__)

MAX_UTTERANCE_S = 300.0
"""Longer audio streams are refused (memory bound)."""


def _transcription_items(transcriber: Transcriber, audio: np.ndarray,
                         options: TranscribeOptions) -> Iterator[TranscriptionInfo | Segment]:
    """Worker thread: the info, then each segment as faster-whisper decodes it (one window at a time)."""
    info, segments = transcriber.transcribe_stream(audio, options)
    yield info
    yield from segments


class SttFlow:
    """The speech-to-text state of one connection; replies through ``sink``."""

    def __init__(self, engines: WyomingEngines, sink: EventSink) -> None:
        self.engines = engines
        self._sink = sink
        self._slot: ModelSlot[Transcriber] | None = None
        self._language: str | None = None
        self._converter: AudioChunkConverter | None = None
        """Set between audio-start and audio-stop."""
        self._pcm = bytearray()
        self._too_long = False
        self._orphan_reported = False

    def on_transcribe(self, request: Transcribe) -> None:
        for key, value in (("name", request.name), ("language", request.language)):
            if value is not None and not isinstance(value, str):
                raise ProtocolError(ErrorCode.INVALID_EVENT, f"transcribe {key} must be a string")
        slot = self.engines.pick_stt(request.name, request.language)
        lang = base_language(request.language)
        self._slot = slot
        self._language = lang if lang in slot.card.languages else None
        if not slot.loaded:  # load while the user speaks
            slot.executor.submit(slot.get)

    def on_audio_start(self, start: AudioStart) -> None:
        check_format(start.rate, start.width, start.channels)
        self._converter = AudioChunkConverter(rate=PIPELINE_RATE_HZ, width=PCM_WIDTH_BYTES, channels=1)
        self._pcm = bytearray()
        self._too_long = False
        self._orphan_reported = False

    def on_audio_chunk(self, chunk: AudioChunk) -> None:
        if self._converter is None:
            if self._orphan_reported:
                return
            self._orphan_reported = True
            raise ProtocolError(ErrorCode.UNEXPECTED_EVENT, "audio-chunk before audio-start: send "
                                "audio-start {rate, width, channels} first (audio ignored)")
        check_format(chunk.rate, chunk.width, chunk.channels)
        if len(chunk.audio) % (chunk.width * chunk.channels):
            raise ProtocolError(ErrorCode.INVALID_EVENT, "audio-chunk payload is not a whole number of frames")
        if self._too_long:
            return
        self._pcm += self._converter.convert(chunk).audio
        if len(self._pcm) > MAX_UTTERANCE_S * PIPELINE_RATE_HZ * PCM_WIDTH_BYTES:
            self._too_long = True
            self._pcm = bytearray()
            raise ProtocolError(ErrorCode.AUDIO_TOO_LONG, f"audio longer than {MAX_UTTERANCE_S:.0f} s: not transcribed")

    async def on_audio_stop(self) -> bool:
        """Transcribe the utterance; False: close the connection (one utterance per connection)."""
        if self._converter is None:
            raise ProtocolError(ErrorCode.UNEXPECTED_EVENT, "audio-stop without audio-start")
        pcm, too_long = bytes(self._pcm), self._too_long
        self._converter, self._pcm = None, bytearray()
        if too_long:
            raise ProtocolError(ErrorCode.AUDIO_TOO_LONG, f"audio longer than {MAX_UTTERANCE_S:.0f} s", closes=True)
        await self._transcribe(pcm)
        return False  # like wyoming-faster-whisper

    async def _transcribe(self, pcm: bytes) -> None:
        write = self._sink.write_event
        slot = self._slot or self.engines.pick_stt(None, self.engines.stt_options.language)
        language = self._language or base_language(self.engines.stt_options.language)
        if not pcm:
            for event in (TranscriptStart(language=language), Transcript(text="", language=language),
                          TranscriptStop()):
                await write(event.event())
            return
        transcriber = await slot.acquire()
        options = replace(self.engines.stt_options, language=language)
        started = time.perf_counter()
        audio = pcm16_to_float(pcm)
        feed = iterate_in_thread(slot.executor, lambda _stop: _transcription_items(transcriber, audio, options))
        pieces: list[str] = []
        try:
            while (item := await worker_item(feed, ErrorCode.STT_FAILED, "transcription failed",
                                             closes=True)) is not None:
                if isinstance(item, TranscriptionInfo):
                    language = item.language
                    await write(TranscriptStart(language=language).event())
                elif isinstance(item, Segment):
                    piece = item.text.rstrip() if pieces else item.text.strip()
                    if piece:
                        pieces.append(piece)
                        await write(TranscriptChunk(text=piece).event())
        finally:
            feed.cancel()
        text = "".join(pieces)
        await write(Transcript(text=text, language=language).event())
        await write(TranscriptStop().event())
        _LOGGER.info("transcribed %.1f s of audio with %s in %.2f s", len(pcm) / 2 / PIPELINE_RATE_HZ,
                     slot.card.name, time.perf_counter() - started)
        _LOGGER.debug("transcript: %r", text)
