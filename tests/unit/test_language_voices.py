"""Which voice speaks a turn's language, and what the LLM is asked: LanguageVoices over a real
VoiceCatalog whose voices are fakes (names only)."""

from __future__ import annotations

from dataclasses import dataclass

from voicecli.pipeline.language import LanguageVoices, reply_in
from voicecli.tts.voices import VoiceCatalog, VoiceEntry


@dataclass
class FakeVoice:
    name: str
    sample_rate_hz: int = 22050

    def synthesize(self, text, speed=1.0):
        return iter(())

    def warm_up(self) -> None:
        pass


def voices(mapping=None) -> LanguageVoices:
    default = FakeVoice("en_US-joe-medium")
    entries = [VoiceEntry("de_DE-thorsten-medium"), VoiceEntry("pl_PL-gosia-medium"), VoiceEntry("narrator", ("es_ES",))]
    catalog = VoiceCatalog(entries, default, FakeVoice)
    return LanguageVoices(catalog, default, mapping)  # type: ignore[arg-type]


def test_an_installed_voice_of_the_language_speaks_it():
    lv = voices()
    assert lv.voice_for("de") == (FakeVoice("de_DE-thorsten-medium"), None)
    assert lv.voice_for("es")[0].name == "narrator"  # its manifest languages say es_ES
    assert lv.voice_for("en")[0] is lv.default


def test_the_map_wins_and_an_uninstalled_mapping_falls_back():
    lv = voices({"de": "pl_PL-gosia-medium", "es": "not-installed"})
    assert lv.voice_for("de")[0].name == "pl_PL-gosia-medium"
    assert lv.voice_for("es")[0].name == "narrator"


def test_no_voice_of_the_language_is_the_default_voice_and_one_notice():
    lv = voices()
    voice, notice = lv.voice_for("ar")
    assert voice is lv.default and notice is not None
    assert "no Arabic voice is installed" in notice and "voicecli models pull" in notice
    assert lv.voice_for("ar") == (lv.default, None)  # said once


def test_the_reply_is_asked_for_in_the_language():
    assert reply_in("Be brief.", "es") == "Be brief. The user speaks Spanish: always reply in Spanish."


def test_the_map_comes_from_a_toml_table_or_an_env_list():
    from voicecli.config import resolve

    env = resolve({}, env={"VOICECLI_TTS_LANGUAGE_VOICES": "de=de_DE-thorsten-medium, es = narrator"}, file=None)
    assert env.settings.tts.language_voices == {"de": "de_DE-thorsten-medium", "es": "narrator"}
    assert resolve({}, env={}, file=None).settings.tts.language_voices == {}
