"""Any OpenAI-compatible speech server (another ``voicecli serve``, speaches, vLLM-Omni) as the
TTS tier: ``POST /v1/audio/speech`` asking for ``pcm`` (OpenAI's 24 kHz 16-bit mono). A server
that answers with a WAV instead is decoded and resampled to the same rate, so every chunk is at
:attr:`RemoteSpeaker.sample_rate_hz`. Nothing is loaded locally."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from voicecli.audio.decode import decode_audio
from voicecli.audio.format import AudioChunk, pcm16_to_float
from voicecli.errors import AudioInputError, RemoteEngineError
from voicecli.remote_http import RemoteEndpoint

WIRE_RATE_HZ = 24_000
"""OpenAI's rate for ``pcm`` speech."""
MAX_SPEECH_S = 300.0
"""The longest audio accepted for one call (the pipeline sends a clause or a sentence)."""


class RemoteSpeaker:
    """``voice`` and ``model`` are sent as they are (voicecli serve: a Piper voice name or an
    OpenAI voice alias; ``model`` any name)."""

    sample_rate_hz = WIRE_RATE_HZ

    def __init__(self, base_url: str, voice: str, model: str = "tts-1", api_key: str | None = None,
                 timeout_s: float = 30.0) -> None:
        self.endpoint = RemoteEndpoint(base_url, "the TTS server", "--tts-url", api_key, timeout_s)
        self.voice = voice
        self.model = model
        self.name = f"{voice}@{self.endpoint.host}"

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        """One chunk for the whole text (the server's answer, once it is complete)."""
        if not text.strip():
            return
        body, content_type = self.endpoint.post(
            "/audio/speech", max_bytes=int(MAX_SPEECH_S * WIRE_RATE_HZ * 2) + 1024,
            json={"model": self.model, "input": text, "voice": self.voice, "response_format": "pcm",
                  "speed": speed})
        yield AudioChunk(self._samples(body, content_type), WIRE_RATE_HZ)

    def _samples(self, body: bytes, content_type: str) -> np.ndarray:
        if body[:4] == b"RIFF" or "wav" in content_type:
            try:
                return decode_audio(body, "speech from --tts-url", WIRE_RATE_HZ, max_seconds=MAX_SPEECH_S)
            except AudioInputError as exc:
                raise RemoteEngineError(f"the TTS server at {self.endpoint.base_url} sent a WAV that does not "
                                        f"decode: {exc.message}", "is --tts-url an OpenAI-compatible server?") from None
        if content_type.startswith(("application/json", "text/")) or len(body) % 2:
            raise RemoteEngineError(f"the TTS server at {self.endpoint.base_url} sent {content_type or 'no type'}, "
                                    f"not 16-bit PCM audio: {body[:80]!r}",
                                    "is --tts-url an OpenAI-compatible server?")
        return pcm16_to_float(body)

    def warm_up(self) -> None:
        """No model to warm: check that the server answers, so a wrong URL fails at startup."""
        self.endpoint.check()
