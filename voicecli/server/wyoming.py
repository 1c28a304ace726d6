"""Wyoming protocol server (Home Assistant's voice protocol): Whisper speech-to-text and Piper
text-to-speech on one port. Spec: shared/PROTOCOLS.md §3.

- ``describe`` → ``info``: every STT model and Piper voice usable offline, with their languages.
- ``transcribe`` + ``audio-start``/``audio-chunk``…/``audio-stop`` → ``transcript-start``, one
  ``transcript-chunk`` per segment as it is decoded, ``transcript``, ``transcript-stop``; then the
  server closes the connection, as wyoming-faster-whisper does (Home Assistant opens a new
  connection per utterance and reads until ``transcript``).
- ``synthesize`` → one ``audio-start`` … ``audio-stop`` block, synthesized sentence by sentence.
  ``synthesize-start``/``-chunk``…/``-stop`` → one start/chunks/stop block per piece as soon as it
  is complete (the first clause early, then sentences: what the listener waits for), then
  ``synthesize-stopped``; the connection stays open. Audio is the voice's native rate, 16-bit
  mono, the same rate for every block.
- Anything wrong (unreadable JSON, unknown or out-of-order events, empty text, a model failing)
  is answered with ``error {text, code}``; the connection and the server live on.

One :class:`WyomingHandler` per connection (``wyoming.server.AsyncServer``). Engines stay
blocking: each model runs in its own single-thread executor, and its lazy generators
(faster-whisper segments, Piper sentences) are consumed in that thread and handed to the loop
with ``call_soon_threadsafe``, so the loop always answers ``describe`` at once.

Standalone: ``python -m voicecli.server.wyoming --uri tcp://127.0.0.1:10300 [--model M] [--voice V]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import ipaddress
import json
import logging
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import numpy as np
from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Describe,
    Info,
    SelectProgram,
    TtsProgram,
    TtsVoice,
)
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler, AsyncServer, AsyncStdioServer
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from voicecli import __version__
from voicecli.audio.format import PIPELINE_RATE_HZ, float_to_pcm16, pcm16_to_float
from voicecli.errors import ConfigError, VoicecliError
from voicecli.stt.types import Segment, TranscribeOptions, TranscriptionInfo
from voicecli.tts.chunker import ChunkerParams, SpeechChunker
from voicecli.tts.normalize import normalize_for_speech

_LOGGER = logging.getLogger(__name__)

STT_PROGRAM = "voicecli-stt"
TTS_PROGRAM = "voicecli-tts"
PCM_WIDTH_BYTES = 2
TTS_SAMPLES_PER_CHUNK = 1024
"""Samples per ``audio-chunk`` sent (wyoming-piper's default)."""
MAX_UTTERANCE_S = 300.0
"""Longer audio streams are refused (memory bound)."""
MAX_BAD_EVENTS_IN_A_ROW = 20
"""Unreadable event headers tolerated in a row before the connection is closed."""
MAX_DATA_BYTES = 1 << 20
MAX_PAYLOAD_BYTES = 16 << 20
DRAIN_TIMEOUT_S = 60.0
"""After the client stops sending, queued speech is still delivered (half-closed sockets) for so long."""

_WHISPER = Attribution(name="OpenAI Whisper (SYSTRAN faster-whisper)", url="https://github.com/SYSTRAN/faster-whisper")
_PIPER = Attribution(name="Piper (Open Home Foundation)", url="https://github.com/OHF-Voice/piper1-gpl")


class ErrorCode:
    """``code`` values of the ``error`` events this server sends."""

    INVALID_JSON = "invalid-json"
    INVALID_EVENT = "invalid-event"
    UNKNOWN_EVENT = "unknown-event"
    UNEXPECTED_EVENT = "unexpected-event"
    EMPTY_TEXT = "empty-text"
    UNKNOWN_MODEL = "unknown-model"
    UNKNOWN_VOICE = "unknown-voice"
    NOT_SERVED = "not-served"
    AUDIO_TOO_LONG = "audio-too-long"
    MODEL_LOAD_FAILED = "model-load-failed"
    STT_FAILED = "stt-failed"
    TTS_FAILED = "tts-failed"
    INTERNAL = "internal-error"


class ProtocolError(Exception):
    """A request this server refuses; sent to the client as ``error``. ``closes``: the connection
    cannot go on (the byte stream is out of sync, or the utterance is over)."""

    def __init__(self, code: str, text: str, closes: bool = False) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.closes = closes


class Speaker(Protocol):
    """What the server needs from a TTS voice (voicecli.tts.piper_voice.PiperSpeaker)."""

    name: str
    sample_rate_hz: int

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[Any]:
        """Blocking; yields chunks with float32 ``samples`` at ``sample_rate_hz``."""
        ...


# ---------------------------------------------------------------------------------------------
# Models on offer


@dataclass(frozen=True)
class ModelCard:
    """What ``info`` says about one STT model or voice."""

    name: str
    languages: tuple[str, ...]
    description: str


class ModelSlot:
    """One model on offer: listed in ``info`` from the start, loaded on first use, and run in its
    own single thread (the models are stateful and the machine has few cores)."""

    def __init__(self, card: ModelCard, load: Callable[[], Any], instance: Any = None,
                 executor: Executor | None = None) -> None:
        self.card = card
        self._load = load
        self._instance = instance
        self._owns_executor = executor is None
        self.executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"wyoming-{card.name}")
        """Pass a shared single-thread executor when another server uses the same model object
        (Piper's phonemizer is not thread-safe)."""

    @property
    def loaded(self) -> bool:
        return self._instance is not None

    def close(self) -> None:
        if self._owns_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)

    def get(self) -> Any:
        """Blocking: the model, loaded first if needed. Call it in :attr:`executor`."""
        if self._instance is None:
            self._instance = self._load()
        return self._instance

    async def acquire(self) -> Any:
        if self._instance is not None:
            return self._instance
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, self.get)
        except Exception as exc:
            detail = exc.one_line() if isinstance(exc, VoicecliError) else f"{type(exc).__name__}: {exc}"
            raise ProtocolError(ErrorCode.MODEL_LOAD_FAILED, f"cannot load '{self.card.name}': {detail}") from exc


@dataclass
class WyomingEngines:
    """The models a Wyoming server offers; the first of each kind is the default."""

    stt: Sequence[ModelSlot]
    tts: Sequence[ModelSlot]
    stt_options: TranscribeOptions = field(default_factory=TranscribeOptions)
    """Per-call STT options; ``language`` is the default when ``transcribe`` names none."""
    speed: float = 1.0
    chunker: ChunkerParams = field(default_factory=ChunkerParams)

    @classmethod
    def from_settings(cls, settings: Any, *, transcriber: Any = None, speaker: Any = None,
                      executors: Mapping[str, Executor] | None = None, preload: bool = True) -> WyomingEngines:
        """Offer every STT model and Piper voice usable without a download (``voicecli models``),
        the configured ones first. Blocking: loads and warms up the defaults unless given or
        ``preload`` is False. ``executors`` ("stt", "tts"): single-thread executors to run the
        given ``transcriber``/``speaker`` in, when another server shares those objects."""
        from voicecli import engines as E
        from voicecli.tts.piper_voice import PiperSpeaker

        executors = executors or {}
        res = E.resolver(settings)
        available = {(m.kind, m.name): m for m in res.available()}
        stt: list[ModelSlot] = []
        if transcriber is not None:
            known = available.get(("stt", transcriber.name))
            card = ModelCard(transcriber.name, _stt_languages(known.languages if known else (), transcriber.name,
                                                              getattr(transcriber, "is_multilingual", None)),
                             f"Whisper {transcriber.name}")
            stt.append(ModelSlot(card, lambda: transcriber, transcriber, executors.get("stt")))
        for m in [res.resolve("stt", settings.stt.model), *(m for m in available.values() if m.kind == "stt")]:
            if all(s.card.name != m.name for s in stt):
                card = ModelCard(m.name, _stt_languages(m.languages, m.name, None), f"Whisper {m.name}")
                stt.append(ModelSlot(card, partial(E.load_transcriber, settings, m)))
        tts: list[ModelSlot] = []
        if speaker is not None:
            known = available.get(("tts", speaker.name))
            card = ModelCard(speaker.name, _voice_languages(known.languages if known else (), speaker.name,
                                                            known.path if known else None), speaker.name)
            tts.append(ModelSlot(card, lambda: speaker, speaker, executors.get("tts")))
        for m in [res.resolve("tts", settings.tts.voice), *(m for m in available.values() if m.kind == "tts")]:
            if all(s.card.name != m.name for s in tts):
                card = ModelCard(m.name, _voice_languages(m.languages, m.name, m.path), m.name)
                tts.append(ModelSlot(card, partial(PiperSpeaker, m.path, m.name)))
        engines = cls(stt, tts, TranscribeOptions(language=settings.stt.language, beam_size=settings.stt.beam_size),
                      speed=settings.tts.speed,
                      chunker=ChunkerParams(first_chunk_min_words=settings.tts.first_chunk_min_words))
        if preload:
            for slot in (stt[0], tts[0]):
                if not slot.loaded:
                    model = slot.get()
                    if hasattr(model, "warm_up"):
                        model.warm_up()
        return engines

    @classmethod
    def from_engines(cls, engines: Any, executors: Mapping[str, Executor] | None = None) -> WyomingEngines:
        """Adapt :class:`voicecli.engines.Engines` (its loaded transcriber and speaker become the defaults)."""
        return cls.from_settings(engines.settings, transcriber=engines.transcriber, speaker=engines.speaker,
                                 executors=executors)

    def info(self) -> Info:
        asr = [AsrProgram(name=STT_PROGRAM, attribution=_WHISPER, installed=True, version=__version__,
                          description="voicecli speech-to-text (faster-whisper)",
                          models=[AsrModel(name=s.card.name, attribution=_WHISPER, installed=True,
                                           description=s.card.description, version=None,
                                           languages=list(s.card.languages)) for s in self.stt],
                          supports_transcript_streaming=True)] if self.stt else []
        tts = [TtsProgram(name=TTS_PROGRAM, attribution=_PIPER, installed=True, version=__version__,
                          description="voicecli text-to-speech (Piper)",
                          voices=[TtsVoice(name=s.card.name, attribution=_PIPER, installed=True,
                                           description=s.card.description, version=None,
                                           languages=list(s.card.languages), speakers=None) for s in self.tts],
                          supports_synthesize_streaming=True)] if self.tts else []
        return Info(asr=asr, tts=tts)

    def pick_stt(self, name: str | None, language: str | None) -> ModelSlot:
        """The named model; else the default if it knows ``language``; else the first that does."""
        if not self.stt:
            raise ProtocolError(ErrorCode.NOT_SERVED, "this server has no speech-to-text model")
        if name:
            for slot in self.stt:
                if slot.card.name == name:
                    return slot
            raise ProtocolError(ErrorCode.UNKNOWN_MODEL, f"unknown STT model '{name}' (models: "
                                f"{', '.join(s.card.name for s in self.stt)})")
        lang = base_language(language)
        for slot in self.stt:
            if lang in slot.card.languages:
                return slot
        return self.stt[0]

    def pick_voice(self, voice: SynthesizeVoice | None) -> ModelSlot:
        """By name; else the first voice of the language (``en_US``, ``en-us`` or ``en``); neither: the default."""
        if not self.tts:
            raise ProtocolError(ErrorCode.NOT_SERVED, "this server has no text-to-speech voice")
        if voice is None or not (voice.name or voice.language):
            return self.tts[0]
        if voice.name:
            for slot in self.tts:
                if slot.card.name == voice.name:
                    return slot
            raise ProtocolError(ErrorCode.UNKNOWN_VOICE, f"unknown voice '{voice.name}' (voices: "
                                f"{', '.join(s.card.name for s in self.tts)})")
        wanted = _locale(voice.language)
        for match in (lambda lang: _locale(lang) == wanted,
                      lambda lang: base_language(lang) == base_language(voice.language)):
            for slot in self.tts:
                if any(match(lang) for lang in slot.card.languages):
                    return slot
        raise ProtocolError(ErrorCode.UNKNOWN_VOICE, f"no voice for language '{voice.language}' (languages: "
                            f"{', '.join(sorted({l for s in self.tts for l in s.card.languages}))})")

    def close(self) -> None:
        for slot in (*self.stt, *self.tts):
            slot.close()


def base_language(code: str | None) -> str | None:
    """``en-US``/``en_US``/``EN`` → ``en``."""
    if not code or not isinstance(code, str):
        return None
    return re.split(r"[-_]", code.strip().lower())[0] or None


def _locale(code: str | None) -> str:
    return (code or "").strip().lower().replace("-", "_")


def whisper_languages() -> tuple[str, ...]:
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES  # type: ignore[import-untyped]

        return tuple(_LANGUAGE_CODES)
    except ImportError:  # pragma: no cover - mlx-only installs
        return ("en", "de", "es", "fr", "it", "ja", "ko", "nl", "pt", "ru", "zh")


def _stt_languages(declared: tuple[str, ...], name: str, multilingual: bool | None) -> tuple[str, ...]:
    if multilingual is None:
        multilingual = "multi" in declared or (not declared and not name.endswith(".en"))
    if multilingual:
        return whisper_languages()
    return tuple(lang for lang in declared if lang != "multi") or ("en",)


def _voice_languages(declared: tuple[str, ...], name: str, path: Path | None) -> tuple[str, ...]:
    """The manifest's languages; else the voice config's; else the Piper name (``en_US-joe-medium``)."""
    if declared:
        return declared
    if path is not None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            config = json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))
            code = (config.get("language") or {}).get("code")
            if isinstance(code, str) and code:
                return (code,)
    match = re.match(r"^([a-z]{2,3}_[A-Z]{2})-", name)
    return (match.group(1),) if match else ()


# ---------------------------------------------------------------------------------------------
# Worker-thread side: blocking engines, lazy generators consumed here

_DONE = object()


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def _emitter(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[object]) -> Callable[[object], None]:
    def emit(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, item)
    return emit


def _run_transcription(transcriber: Any, audio: np.ndarray, options: TranscribeOptions,
                       cancel: threading.Event, emit: Callable[[object], None]) -> None:
    try:
        info, segments = transcriber.transcribe_stream(audio, options)
        emit(info)
        for segment in segments:  # decoding happens here, one window at a time
            if cancel.is_set():
                break
            emit(segment)
    except Exception as exc:  # noqa: BLE001 - reported to the client as an error event
        emit(_Failed(exc))
    finally:
        emit(_DONE)


def _run_synthesis(speaker: Speaker, text: str, speed: float, cancel: threading.Event,
                   emit: Callable[[object], None]) -> None:
    try:
        if cancel.is_set():
            return
        for chunk in speaker.synthesize(text, speed):
            emit(float_to_pcm16(chunk.samples))
            if cancel.is_set():
                break
    except Exception as exc:  # noqa: BLE001 - reported to the client as an error event
        emit(_Failed(exc))
    finally:
        emit(_DONE)


# ---------------------------------------------------------------------------------------------
# Reading events


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ProtocolError(ErrorCode.INVALID_EVENT, f"bad {key} {value!r} (0…{limit})", closes=True)
    return value


async def read_event(reader: asyncio.StreamReader) -> Event | None:
    """One event, or None at the end of the stream. Like ``wyoming.event.async_read_event``, but
    an unreadable header raises :class:`ProtocolError` (to answer) instead of looking like EOF."""
    try:
        line = await reader.readline()
    except ValueError as exc:  # longer than the stream's limit
        raise ProtocolError(ErrorCode.INVALID_JSON, f"event header line too long ({exc})") from exc
    if not line:
        return None
    try:
        header = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"event header is not JSON: {line[:60]!r}") from exc
    if not isinstance(header, dict) or not isinstance(header.get("type"), str) or not header["type"]:
        raise ProtocolError(ErrorCode.INVALID_EVENT, "event header must be a JSON object with a string 'type'")
    data_length = _length(header, "data_length", MAX_DATA_BYTES)
    payload_length = _length(header, "payload_length", MAX_PAYLOAD_BYTES)
    try:
        data_bytes = await reader.readexactly(data_length) if data_length else b""
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None
    data = header.get("data") or {}
    if data_bytes:
        try:
            extra = json.loads(data_bytes)
        except ValueError as exc:
            raise ProtocolError(ErrorCode.INVALID_JSON, f"'{header['type']}' data block is not JSON") from exc
        data = {**data, **extra} if isinstance(data, dict) and isinstance(extra, dict) else None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.INVALID_EVENT, f"'{header['type']}' data must be a JSON object")
    return Event(type=header["type"], data=data, payload=payload)


def _check_format(rate: Any, width: Any, channels: Any) -> None:
    ok = (isinstance(rate, int) and 1000 <= rate <= 384_000 and width in (1, 2, 3, 4)
          and isinstance(channels, int) and 1 <= channels <= 16)
    if not ok:
        raise ProtocolError(ErrorCode.INVALID_EVENT, f"unsupported audio format rate={rate!r} width={width!r} "
                            f"channels={channels!r} (PCM, width 1-4 bytes)")


def speakable(text: str, text_format: Any = None) -> str:
    """What Piper should read: SSML tags dropped, markdown/numbers/symbols normalised."""
    if text_format is not None and str(getattr(text_format, "value", text_format)) == "ssml":
        text = re.sub(r"<[^>]*>", " ", text)
    return normalize_for_speech(text)


# ---------------------------------------------------------------------------------------------
# One connection


@dataclass
class _Speech:
    """A piece of text being synthesized; its PCM arrives on ``audio`` as the worker makes it."""

    text: str
    audio: asyncio.Queue[object]
    cancel: threading.Event


@dataclass
class _TextStream:
    """An open ``synthesize-start`` stream (``slot`` None: it failed to open; swallow its chunks)."""

    slot: ModelSlot | None
    speaker: Any
    chunker: SpeechChunker


class WyomingHandler(AsyncEventHandler):
    """One client connection: the STT and TTS state machines of PROTOCOLS.md §3.4."""

    def __init__(self, engines: WyomingEngines, info_event: Event, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.engines = engines
        self._info_event = info_event
        self._write_lock = asyncio.Lock()
        # STT
        self._stt_slot: ModelSlot | None = None
        self._language: str | None = None
        self._converter: AudioChunkConverter | None = None
        """Set between audio-start and audio-stop."""
        self._pcm = bytearray()
        self._too_long = False
        self._orphan_reported = False
        # TTS: jobs write in order; synthesis starts when a job is queued, not when it is written
        self._stream: _TextStream | None = None
        self._jobs: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self._speaking: asyncio.Task[None] | None = None
        self._pieces: set[threading.Event] = set()

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
            await self._drain_speech()
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

    async def disconnect(self) -> None:
        for cancel in list(self._pieces):
            cancel.set()
        if self._speaking is not None and not self._speaking.done():
            self._speaking.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._speaking

    # -- events -----------------------------------------------------------------------------

    async def handle_event(self, event: Event) -> bool:
        kind = event.type
        if Describe.is_type(kind):
            await self.write_event(self._info_event)
        elif Ping.is_type(kind):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif SelectProgram.is_type(kind):
            name = SelectProgram.from_event(event).name
            offered = [STT_PROGRAM] * bool(self.engines.stt) + [TTS_PROGRAM] * bool(self.engines.tts)
            if name not in offered:
                raise ProtocolError(ErrorCode.UNKNOWN_MODEL, f"unknown program '{name}' (programs: {', '.join(offered)})")
        elif Transcribe.is_type(kind):
            self._on_transcribe(Transcribe.from_event(event))
        elif AudioStart.is_type(kind):
            self._on_audio_start(AudioStart.from_event(event))
        elif AudioChunk.is_type(kind):
            self._on_audio_chunk(AudioChunk.from_event(event))
        elif AudioStop.is_type(kind):
            return await self._on_audio_stop()
        elif Synthesize.is_type(kind):
            await self._on_synthesize(Synthesize.from_event(event))
        elif SynthesizeStart.is_type(kind):
            await self._on_synthesize_start(SynthesizeStart.from_event(event))
        elif SynthesizeChunk.is_type(kind):
            self._on_synthesize_chunk(SynthesizeChunk.from_event(event))
        elif SynthesizeStop.is_type(kind):
            self._on_synthesize_stop()
        else:
            raise ProtocolError(ErrorCode.UNKNOWN_EVENT, f"unknown event type '{kind}'")
        return True

    # -- speech to text ---------------------------------------------------------------------

    def _on_transcribe(self, request: Transcribe) -> None:
        for key, value in (("name", request.name), ("language", request.language)):
            if value is not None and not isinstance(value, str):
                raise ProtocolError(ErrorCode.INVALID_EVENT, f"transcribe {key} must be a string")
        slot = self.engines.pick_stt(request.name, request.language)
        lang = base_language(request.language)
        self._stt_slot = slot
        self._language = lang if lang in slot.card.languages else None
        if not slot.loaded:  # load while the user speaks
            slot.executor.submit(slot.get)

    def _on_audio_start(self, start: AudioStart) -> None:
        _check_format(start.rate, start.width, start.channels)
        self._converter = AudioChunkConverter(rate=PIPELINE_RATE_HZ, width=PCM_WIDTH_BYTES, channels=1)
        self._pcm = bytearray()
        self._too_long = False
        self._orphan_reported = False

    def _on_audio_chunk(self, chunk: AudioChunk) -> None:
        if self._converter is None:
            if self._orphan_reported:
                return
            self._orphan_reported = True
            raise ProtocolError(ErrorCode.UNEXPECTED_EVENT, "audio-chunk before audio-start: send "
                                "audio-start {rate, width, channels} first (audio ignored)")
        _check_format(chunk.rate, chunk.width, chunk.channels)
        if len(chunk.audio) % (chunk.width * chunk.channels):
            raise ProtocolError(ErrorCode.INVALID_EVENT, "audio-chunk payload is not a whole number of frames")
        if self._too_long:
            return
        self._pcm += self._converter.convert(chunk).audio
        if len(self._pcm) > MAX_UTTERANCE_S * PIPELINE_RATE_HZ * PCM_WIDTH_BYTES:
            self._too_long = True
            self._pcm = bytearray()
            raise ProtocolError(ErrorCode.AUDIO_TOO_LONG, f"audio longer than {MAX_UTTERANCE_S:.0f} s: not transcribed")

    async def _on_audio_stop(self) -> bool:
        if self._converter is None:
            raise ProtocolError(ErrorCode.UNEXPECTED_EVENT, "audio-stop without audio-start")
        pcm, too_long = bytes(self._pcm), self._too_long
        self._converter, self._pcm = None, bytearray()
        if too_long:
            raise ProtocolError(ErrorCode.AUDIO_TOO_LONG, f"audio longer than {MAX_UTTERANCE_S:.0f} s", closes=True)
        await self._transcribe(pcm)
        return False  # one utterance per connection, like wyoming-faster-whisper

    async def _transcribe(self, pcm: bytes) -> None:
        slot = self._stt_slot or self.engines.pick_stt(None, self.engines.stt_options.language)
        language = self._language or base_language(self.engines.stt_options.language)
        if not pcm:
            for event in (TranscriptStart(language=language), Transcript(text="", language=language),
                          TranscriptStop()):
                await self.write_event(event.event())
            return
        transcriber = await slot.acquire()
        options = replace(self.engines.stt_options, language=language)
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()
        started = time.perf_counter()
        loop.run_in_executor(slot.executor, _run_transcription, transcriber, pcm16_to_float(pcm), options,
                             cancel, _emitter(loop, items))
        pieces: list[str] = []
        try:
            while (item := await items.get()) is not _DONE:
                if isinstance(item, _Failed):
                    raise ProtocolError(ErrorCode.STT_FAILED, f"transcription failed: {item.error}",
                                        closes=True) from item.error
                if isinstance(item, TranscriptionInfo):
                    language = item.language
                    await self.write_event(TranscriptStart(language=language).event())
                elif isinstance(item, Segment):
                    piece = item.text.rstrip() if pieces else item.text.strip()
                    if piece:
                        pieces.append(piece)
                        await self.write_event(TranscriptChunk(text=piece).event())
        finally:
            cancel.set()
        text = "".join(pieces)
        await self.write_event(Transcript(text=text, language=language).event())
        await self.write_event(TranscriptStop().event())
        _LOGGER.info("transcribed %.1f s of audio with %s in %.2f s", len(pcm) / 2 / PIPELINE_RATE_HZ,
                     slot.card.name, time.perf_counter() - started)
        _LOGGER.debug("transcript: %r", text)

    # -- text to speech ---------------------------------------------------------------------

    async def _on_synthesize(self, request: Synthesize) -> None:
        if self._stream is not None:
            return  # the whole text, repeated inside a stream for older servers: already being spoken
        try:
            if not isinstance(request.text, str):
                raise ProtocolError(ErrorCode.INVALID_EVENT, "synthesize text must be a string")
            slot = self.engines.pick_voice(request.voice)
            text = speakable(request.text, request.text_format)
            if not text:
                raise ProtocolError(ErrorCode.EMPTY_TEXT, "nothing to say: the text is empty")
            speaker = await slot.acquire()
        except ProtocolError as exc:
            # audio-stop too: clients that wait for it (older Home Assistant) do not hang
            self._enqueue(partial(self._send_failure, exc))
            return
        # Whole sentences: the client gets all the text at once and Home Assistant plays nothing
        # before audio-stop, so an early first clause (an extra Piper call) would only cost time.
        chunker = SpeechChunker(replace(self.engines.chunker, first_chunk_min_words=self.engines.chunker.max_chunk_words))
        pieces = [self._start_speech(slot, speaker, t) for t in [*chunker.push(text), *chunker.flush()]]
        self._enqueue(partial(self._send_block, speaker.sample_rate_hz, pieces))

    async def _on_synthesize_start(self, request: SynthesizeStart) -> None:
        if self._stream is not None:
            raise ProtocolError(ErrorCode.UNEXPECTED_EVENT, "synthesize-start inside a stream: send synthesize-stop first")
        self._stream = _TextStream(None, None, SpeechChunker(self.engines.chunker))
        slot = self.engines.pick_voice(request.voice)
        self._stream = _TextStream(slot, await slot.acquire(), self._stream.chunker)

    def _on_synthesize_chunk(self, chunk: SynthesizeChunk) -> None:
        if self._stream is None:
            raise ProtocolError(ErrorCode.UNEXPECTED_EVENT, "synthesize-chunk outside a stream: send synthesize-start first")
        if not isinstance(chunk.text, str):
            raise ProtocolError(ErrorCode.INVALID_EVENT, "synthesize-chunk text must be a string")
        for text in self._stream.chunker.push(chunk.text):
            self._speak_in_stream(text)

    def _on_synthesize_stop(self) -> None:
        if self._stream is None:
            raise ProtocolError(ErrorCode.UNEXPECTED_EVENT, "synthesize-stop without synthesize-start")
        for text in self._stream.chunker.flush():
            self._speak_in_stream(text)
        self._stream = None
        self._enqueue(self._send_stopped)

    def _speak_in_stream(self, text: str) -> None:
        assert self._stream is not None
        text = speakable(text)
        if text and self._stream.slot is not None:
            piece = self._start_speech(self._stream.slot, self._stream.speaker, text)
            self._enqueue(partial(self._send_stream_piece, self._stream.speaker.sample_rate_hz, piece))

    def _start_speech(self, slot: ModelSlot, speaker: Speaker, text: str) -> _Speech:
        loop = asyncio.get_running_loop()
        piece = _Speech(text, asyncio.Queue(), threading.Event())
        self._pieces.add(piece.cancel)
        loop.run_in_executor(slot.executor, _run_synthesis, speaker, text, self.engines.speed, piece.cancel,
                             _emitter(loop, piece.audio))
        return piece

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
                    await self.send_error(ProtocolError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}"))
                finally:
                    self._jobs.task_done()
        except ConnectionError as exc:
            _LOGGER.debug("client went away while speaking: %s", exc)
            for cancel in list(self._pieces):
                cancel.set()
            while not self._jobs.empty():
                self._jobs.get_nowait()
                self._jobs.task_done()
            self.writer.close()

    async def _drain_speech(self) -> None:
        if self._speaking is not None and not self._speaking.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._jobs.join(), DRAIN_TIMEOUT_S)

    async def _send_audio(self, piece: _Speech, rate_hz: int) -> None:
        step = TTS_SAMPLES_PER_CHUNK * PCM_WIDTH_BYTES
        try:
            while (item := await piece.audio.get()) is not _DONE:
                if isinstance(item, _Failed):
                    raise ProtocolError(ErrorCode.TTS_FAILED, f"speech synthesis failed: {item.error}")
                assert isinstance(item, bytes)
                for i in range(0, len(item), step):
                    await self.write_event(AudioChunk(rate=rate_hz, width=PCM_WIDTH_BYTES, channels=1,
                                                      audio=item[i:i + step]).event())
        finally:
            self._pieces.discard(piece.cancel)

    async def _send_block(self, rate_hz: int, pieces: list[_Speech]) -> None:
        await self.write_event(AudioStart(rate=rate_hz, width=PCM_WIDTH_BYTES, channels=1).event())
        try:
            for piece in pieces:
                await self._send_audio(piece, rate_hz)
        except ProtocolError as exc:
            for piece in pieces:
                piece.cancel.set()
            await self.send_error(exc)
        await self.write_event(AudioStop().event())

    async def _send_stream_piece(self, rate_hz: int, piece: _Speech) -> None:
        await self.write_event(AudioStart(rate=rate_hz, width=PCM_WIDTH_BYTES, channels=1).event())
        try:
            await self._send_audio(piece, rate_hz)
        except ProtocolError as exc:
            await self.send_error(exc)
        await self.write_event(AudioStop().event())

    async def _send_failure(self, exc: ProtocolError) -> None:
        await self.send_error(exc)
        await self.write_event(AudioStop().event())

    async def _send_stopped(self) -> None:
        await self.write_event(SynthesizeStopped().event())


# ---------------------------------------------------------------------------------------------
# Server


def check_zeroconf(uri: str) -> None:
    """Raise :class:`ConfigError` unless ``--zeroconf`` can work for ``uri``."""
    parsed = urlparse(uri)
    if parsed.scheme != "tcp":
        raise ConfigError("--zeroconf needs a tcp:// URI", "e.g. --wyoming tcp://0.0.0.0:10300 --zeroconf")
    host = parsed.hostname or ""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            raise ConfigError(f"--zeroconf would announce {host}, which Home Assistant cannot reach",
                              "listen on tcp://0.0.0.0:PORT or a LAN address")
    if importlib.util.find_spec("zeroconf") is None:
        raise ConfigError("--zeroconf needs the 'zeroconf' package, which is not installed",
                          "pip install zeroconf, or add the server in Home Assistant by host and port")


def _zeroconf_service(uri: str, name: str | None) -> Any:
    check_zeroconf(uri)
    from wyoming.zeroconf import HomeAssistantZeroconf

    parsed = urlparse(uri)
    host: str | None = parsed.hostname
    if host in (None, "", "0.0.0.0", "::"):
        host = None  # the library finds the LAN address
    else:
        host = socket.gethostbyname(host)
    return HomeAssistantZeroconf(port=parsed.port or 10300, name=name or f"voicecli-{socket.gethostname()}",
                                 host=host)


def make_server(uri: str) -> AsyncServer:
    try:
        return AsyncServer.from_uri(uri)
    except ValueError as exc:
        raise ConfigError(f"bad Wyoming URI '{uri}': {exc}", "use tcp://HOST:PORT, unix:///path or stdio://") from exc


async def serve_wyoming(uri: str, engines: WyomingEngines | Any, *, zeroconf: bool = False,
                        zeroconf_name: str | None = None, stop: asyncio.Event | None = None,
                        on_ready: Callable[[str], None] | None = None) -> None:
    """Serve Wyoming on ``uri`` (``tcp://HOST:PORT``, ``unix://PATH``, ``stdio://``) until ``stop``
    is set or the task is cancelled. ``engines``: a :class:`WyomingEngines`, or anything with
    ``settings``, ``transcriber`` and ``speaker`` (:class:`voicecli.engines.Engines`).
    ``zeroconf`` announces the server to Home Assistant (needs the ``zeroconf`` package)."""
    server = make_server(uri)
    announcer = _zeroconf_service(uri, zeroconf_name) if zeroconf else None
    if not isinstance(engines, WyomingEngines):
        engines = await asyncio.to_thread(WyomingEngines.from_engines, engines)
    info_event = engines.info().event()
    factory = partial(WyomingHandler, engines, info_event)
    if isinstance(server, AsyncStdioServer):
        await server.run(factory)
        return
    try:
        await server.start(factory)
    except OSError as exc:
        raise VoicecliError(f"cannot listen on {uri}: {exc.strerror or exc}",
                            "pick another port, or stop the program using it") from exc
    try:
        if announcer is not None:
            await announcer.register_server()
        _LOGGER.info("Wyoming server on %s (stt: %s; tts: %s)", uri,
                     ", ".join(s.card.name for s in engines.stt) or "none",
                     ", ".join(s.card.name for s in engines.tts) or "none")
        if on_ready is not None:
            on_ready(uri)
        await (stop.wait() if stop is not None else asyncio.get_running_loop().create_future())
    finally:
        await server.stop()


async def _serve_until_signal(uri: str, engines: WyomingEngines, zeroconf: bool, zeroconf_name: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await serve_wyoming(uri, engines, zeroconf=zeroconf, zeroconf_name=zeroconf_name, stop=stop,
                        on_ready=lambda u: print(f"voicecli Wyoming server ready on {u}", file=sys.stderr, flush=True))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voicecli.server.wyoming",
                                     description="Serve voicecli speech-to-text and text-to-speech over the "
                                                 "Wyoming protocol (Home Assistant).")
    parser.add_argument("--uri", default="tcp://127.0.0.1:10300",
                        help="tcp://HOST:PORT (0.0.0.0 for the LAN), unix:///path or stdio:// (default: %(default)s)")
    parser.add_argument("--model", help="default Whisper model (default: stt.model from the config)")
    parser.add_argument("--voice", help="default Piper voice (default: tts.voice from the config)")
    parser.add_argument("--zeroconf", nargs="?", const="", default=None, metavar="NAME",
                        help="announce the server to Home Assistant by mDNS (needs the zeroconf package)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from voicecli.config import resolve

    engines: WyomingEngines | None = None
    try:
        make_server(args.uri)
        if args.zeroconf is not None:
            check_zeroconf(args.uri)
        settings = resolve({"stt.model": args.model, "tts.voice": args.voice}).settings
        engines = WyomingEngines.from_settings(settings)
        asyncio.run(_serve_until_signal(args.uri, engines, args.zeroconf is not None, args.zeroconf or None))
    except VoicecliError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        if engines is not None:
            engines.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
