"""The voice catalogue: which Piper voices a server offers, what names and languages select
them, and each voice loaded once (on first use) and shared.

One catalogue serves REST ``/v1/audio/speech``, the realtime session's ``voice`` and the Wyoming
``synthesize`` voice: build it with :meth:`VoiceCatalog.from_settings`, which loads voices
through :func:`voicecli.engines.load_speaker` (so ``tts.threads`` is honoured everywhere).
The class itself takes a ``load`` function, so it works with fakes in tests."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar, cast

from voicecli.languages import base_language, locale_key

if TYPE_CHECKING:
    from voicecli.config import Settings


class NamedVoice(Protocol):
    """What the catalogue needs of a loaded voice (a ``PiperSpeaker`` or a fake)."""

    @property
    def name(self) -> str: ...


V = TypeVar("V", bound=NamedVoice)


@dataclass(frozen=True)
class VoiceEntry:
    """An installed voice, before it is loaded."""

    name: str
    declared_languages: tuple[str, ...] = ()
    """From the model manifest (may be empty)."""
    path: Path | None = None
    """The ``.onnx`` file, whose ``.onnx.json`` config names the language."""


def voice_languages(entry: VoiceEntry) -> tuple[str, ...]:
    """The manifest's languages; else the voice config's; else the Piper name's (``en_US-joe-medium``)."""
    if entry.declared_languages:
        return entry.declared_languages
    if entry.path is not None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            config = json.loads(entry.path.with_name(entry.path.name + ".json").read_text(encoding="utf-8"))
            code = (config.get("language") or {}).get("code")
            if isinstance(code, str) and code:
                return (code,)
    match = re.match(r"^([a-z]{2,3}_[A-Z]{2})-", entry.name)
    return (match.group(1),) if match else ()


def voice_for_language(language: str, voices: Iterable[tuple[str, Sequence[str]]]) -> str | None:
    """The first of ``voices`` (name, languages) that speaks ``language``: the exact locale
    (``en_US``, ``en-us``) if one does, else the same base language (``en``); None if none does."""
    voices = list(voices)
    rules: tuple[tuple[Callable[[str], str | None], str | None], ...] = (
        (locale_key, locale_key(language)), (base_language, base_language(language)))
    for key, wanted in rules:
        for name, languages in voices:
            if any(key(lang) == wanted for lang in languages):
                return name
    return None


class VoiceCatalog(Generic[V]):
    """Installed voices, the default first, then by name. A voice is selected by its own name
    or by an alias: ``aliases[i]`` (case-insensitive) selects installed voice ``i`` modulo the
    number of voices, so every alias works whatever is installed. Loading is blocking and
    serialised; a loaded voice is cached and shared (call :meth:`speaker` from a worker thread).
    ``default``: a loaded voice, or the name of one of ``entries`` to load on first use."""

    def __init__(self, entries: Sequence[VoiceEntry], default: V | str, load: Callable[[str], V],
                 aliases: Sequence[str] = ()) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._loaded: dict[str, V] = {} if isinstance(default, str) else {default.name: default}
        self.default = default if isinstance(default, str) else default.name
        self._entries = {e.name: e for e in entries}
        self._entries.setdefault(self.default, VoiceEntry(self.default))
        self.aliases = tuple(a.lower() for a in aliases)
        self.installed = [self.default] + sorted(n for n in self._entries if n != self.default)
        """Every voice name, the default first."""

    @classmethod
    def from_settings(cls, settings: Settings, default: V | None = None, *,
                      aliases: Sequence[str] = ()) -> VoiceCatalog[V]:
        """Every Piper voice usable without a download (``voicecli models``) besides the loaded
        ``default``; more are loaded with ``load_speaker(settings, name)``. Without ``default``,
        the configured ``tts.voice`` (resolved now, so a missing one raises; loaded on first use,
        by its path if it was configured as one) is the default."""
        from voicecli.engines import load_speaker, resolver

        if settings.tts.url:  # the server at --tts-url has the voices: offer the configured one
            return cls([], default or settings.tts.voice, lambda name: cast(V, load_speaker(settings, name)), aliases)
        try:
            entries = [VoiceEntry(m.name, m.languages, m.path) for m in resolver(settings).available()
                       if m.kind == "tts"]
        except Exception:  # noqa: BLE001 - a broken drop-in folder must not stop the server
            entries = []
        first: V | str
        paths: dict[str, str] = {}
        if default is None:
            configured = resolver(settings).resolve("tts", settings.tts.voice)
            entries.append(VoiceEntry(configured.name, configured.languages, configured.path))
            if configured.source == "path":
                paths[configured.name] = str(configured.path)
            first = configured.name
        else:
            first = default

        def load(name: str) -> V:
            return cast(V, load_speaker(settings, paths.get(name, name)))

        return cls(entries, first, load, aliases)

    def resolve(self, voice: str) -> str | None:
        """The voice name ``voice`` selects (its own name or an alias); None if unknown."""
        v = voice.strip()
        if v in self._entries:
            return v
        low = v.lower()
        if low in self.aliases:
            return self.installed[self.aliases.index(low) % len(self.installed)]
        return None

    def accepted(self) -> list[str]:
        """Every name :meth:`resolve` accepts, for error messages: the aliases, then the voices."""
        return [*self.aliases, *self.installed]

    def languages(self, name: str) -> tuple[str, ...]:
        """The languages of voice ``name`` (locales such as ``en_US``; may be empty)."""
        entry = self._entries.get(name)
        return voice_languages(entry) if entry is not None else ()

    def for_language(self, language: str) -> str | None:
        """The first voice (default first) of ``language``: the exact locale (``en_US``, ``en-us``)
        if one is installed, else the same base language (``en``); None if no voice speaks it."""
        return voice_for_language(language, ((name, self.languages(name)) for name in self.installed))

    def loaded(self, name: str) -> V | None:
        """Voice ``name`` if it is loaded already (never blocks)."""
        with self._lock:
            return self._loaded.get(name)

    def speaker(self, name: str) -> V:
        """Blocking (loads the voice the first time): call from the TTS executor."""
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
            return self._loaded[name]
