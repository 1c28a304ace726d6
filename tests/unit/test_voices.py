"""The voice catalogue shared by REST, realtime and Wyoming: names, aliases, languages, loading."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from voicecli.config import Settings, TtsConfig
from voicecli.tts.voices import VoiceCatalog, VoiceEntry, voice_languages

ALIASES = ("alloy", "ash", "ballad")


@dataclass(frozen=True)
class Voice:
    name: str


def catalog(*names, aliases=ALIASES, entries=None):
    loads: list[str] = []

    def load(name: str) -> Voice:
        loads.append(name)
        return Voice(name)

    entries = entries if entries is not None else [VoiceEntry(n) for n in names]
    return VoiceCatalog(entries, Voice("en_US-joe-medium"), load, aliases), loads


def test_default_first_then_sorted_and_aliases_wrap_around():
    cat, _ = catalog("en_US-lessac-medium", "de_DE-thorsten-medium", "en_US-joe-medium")
    assert cat.installed == ["en_US-joe-medium", "de_DE-thorsten-medium", "en_US-lessac-medium"]
    table = [("alloy", "en_US-joe-medium"), ("ASH", "de_DE-thorsten-medium"), (" ballad ", "en_US-lessac-medium"),
             ("de_DE-thorsten-medium", "de_DE-thorsten-medium"), ("nobody", None), ("", None)]
    for voice, name in table:
        assert cat.resolve(voice) == name, voice
    assert cat.accepted() == [*ALIASES, *cat.installed]


def test_aliases_work_with_only_the_default_voice():
    cat, _ = catalog()
    assert [cat.resolve(a) for a in ALIASES] == ["en_US-joe-medium"] * 3


def test_voices_load_once_and_are_shared():
    cat, loads = catalog("en_US-lessac-medium")
    assert cat.speaker("en_US-joe-medium") == Voice("en_US-joe-medium") and loads == []  # the default is loaded
    assert cat.loaded("en_US-lessac-medium") is None
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(cat.speaker, ["en_US-lessac-medium"] * 8))
    assert loads == ["en_US-lessac-medium"] and all(v is got[0] for v in got)
    assert cat.loaded("en_US-lessac-medium") is got[0]


def test_languages_from_manifest_config_or_name(tmp_path):
    onnx = tmp_path / "custom.onnx"
    onnx.with_name("custom.onnx.json").write_text(json.dumps({"language": {"code": "fr_FR"}}))
    assert voice_languages(VoiceEntry("x", ("de_DE",), onnx)) == ("de_DE",)
    assert voice_languages(VoiceEntry("custom", (), onnx)) == ("fr_FR",)
    assert voice_languages(VoiceEntry("pt_BR-faber-medium")) == ("pt_BR",)
    assert voice_languages(VoiceEntry("mine", (), tmp_path / "missing.onnx")) == ()


def test_voice_for_a_language_exact_locale_first_then_base_language():
    cat, _ = catalog(entries=[VoiceEntry("en_GB-alan-low"), VoiceEntry("en_US-amy-low"),
                              VoiceEntry("de_DE-thorsten-medium")])
    table = [("en_US", "en_US-joe-medium"), ("en-gb", "en_GB-alan-low"), ("en", "en_US-joe-medium"),
             ("de", "de_DE-thorsten-medium"), ("DE-at", "de_DE-thorsten-medium"), ("ja", None)]
    for language, name in table:
        assert cat.for_language(language) == name, language


def test_from_settings_loads_through_load_speaker_so_tts_threads_is_honoured(monkeypatch):
    import voicecli.engines as engines

    settings = Settings(tts=TtsConfig(threads=3))
    calls: list[tuple[Settings, str]] = []
    models = [SimpleNamespace(kind="tts", name="en_US-lessac-medium", languages=("en_US",), path=None),
              SimpleNamespace(kind="stt", name="tiny.en", languages=("en",), path=None)]
    monkeypatch.setattr(engines, "resolver", lambda s: SimpleNamespace(available=lambda: models))
    monkeypatch.setattr(engines, "load_speaker", lambda s, name: calls.append((s, name)) or Voice(name))
    cat = VoiceCatalog.from_settings(settings, Voice("en_US-joe-medium"), aliases=ALIASES)
    assert cat.installed == ["en_US-joe-medium", "en_US-lessac-medium"]
    assert cat.speaker("en_US-lessac-medium") == Voice("en_US-lessac-medium")
    assert calls == [(settings, "en_US-lessac-medium")] and calls[0][0].tts.threads == 3


def test_without_a_loaded_default_the_configured_voice_is_first_and_loads_on_first_use(monkeypatch, tmp_path):
    import voicecli.engines as engines

    onnx = tmp_path / "mine.onnx"
    settings = Settings(tts=TtsConfig(voice=str(onnx)))
    calls: list[str] = []
    models = [SimpleNamespace(kind="tts", name="en_US-lessac-medium", languages=("en_US",), path=None)]
    configured = SimpleNamespace(kind="tts", name="mine", languages=("fr_FR",), path=onnx, source="path")
    monkeypatch.setattr(engines, "resolver", lambda s: SimpleNamespace(
        available=lambda: models, resolve=lambda kind, voice: configured if voice == str(onnx) else None))
    monkeypatch.setattr(engines, "load_speaker", lambda s, name: calls.append(name) or Voice(Path(name).stem))
    cat = VoiceCatalog.from_settings(settings)
    assert cat.installed == ["mine", "en_US-lessac-medium"] and cat.default == "mine" and calls == []
    assert cat.languages("mine") == ("fr_FR",) and cat.loaded("mine") is None
    assert cat.speaker("mine") == Voice("mine") and calls == [str(onnx)]  # by the path it was configured as
    assert cat.speaker("en_US-lessac-medium") == Voice("en_US-lessac-medium") and calls[1:] == ["en_US-lessac-medium"]


def test_a_broken_models_folder_leaves_only_the_default(monkeypatch):
    import voicecli.engines as engines

    def broken(settings):
        raise OSError("unreadable")

    monkeypatch.setattr(engines, "resolver", broken)
    cat = VoiceCatalog.from_settings(Settings(), Voice("en_US-joe-medium"))
    assert cat.installed == ["en_US-joe-medium"] and cat.resolve("alloy") is None


def test_loading_is_serialised():
    inside = threading.Semaphore(1)

    def load(n: str) -> Voice:
        assert inside.acquire(blocking=False), "two loads at once"
        try:
            return Voice(n)
        finally:
            inside.release()

    cat = VoiceCatalog([VoiceEntry(f"v{i}") for i in range(6)], Voice("en_US-joe-medium"), load)
    with ThreadPoolExecutor(6) as pool:
        assert [v.name for v in pool.map(cat.speaker, [f"v{i}" for i in range(6)])] == [f"v{i}" for i in range(6)]
