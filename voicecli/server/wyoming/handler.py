"""One Wyoming client connection (``wyoming.server.AsyncServer`` makes one per connection): reads
events with limits, answers ``describe``/``ping``/``select-program`` itself, hands speech to
text to :class:`SttFlow` and text to speech to :class:`TtsFlow`, and turns anything wrong
(unreadable JSON, unknown or out-of-order events, bad fields, a failing model) into an
``error {text, code}``: the connection and the server live on."""

from __future__ import annotations

import asyncio
import logging

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, SelectProgram
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from voicecli.server.wyoming.catalog import WyomingEngines
from voicecli.server.wyoming.protocol import MAX_BAD_EVENTS_IN_A_ROW, ErrorCode, ProtocolError, read_event
from voicecli.server.wyoming.stt_flow import SttFlow
from voicecli.server.wyoming.tts_flow import TtsFlow

_LOGGER = logging.getLogger(__name__)


class WyomingHandler(AsyncEventHandler):
    """One client connection: the STT and TTS state machines of PROTOCOLS.md §3.4."""

    def __init__(self, engines: WyomingEngines, info_event: Event, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.engines = engines
        self._info_event = info_event
        self._write_lock = asyncio.Lock()
        self._stt = SttFlow(engines, self)
        self._tts = TtsFlow(engines, self)

    # -- plumbing ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Read events until EOF or a handler asks to close; a bad line gets an ``error``, not a hang-up."""
        bad_in_a_row = 0
        try:
            while True:
                try:
                    event = await read_event(self.reader)
                except ProtocolError as exc:
                    await self.send_error(exc)
                    bad_in_a_row += 1
                    if exc.closes or bad_in_a_row >= MAX_BAD_EVENTS_IN_A_ROW:
                        break
                    continue
                if event is None:
                    break
                bad_in_a_row = 0
                if not await self._dispatch(event):
                    break
            await self._tts.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            _LOGGER.debug("client went away")
        finally:
            await self.disconnect()
            self.writer.close()

    async def _dispatch(self, event: Event) -> bool:
        try:
            return await self.handle_event(event)
        except ConnectionError:
            raise
        except ProtocolError as exc:
            await self.send_error(exc)
            return not exc.closes
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a known event with bad fields
            await self.send_error(ProtocolError(ErrorCode.INVALID_EVENT, f"invalid '{event.type}' event: {exc!r}"))
            return True
        except Exception as exc:
            _LOGGER.exception("error handling %s", event.type)
            await self.send_error(ProtocolError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}"))
            return True

    async def write_event(self, event: Event) -> None:
        async with self._write_lock:  # the speech task and the reader both write
            await super().write_event(event)

    async def send_error(self, exc: ProtocolError) -> None:
        _LOGGER.info("error %s: %s", exc.code, exc.text)
        await self.write_event(Error(text=exc.text, code=exc.code).event())

    def close_connection(self) -> None:
        self.writer.close()

    async def disconnect(self) -> None:
        await self._tts.close()

    # -- events -----------------------------------------------------------------------------

    async def handle_event(self, event: Event) -> bool:
        kind = event.type
        if Describe.is_type(kind):
            await self.write_event(self._info_event)
        elif Ping.is_type(kind):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif SelectProgram.is_type(kind):
            name = SelectProgram.from_event(event).name
            offered = self.engines.programs()
            if name not in offered:
                raise ProtocolError(ErrorCode.UNKNOWN_MODEL,
                                    f"unknown program '{name}' (programs: {', '.join(offered)})")
        elif Transcribe.is_type(kind):
            self._stt.on_transcribe(Transcribe.from_event(event))
        elif AudioStart.is_type(kind):
            self._stt.on_audio_start(AudioStart.from_event(event))
        elif AudioChunk.is_type(kind):
            self._stt.on_audio_chunk(AudioChunk.from_event(event))
        elif AudioStop.is_type(kind):
            return await self._stt.on_audio_stop()
        elif Synthesize.is_type(kind):
            await self._tts.on_synthesize(Synthesize.from_event(event))
        elif SynthesizeStart.is_type(kind):
            await self._tts.on_synthesize_start(SynthesizeStart.from_event(event))
        elif SynthesizeChunk.is_type(kind):
            self._tts.on_synthesize_chunk(SynthesizeChunk.from_event(event))
        elif SynthesizeStop.is_type(kind):
            self._tts.on_synthesize_stop()
        else:
            raise ProtocolError(ErrorCode.UNKNOWN_EVENT, f"unknown event type '{kind}'")
        return True
