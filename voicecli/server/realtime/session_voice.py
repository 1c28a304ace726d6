"""Which voice a realtime session speaks with: resolving and loading a voice for the session
(``session.update``) or for one response (``response.create``), the rule that it is fixed once
audio went out, and silence for text-only responses.

The choice reaches the conversation through ``Conversation.use_speaker`` (thread-safe, read
once when a reply starts); the shared engines are never mutated. The server's default voice
(``alloy``, or no voice named) is handed over as no choice: with a multilingual Whisper each
reply is then spoken by the voice of its turn's language, as in ``talk``; a session or response
that names another voice keeps that voice whatever the language."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from voicecli.audio.format import AudioChunk
from voicecli.server.realtime.protocol import ClientEventError
from voicecli.server.state import ServerState
from voicecli.tts.types import Synthesizer


class SilentSpeaker:
    """Text-only responses: the pipeline's TTS step produces nothing."""

    def __init__(self, like: Synthesizer) -> None:
        self.name = "none"
        self.sample_rate_hz = like.sample_rate_hz

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        return iter(())

    def warm_up(self) -> None:
        pass


class SessionVoice:
    """The session's voice (``speaker``) and the choice it hands the conversation for its next
    reply (``Conversation.use_speaker``, read once when a reply starts)."""

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self.speaker: Synthesizer = state.engines.speaker
        self._use: Callable[[Synthesizer | None], None] = lambda _: None
        self.audio_produced = False
        """Set once a spoken response sent audio: from then on the voice is fixed."""

    def attach(self, use_speaker: Callable[[Synthesizer | None], None]) -> None:
        """Hand the choices to the conversation (``conversation.use_speaker``)."""
        self._use = use_speaker
        self._use(self._choice(self.speaker))

    async def change(self, voice: str) -> None:
        """``session.update`` asked for another voice."""
        if self.audio_produced:
            raise ClientEventError("the voice cannot change once the session has produced audio",
                                   "session.voice", "cannot_update_voice")
        self.speaker = await self._load(voice, "session.voice")
        self._use(self._choice(self.speaker))

    async def for_response(self, voice: str | None) -> Synthesizer:
        """The speaker for one response (``response.create`` may name a voice)."""
        if voice is None:
            return self.speaker
        if self.audio_produced and self._state.voices.resolve(voice) != self.speaker.name:
            raise ClientEventError("the voice cannot change once the session has produced audio",
                                   "response.voice", "cannot_update_voice")
        return await self._load(voice, "response.voice")

    def speak(self, audio: bool, speaker: Synthesizer | None = None) -> None:
        """Synthesise the next reply with ``speaker`` (the session's voice by default), or not at
        all for a text-only reply. VAD turns start their TTS speculatively, before a response
        exists, so between responses this must already say what the next turn needs."""
        self._use(self._choice(speaker or self.speaker) if audio else SilentSpeaker(self.speaker))

    def _choice(self, speaker: Synthesizer) -> Synthesizer | None:
        """``speaker`` as the conversation's choice: None for the server's default voice (the
        conversation then speaks each turn's language with that language's voice)."""
        return None if speaker is self._state.engines.speaker else speaker

    async def _load(self, voice: str, param: str) -> Synthesizer:
        voices = self._state.voices
        name = voices.resolve(voice)
        if name is None:
            raise ClientEventError(f"unknown voice {voice[:60]!r}; use one of: {', '.join(voices.accepted())}",
                                   param, "invalid_voice")
        loop = asyncio.get_running_loop()
        speaker: Synthesizer = await loop.run_in_executor(self._state.tts_pool, voices.speaker, name)
        return speaker
