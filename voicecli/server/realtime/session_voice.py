"""Which voice a realtime session speaks with: resolving and loading a voice for the session
(``session.update``) or for one response (``response.create``), the rule that it is fixed once
audio went out, and silence for text-only responses.

The mechanism is the one place that assigns ``engines.speaker`` on the engines view the
Conversation reads from its TTS thread; swap it here for a ``conversation.use_speaker(...)``
seam when the pipeline offers one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, Protocol

from voicecli.audio.format import AudioChunk
from voicecli.config import Settings
from voicecli.server.realtime.protocol import ClientEventError
from voicecli.server.state import ServerState


class Speaker(Protocol):
    name: str
    sample_rate_hz: int

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]: ...


class SilentSpeaker:
    """Text-only responses: the pipeline's TTS step produces nothing."""

    def __init__(self, like: Speaker) -> None:
        self.name = "none"
        self.sample_rate_hz = like.sample_rate_hz

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        return iter(())


class SessionEngines:
    """The server's shared engines with this session's own speaker (the Conversation reads
    ``engines.speaker`` for every sentence it synthesises)."""

    def __init__(self, base: Any, speaker: Speaker) -> None:
        self._base = base
        self.settings: Settings = base.settings
        self.transcriber = base.transcriber
        self.chat = base.chat
        self.speaker: Speaker = speaker

    def new_vad(self) -> Any:
        return self._base.new_vad()


class SessionVoice:
    """The session's voice (``speaker``) and what the pipeline speaks with right now."""

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self.speaker: Speaker = state.engines.speaker
        self.engines = SessionEngines(state.engines, self.speaker)
        self.audio_produced = False
        """Set once a spoken response sent audio: from then on the voice is fixed."""

    @property
    def sample_rate_hz(self) -> int:
        """Rate of the audio the pipeline is synthesising now."""
        return self.engines.speaker.sample_rate_hz

    async def change(self, voice: str) -> None:
        """``session.update`` asked for another voice."""
        if self.audio_produced:
            raise ClientEventError("the voice cannot change once the session has produced audio",
                                   "session.voice", "cannot_update_voice")
        self.speaker = await self._load(voice, "session.voice")
        self.engines.speaker = self.speaker

    async def for_response(self, voice: str | None) -> Speaker:
        """The speaker for one response (``response.create`` may name a voice)."""
        if voice is None:
            return self.speaker
        if self.audio_produced and self._state.voices.resolve(voice) != self.speaker.name:
            raise ClientEventError("the voice cannot change once the session has produced audio",
                                   "response.voice", "cannot_update_voice")
        return await self._load(voice, "response.voice")

    def speak(self, audio: bool, speaker: Speaker | None = None) -> None:
        """Synthesise the next reply with ``speaker`` (the session's voice by default), or not at
        all for a text-only reply. VAD turns start their TTS speculatively, before a response
        exists, so between responses this must already say what the next turn needs."""
        self.engines.speaker = (speaker or self.speaker) if audio else SilentSpeaker(self.speaker)

    async def _load(self, voice: str, param: str) -> Speaker:
        voices = self._state.voices
        name = voices.resolve(voice)
        if name is None:
            raise ClientEventError(f"unknown voice {voice[:60]!r}; use one of: {', '.join(voices.accepted())}",
                                   param, "invalid_voice")
        loop = asyncio.get_running_loop()
        speaker: Speaker = await loop.run_in_executor(self._state.tts_pool, voices.speaker, name)
        return speaker
