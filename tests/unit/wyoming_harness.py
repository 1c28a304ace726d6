"""Drive the Wyoming connection handler over a loopback socket with fake STT/TTS engines (no
models): the fakes, a raw client on the `wyoming` package's event framing, and `run(engines, script)`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import NoReturn, TypeVar

import numpy as np
from wyoming.audio import AudioChunk, AudioStart
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe, Info

from voicecli.audio.format import AudioChunk as FloatChunk
from voicecli.server.wyoming import (
    ModelCard,
    ModelSlot,
    Speaker,
    WyomingEngines,
    WyomingHandler,
)
from voicecli.stt.types import Segment, TranscribeOptions, Transcriber, Transcription, TranscriptionInfo

HOST = "127.0.0.1"
READ_TIMEOUT_S = 5.0
VOICE = "en_US-fake-low"
VOICE_RATE_HZ = 22050


class FakeTranscriber:
    """Segments " Hello" and " world."; ``fail_at``: raise before that many segments (0: at once)."""

    name = "fake-stt"
    is_multilingual = False

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.samples_heard: list[int] = []

    def transcribe_stream(self, audio: np.ndarray,
                          options: TranscribeOptions) -> tuple[TranscriptionInfo, Iterator[Segment]]:
        self.samples_heard.append(len(audio))
        if self.fail_at == 0:
            raise RuntimeError("decoder exploded")
        return TranscriptionInfo("en", 1.0, len(audio) / 16000), self._segments()

    def _segments(self) -> Iterator[Segment]:
        for i, text in enumerate([" Hello", " world."]):
            if self.fail_at == i + 1:
                raise RuntimeError("decoder exploded")
            yield Segment(i, float(i), float(i + 1), text)

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        raise AssertionError("the Wyoming server streams: transcribe_stream only")


class FakeSpeaker:
    """Fewer samples per call than one audio-chunk holds; raises when the text contains "boom"."""

    name = VOICE
    sample_rate_hz = VOICE_RATE_HZ

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[FloatChunk]:
        if "boom" in text.lower():
            raise RuntimeError("vocoder exploded")
        yield FloatChunk(np.full(1000, 0.25, np.float32), VOICE_RATE_HZ)


def _refuse() -> NoReturn:
    raise RuntimeError("no such file")


def make_engines(transcriber: FakeTranscriber | None = None, broken: bool = False) -> WyomingEngines:
    """One fake STT model ("en") and one fake voice ("en_US"); ``broken``: both fail to load."""
    t, s = transcriber or FakeTranscriber(), FakeSpeaker()
    stt: ModelSlot[Transcriber] = ModelSlot(ModelCard("fake-stt", ("en",), "fake"), _refuse if broken else lambda: t)
    tts: ModelSlot[Speaker] = ModelSlot(ModelCard(VOICE, ("en_US",), "fake"), _refuse if broken else lambda: s)
    return WyomingEngines(stt=[stt], tts=[tts])


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, *events: Event) -> None:
        for event in events:
            await async_write_event(event, self.writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read(self) -> Event | None:
        return await asyncio.wait_for(async_read_event(self.reader), READ_TIMEOUT_S)

    async def read_until(self, *types: str) -> list[Event]:
        events: list[Event] = []
        while True:
            event = await self.read()
            assert event is not None, f"connection closed after {[e.type for e in events]}"
            events.append(event)
            if event.type in types:
                return events

    async def read_to_close(self) -> list[Event]:
        events = []
        while (event := await self.read()) is not None:
            events.append(event)
        return events

    async def assert_alive(self) -> None:
        """The same connection still answers ``describe`` (and nothing else was queued before it)."""
        await self.send(Describe().event())
        reply = await self.read()
        assert reply is not None and Info.is_type(reply.type), reply


@contextlib.asynccontextmanager
async def connect(engines: WyomingEngines) -> AsyncIterator[Client]:
    """A server with one handler per connection, and one client connected to it."""
    info_event = engines.info().event()
    handlers: list[asyncio.Task[None]] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        await WyomingHandler(engines, info_event, reader, writer).run()

    server = await asyncio.start_server(on_connect, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        yield Client(reader, writer)
    finally:
        writer.close()
        server.close()
        await asyncio.wait_for(asyncio.gather(*handlers), READ_TIMEOUT_S)  # every handler ends cleanly
        engines.close()


R = TypeVar("R")


def run(engines: WyomingEngines, script: Callable[[Client], Awaitable[R]]) -> R:
    async def main() -> R:
        async with connect(engines) as client:
            return await script(client)
    return asyncio.run(main())


def error_of(event: Event | None) -> Error:
    assert event is not None and Error.is_type(event.type), event
    return Error.from_event(event)


PCM_16K = AudioStart(rate=16000, width=2, channels=1)


def chunk(pcm: bytes, rate: int = 16000, width: int = 2, channels: int = 1) -> Event:
    return AudioChunk(rate=rate, width=width, channels=channels, audio=pcm).event()
