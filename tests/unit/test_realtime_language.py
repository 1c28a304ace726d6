"""Realtime sessions and the user's language, without a server: the session hands the server's
default voice to the conversation as "no choice" (so each turn's language picks the voice) and any
other voice as a choice; ``audio.input.transcription.language`` is read as a Whisper code or
refused with one clear error."""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from voicecli.server.realtime.parsing import parse_session_update
from voicecli.server.realtime.protocol import ClientEventError, SessionConfig
from voicecli.server.realtime.session_voice import SessionVoice, SilentSpeaker
from voicecli.tts.voices import VoiceCatalog, VoiceEntry

LANGUAGE = "session.audio.input.transcription.language"


def transcription_language(value: Any) -> str | None:
    cfg = parse_session_update(SessionConfig(), {"audio": {"input": {"transcription": {"language": value}}}})
    assert cfg.transcription is not None
    return cfg.transcription.language


@pytest.mark.parametrize(("value", "code"), [("de", "de"), ("de-DE", "de"), ("es_MX", "es"), ("German", "de"),
                                             (None, None)])
def test_the_forced_language_is_a_whisper_code(value: str | None, code: str | None) -> None:
    assert transcription_language(value) == code


@pytest.mark.parametrize("value", ["xx", "klingon", "12"])
def test_an_unknown_language_is_refused_with_one_error(value: str) -> None:
    with pytest.raises(ClientEventError) as err:
        transcription_language(value)
    assert err.value.param == LANGUAGE and err.value.code == "invalid_value"
    assert "language code such as en, de or es" in err.value.message


@dataclass
class FakeVoice:
    name: str
    sample_rate_hz: int = 22050

    def synthesize(self, text: str, speed: float = 1.0) -> Any:
        return iter(())

    def warm_up(self) -> None:
        pass


def test_the_default_voice_is_no_choice_and_a_named_voice_is_kept() -> None:
    default = FakeVoice("en_US-joe-medium")
    catalog = VoiceCatalog([VoiceEntry("de_DE-thorsten-medium")], default, FakeVoice, aliases=("alloy", "ash"))
    pool = concurrent.futures.ThreadPoolExecutor(1)
    state = SimpleNamespace(engines=SimpleNamespace(speaker=default), voices=catalog, tts_pool=pool)
    voice = SessionVoice(state)  # type: ignore[arg-type]
    chosen: list[Any] = []
    voice.attach(chosen.append)
    assert chosen == [None]  # nobody named a voice: the turn's language picks it
    asyncio.run(voice.change("alloy"))  # the default voice by its alias
    assert chosen[-1] is None
    asyncio.run(voice.change("ash"))  # another installed voice: kept whatever the language
    assert chosen[-1] == FakeVoice("de_DE-thorsten-medium")
    voice.speak(True)
    assert chosen[-1] == FakeVoice("de_DE-thorsten-medium")
    voice.speak(True, default)  # a response that names the default voice
    assert chosen[-1] is None
    voice.speak(False)
    assert isinstance(chosen[-1], SilentSpeaker)
    pool.shutdown()
