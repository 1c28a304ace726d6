"""Load engines from resolved settings, once. ``talk``, ``transcribe``, ``bench`` and ``serve``
all get their models here, so every command resolves names the same way. Loaders return the
seam types (:class:`Transcriber`, :class:`ChatModel`, :class:`Synthesizer`,
:class:`VoiceActivityModel`), never a concrete adapter."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from voicecli.catalog.resolve import ModelResolver, ResolvedModel
from voicecli.config import Settings, data_dir
from voicecli.llm.types import ChatModel
from voicecli.stt.types import Transcriber
from voicecli.tts.types import Synthesizer
from voicecli.vad.types import VoiceActivityModel


def search_dirs(settings: Settings) -> list[Path]:
    """Drop-in folders: ./models, the checkout's models/ (editable installs), the user models
    dir, and models.dir."""
    dirs = [Path.cwd() / "models", Path(__file__).resolve().parents[1] / "models", data_dir() / "models"]
    if settings.models.dir:
        dirs.insert(0, Path(settings.models.dir).expanduser())
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def resolver(settings: Settings) -> ModelResolver:
    return ModelResolver(search_dirs(settings), allow_download=settings.models.allow_download,
                         download_dir=data_dir() / "models")


def stt_threads(settings: Settings) -> int:
    return settings.stt.threads or (os.cpu_count() or 2)


def load_transcriber(settings: Settings, resolved: ResolvedModel | None = None) -> Transcriber:
    if settings.stt.url and resolved is None:
        from voicecli.stt.remote import RemoteTranscriber

        return RemoteTranscriber(settings.stt.url, settings.stt.model, settings.stt.api_key,
                                 settings.stt.url_timeout_s)
    from voicecli.stt.backend import FASTER_WHISPER, choose_backend

    model = resolved or resolver(settings).resolve("stt", settings.stt.model)
    mlx_installed = _module_exists("mlx_whisper")
    backend = choose_backend(settings.stt.backend, platform.system(), platform.machine(), mlx_installed)
    if backend == FASTER_WHISPER:
        from voicecli.stt.faster_whisper_backend import WhisperTranscriber

        return WhisperTranscriber(str(model.path), model.name, device=settings.stt.device,
                                  compute_type=settings.stt.compute_type, threads=stt_threads(settings))
    from voicecli.stt.mlx_whisper_backend import MlxWhisperTranscriber

    return MlxWhisperTranscriber(str(model.path), model.name)


def load_chat(settings: Settings) -> ChatModel:
    if settings.llm.url:
        from voicecli.llm.remote import OpenAIChat

        return OpenAIChat(settings.llm.url, None if settings.llm.model == "smollm2-135m" else settings.llm.model,
                          api_key=settings.llm.api_key)
    from voicecli.llm.llama import LlamaChat

    model = resolver(settings).resolve("llm", settings.llm.model)
    return LlamaChat(str(model.path), model.name, threads=settings.llm.threads,
                     context_tokens=settings.llm.context_tokens)


def load_speaker(settings: Settings, voice: str | None = None) -> Synthesizer:
    if settings.tts.url:
        from voicecli.tts.remote import RemoteSpeaker

        return RemoteSpeaker(settings.tts.url, voice or settings.tts.voice, settings.tts.model,
                             settings.tts.api_key, settings.tts.url_timeout_s)
    from voicecli.tts.piper_voice import PiperSpeaker

    model = resolver(settings).resolve("tts", voice or settings.tts.voice)
    return PiperSpeaker(model.path, model.name, threads=settings.tts.threads)


def load_vad(settings: Settings) -> VoiceActivityModel:
    from voicecli.vad.silero import SileroVad

    return SileroVad(resolver(settings).resolve("vad", None).path)


def _module_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class EngineSet(Protocol):
    """What a conversation needs from its engines: :class:`Engines`, or a server session's view
    of them, or fakes in tests."""

    @property
    def transcriber(self) -> Transcriber: ...

    @property
    def chat(self) -> ChatModel: ...

    @property
    def speaker(self) -> Synthesizer:
        """The default voice (a conversation may be told to use another: ``use_speaker``)."""
        ...

    def new_vad(self) -> VoiceActivityModel:
        """A fresh stateful VAD (one per audio stream)."""
        ...


@dataclass
class Engines:
    """Every model the conversation pipeline needs, loaded once and shared."""

    settings: Settings
    transcriber: Transcriber
    chat: ChatModel
    speaker: Synthesizer
    vad_path: Path

    @classmethod
    def load(cls, settings: Settings, warm_up: bool = True) -> Engines:
        transcriber = load_transcriber(settings)
        chat = load_chat(settings)
        speaker = load_speaker(settings)
        vad_path = resolver(settings).resolve("vad", None).path
        engines = cls(settings, transcriber, chat, speaker, vad_path)
        if warm_up:
            engines.warm_up()
        return engines

    def new_vad(self) -> VoiceActivityModel:
        """A fresh stateful VAD (one per audio stream)."""
        from voicecli.vad.silero import SileroVad

        return SileroVad(self.vad_path)

    def warm_up(self) -> None:
        self.transcriber.warm_up()
        self.chat.warm_up(self.settings.llm.system_prompt)
        self.speaker.warm_up()
