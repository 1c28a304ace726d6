"""The models a Wyoming server offers: every STT model and Piper voice usable offline, with the
languages each speaks, as ``info`` lists them; which one serves a request (by name or
language); each loaded on first use and run in its own single thread. The voices, their
languages and their loading come from the shared :class:`voicecli.tts.voices.VoiceCatalog`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from wyoming.info import AsrModel, AsrProgram, Attribution, Info, TtsProgram, TtsVoice
from wyoming.tts import SynthesizeVoice

from voicecli import __version__
from voicecli.audio.format import AudioChunk
from voicecli.errors import VoicecliError
from voicecli.languages import base_language, whisper_languages
from voicecli.server.wyoming.protocol import ErrorCode, ProtocolError
from voicecli.stt.options import transcribe_options
from voicecli.stt.types import TranscribeOptions, Transcriber
from voicecli.tts.chunker import ChunkerParams
from voicecli.tts.voices import VoiceCatalog, voice_for_language

if TYPE_CHECKING:
    from voicecli.catalog.resolve import ResolvedModel
    from voicecli.config import Settings
    from voicecli.engines import Engines

STT_PROGRAM = "voicecli-stt"
TTS_PROGRAM = "voicecli-tts"
_WHISPER = Attribution(name="OpenAI Whisper (SYSTRAN faster-whisper)", url="https://github.com/SYSTRAN/faster-whisper")
_PIPER = Attribution(name="Piper (Open Home Foundation)", url="https://github.com/OHF-Voice/piper1-gpl")

M = TypeVar("M")


class Speaker(Protocol):
    """What the server needs from a TTS voice (voicecli.tts.piper_voice.PiperSpeaker)."""

    name: str
    sample_rate_hz: int

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        """Blocking; yields float32 chunks at ``sample_rate_hz``."""
        ...


@dataclass(frozen=True)
class ModelCard:
    """What ``info`` says about one STT model or voice."""

    name: str
    languages: tuple[str, ...]
    description: str


class ModelSlot(Generic[M]):
    """One model on offer: listed in ``info`` from the start, loaded on first use, and run in its
    own single thread (the models are stateful and the machine has few cores)."""

    def __init__(self, card: ModelCard, load: Callable[[], M], instance: M | None = None,
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

    def get(self) -> M:
        """Blocking: the model, loaded first if needed. Call it in :attr:`executor`."""
        if self._instance is None:
            self._instance = self._load()
        return self._instance

    async def acquire(self) -> M:
        """The model, loaded in :attr:`executor` if needed; a failure is ``model-load-failed``."""
        if self._instance is not None:
            return self._instance
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, self.get)
        except Exception as exc:
            detail = exc.one_line() if isinstance(exc, VoicecliError) else f"{type(exc).__name__}: {exc}"
            raise ProtocolError(ErrorCode.MODEL_LOAD_FAILED, f"cannot load '{self.card.name}': {detail}") from exc


def stt_languages(declared: tuple[str, ...], name: str, multilingual: bool | None) -> tuple[str, ...]:
    """What a Whisper model understands: all of Whisper's languages if it is multilingual (known,
    declared ``multi``, or a name without ``.en``), else its declared languages (or English)."""
    if multilingual is None:
        multilingual = "multi" in declared or (not declared and not name.endswith(".en"))
    if multilingual:
        return whisper_languages()
    return tuple(lang for lang in declared if lang != "multi") or ("en",)


def _voice_slots(settings: Settings, speaker: Speaker | None, executor: Executor | None) -> list[ModelSlot[Speaker]]:
    """A slot per voice of the shared catalogue (so voices load through ``load_speaker`` and
    ``tts.threads`` applies), the default first: ``speaker`` if given (run in ``executor``),
    else the configured ``tts.voice``."""
    voices: VoiceCatalog[Speaker] = VoiceCatalog.from_settings(settings, speaker)
    return [ModelSlot(ModelCard(name, voices.languages(name), name), partial(voices.speaker, name),
                      voices.loaded(name), executor if speaker is not None and name == voices.default else None)
            for name in voices.installed]


def _load_transcriber(settings: Settings, model: ResolvedModel) -> Transcriber:
    from voicecli.engines import load_transcriber

    transcriber: Transcriber = load_transcriber(settings, model)
    return transcriber


@dataclass
class WyomingEngines:
    """The models a Wyoming server offers; the first of each kind is the default."""

    stt: Sequence[ModelSlot[Transcriber]]
    tts: Sequence[ModelSlot[Speaker]]
    stt_options: TranscribeOptions = field(default_factory=TranscribeOptions)
    """Per-call STT options; ``language`` is the default when ``transcribe`` names none."""
    speed: float = 1.0
    chunker: ChunkerParams = field(default_factory=ChunkerParams)

    @classmethod
    def from_settings(cls, settings: Settings, *, transcriber: Transcriber | None = None,
                      speaker: Speaker | None = None, executors: Mapping[str, Executor] | None = None,
                      preload: bool = True) -> WyomingEngines:
        """Offer every STT model and Piper voice usable without a download (``voicecli models``),
        the configured ones first. Blocking: loads and warms up the defaults unless given or
        ``preload`` is False. ``executors`` ("stt", "tts"): single-thread executors to run the
        given ``transcriber``/``speaker`` in, when another server shares those objects."""
        from voicecli.engines import resolver

        executors = executors or {}
        res = resolver(settings)
        available = {(m.kind, m.name): m for m in res.available()}
        stt: list[ModelSlot[Transcriber]] = []
        if transcriber is None and settings.stt.url:
            from voicecli.engines import load_transcriber

            transcriber = load_transcriber(settings)  # the remote one: nothing loads here
        if transcriber is not None:
            known = available.get(("stt", transcriber.name))
            card = ModelCard(transcriber.name, stt_languages(known.languages if known else (), transcriber.name,
                                                             getattr(transcriber, "is_multilingual", None)),
                             f"Whisper {transcriber.name}")
            stt.append(ModelSlot(card, partial(_given, transcriber), transcriber, executors.get("stt")))
        local = [] if settings.stt.url else [res.resolve("stt", settings.stt.model),
                                              *(m for m in available.values() if m.kind == "stt")]
        for m in local:  # with --stt-url the remote model is the only one
            if all(s.card.name != m.name for s in stt):
                card = ModelCard(m.name, stt_languages(m.languages, m.name, None), f"Whisper {m.name}")
                stt.append(ModelSlot(card, partial(_load_transcriber, settings, m)))
        tts = _voice_slots(settings, speaker, executors.get("tts"))
        engines = cls(stt, tts, transcribe_options(settings, purpose="file"), speed=settings.tts.speed,
                      chunker=ChunkerParams(first_chunk_min_words=settings.tts.first_chunk_min_words))
        if preload:
            for slot in (stt[0], tts[0]):
                if not slot.loaded:
                    warm_up = getattr(slot.get(), "warm_up", None)
                    if callable(warm_up):
                        warm_up()
        return engines

    @classmethod
    def from_engines(cls, engines: Engines, executors: Mapping[str, Executor] | None = None) -> WyomingEngines:
        """Adapt :class:`voicecli.engines.Engines` (its loaded transcriber and speaker become the defaults)."""
        return cls.from_settings(engines.settings, transcriber=engines.transcriber, speaker=engines.speaker,
                                 executors=executors)

    def info(self) -> Info:
        """The ``info`` answer to ``describe``: every model and voice with its languages."""
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

    def programs(self) -> list[str]:
        """The program names ``select-program`` accepts."""
        return [STT_PROGRAM] * bool(self.stt) + [TTS_PROGRAM] * bool(self.tts)

    def pick_stt(self, name: str | None, language: str | None) -> ModelSlot[Transcriber]:
        """The named model; else the default if it knows ``language``; else the first that does."""
        if not self.stt:
            raise ProtocolError(ErrorCode.NOT_SERVED, "this server has no speech-to-text model")
        if name:
            named = _named(self.stt, name)
            if named is None:
                raise ProtocolError(ErrorCode.UNKNOWN_MODEL, f"unknown STT model '{name}' (models: "
                                    f"{', '.join(s.card.name for s in self.stt)})")
            return named
        lang = base_language(language)
        for slot in self.stt:
            if lang in slot.card.languages:
                return slot
        return self.stt[0]

    def pick_voice(self, voice: SynthesizeVoice | None) -> ModelSlot[Speaker]:
        """By name; else the first voice of the language (``en_US``, ``en-us`` or ``en``); neither: the default."""
        if not self.tts:
            raise ProtocolError(ErrorCode.NOT_SERVED, "this server has no text-to-speech voice")
        if voice is None or not (voice.name or voice.language):
            return self.tts[0]
        if voice.name:
            named = _named(self.tts, voice.name)
            if named is None:
                raise ProtocolError(ErrorCode.UNKNOWN_VOICE, f"unknown voice '{voice.name}' (voices: "
                                    f"{', '.join(s.card.name for s in self.tts)})")
            return named
        named = _named(self.tts, voice_for_language(voice.language, ((s.card.name, s.card.languages)
                                                                     for s in self.tts)))
        if named is None:
            raise ProtocolError(ErrorCode.UNKNOWN_VOICE, f"no voice for language '{voice.language}' (languages: "
                                f"{', '.join(sorted({lang for s in self.tts for lang in s.card.languages}))})")
        return named

    def close(self) -> None:
        for slots in (self.stt, self.tts):
            for slot in slots:
                slot.close()


def _named(slots: Sequence[ModelSlot[M]], name: str | None) -> ModelSlot[M] | None:
    """The slot of model ``name``; None for none (or no name)."""
    return next((slot for slot in slots if slot.card.name == name), None) if name else None


def _given(model: M) -> M:
    """The loader of a model that was handed over already loaded."""
    return model
