"""Conversation in the user's language: with a multilingual Whisper, each turn's language (detected,
or ``--language``) asks the LLM to reply in it and picks the voice that speaks it — the one
``tts.language_voices`` maps it to, else an installed voice of that language, else the default
voice with one notice naming the ``voicecli models pull`` command."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from voicecli.languages import base_language, language_name
from voicecli.tts.types import Synthesizer
from voicecli.tts.voices import VoiceCatalog

if TYPE_CHECKING:
    from voicecli.config import Settings


def reply_in(system_prompt: str, language: str) -> str:
    """The system prompt with the reply language asked for (``de`` → German)."""
    name = language_name(language).title()
    return f"{system_prompt} The user speaks {name}: always reply in {name}."


class LanguageVoices:
    """Language → voice, loaded on first use and cached (call :meth:`voice_for` off the event loop)."""

    def __init__(self, catalog: VoiceCatalog[Synthesizer], default: Synthesizer,
                 mapping: Mapping[str, str] | None = None) -> None:
        self.catalog = catalog
        self.default = default
        self.mapping = {k.lower(): v for k, v in (mapping or {}).items()}
        self._told: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, default: Synthesizer) -> LanguageVoices:
        return cls(VoiceCatalog.from_settings(settings, default), default, settings.tts.language_voices)

    def name_for(self, language: str) -> str | None:
        """The voice name for ``language`` (``de``, ``de-DE``); None if no installed voice speaks it."""
        code = (base_language(language) or language).lower()
        mapped = self.mapping.get(language.lower()) or self.mapping.get(code)
        resolved = self.catalog.resolve(mapped) if mapped is not None else None
        return resolved or self.catalog.for_language(code)  # the default voice first

    def voice_for(self, language: str) -> tuple[Synthesizer, str | None]:
        """The voice to speak ``language`` with, and a notice to show: the default voice (and,
        the first time for a language, a notice) when none is installed. Blocking: it may load
        the voice."""
        name = self.name_for(language)
        if name is None:
            with self._lock:
                first = language not in self._told
                self._told.add(language)
            notice = (f"no {language_name(language).title()} voice is installed; replies use {self.default.name} "
                      f"(install one with `voicecli models pull VOICE`, or map one in tts.language_voices)")
            return self.default, notice if first else None
        return (self.default if name == self.default.name else self.catalog.speaker(name)), None
