"""A German turn's reply is said in German words by the voice mapped to German: the real
``Conversation`` with the real Piper joe voice (English) registered as the German voice
(``tts.language_voices``-style map). The transcriber reports German and the LLM's reply is
scripted (fakes of the surroundings); the synthesiser is the real voice, wrapped only to record
the text it is handed."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest

from tests.unit.pipeline_fakes import FakeEngines, FakeTranscriber, Harness, until
from voicecli.audio.format import AudioChunk
from voicecli.pipeline.conversation import Conversation, ConversationOptions
from voicecli.pipeline.events import ReplyAudio, TurnCompleted
from voicecli.pipeline.language import LanguageVoices
from voicecli.stt.types import TranscribeOptions, Transcription
from voicecli.tts.types import Synthesizer
from voicecli.tts.voices import VoiceCatalog, VoiceEntry
from voicecli.vad.endpointer import EndpointerParams

pytestmark = pytest.mark.models

QUESTION = "Wie spät ist es und was kostet das?"
REPLY = "Es ist 10:15 Uhr und kostet 3,50 Euro."


class GermanTranscriber(FakeTranscriber):
    is_multilingual = True

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        return dataclasses.replace(super().transcribe(audio, options), language="de")


class Recording:
    """The real voice under another name; records each text it is asked to say."""

    def __init__(self, voice: Synthesizer, name: str) -> None:
        self.voice = voice
        self.name = name
        self.sample_rate_hz = voice.sample_rate_hz
        self.texts: list[str] = []

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        self.texts.append(text)
        return self.voice.synthesize(text, speed)

    def warm_up(self) -> None:
        self.voice.warm_up()


def test_a_german_reply_reaches_the_voice_as_german_words(settings):
    from voicecli.engines import load_speaker

    joe = load_speaker(settings)  # en_US-joe-medium
    german = Recording(joe, "joe-german")
    engines = FakeEngines({0.9: QUESTION}, {QUESTION: REPLY})
    engines.transcriber = GermanTranscriber({0.9: QUESTION})
    engines.speaker = joe  # type: ignore[assignment]
    engines.settings = settings  # type: ignore[attr-defined]
    catalog: VoiceCatalog[Synthesizer] = VoiceCatalog([VoiceEntry("joe-german", ("en_US",))], joe,
                                                      lambda name: german)
    voices = LanguageVoices(catalog, joe, {"de": "joe-german"})
    options = ConversationOptions(endpointer=EndpointerParams(), speculative_stt=False, speculative_reply=False)

    async def scenario() -> None:
        async with Harness(Conversation, engines, options) as h:
            h.conv.use_language_voices(voices)  # type: ignore[attr-defined]
            await h.speak(0.9, 10)
            await h.silence(20)
            await until(lambda: h.of(TurnCompleted), timeout_s=60, what="the German turn")
        (done,) = h.of(TurnCompleted)
        record = done.record  # type: ignore[attr-defined]
        assert (record.language, record.voice, record.assistant) == ("de", "joe-german", REPLY)
        audio = h.of(ReplyAudio)
        assert audio and all(len(a.samples) > 0 for a in audio)  # type: ignore[attr-defined]

    asyncio.run(asyncio.wait_for(scenario(), 120))
    said = " ".join(german.texts)
    assert said == "Es ist zehn Uhr fünfzehn und kostet drei Euro und fünfzig Cent.", german.texts
    assert not any(ch.isdigit() for ch in said)
    system = engines.chat.calls[0][0].content
    assert system.endswith("always reply in German.")
