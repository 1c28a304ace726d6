"""``POST /v1/audio/speech``: text → audio in the requested container, streamed as it is made
(raw bytes or server-sent events). One TTS job per sentence on the shared priority executor."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from voicecli.audio.resample import StreamResampler
from voicecli.server.encoders import CONTENT_TYPES, WIRE_RATE_HZ, encoder_for
from voicecli.server.http_errors import ApiError
from voicecli.server.rest.common import ERRORS, SSE_HEADERS, server_state, sse
from voicecli.server.state import NORMAL, URGENT
from voicecli.tts.speakable import split_for_speech

router = APIRouter()


class VoiceId(BaseModel):
    id: str


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    input: str
    voice: str | VoiceId
    instructions: str | None = None
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] = "audio"


@router.post("/v1/audio/speech", responses={**ERRORS, 200: {"content": {"audio/mpeg": {}, "audio/wav": {}}}})
async def create_speech(request: Request, body: SpeechRequest) -> Response:
    state = server_state(request)
    limits = state.config.limits
    if not body.input.strip():
        raise ApiError(400, "input is empty", "input")
    if len(body.input) > limits.max_text_chars:
        raise ApiError(400, f"input is longer than {limits.max_text_chars} characters", "input",
                       "string_above_max_length")
    voice = body.voice.id if isinstance(body.voice, VoiceId) else body.voice
    name = state.voices.resolve(voice)
    if name is None:
        raise ApiError(400, f"unknown voice {voice[:60]!r}; use one of: {', '.join(state.voices.accepted())}",
                       "voice", "invalid_voice")
    loop = asyncio.get_running_loop()
    speaker = await loop.run_in_executor(state.tts_pool, state.voices.speaker, name)
    pieces = split_for_speech(body.input)
    fmt, speed = body.response_format, body.speed
    t_request = time.monotonic()

    async def audio_bytes() -> AsyncIterator[bytes]:
        """One TTS job per sentence, so other sessions' speech interleaves on the shared worker."""
        resampler = StreamResampler(speaker.sample_rate_hz, WIRE_RATE_HZ)
        encoder = encoder_for(fmt)
        first = True
        for i, piece in enumerate(pieces or [""]):
            last = i == max(0, len(pieces) - 1)

            def synth(text: str = piece, last: bool = last) -> bytes:
                out = b""
                if text:
                    for chunk in speaker.synthesize(text, speed):
                        out += encoder.encode(resampler.process(chunk.samples))
                if last:
                    out += encoder.encode(resampler.process(np.zeros(0, np.float32), last=True)) + encoder.finish()
                return out

            priority = URGENT if first else NORMAL
            data = await asyncio.wrap_future(state.tts_pool.submit_with_priority(priority, synth))
            if first:
                state.metrics.observe("tts_first_audio", time.monotonic() - t_request)
                first = False
            if data:
                yield data

    if body.stream_format == "sse":
        async def events() -> AsyncIterator[bytes]:
            async for data in audio_bytes():
                yield sse({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")})
            n = max(1, len(body.input) // 4)
            yield sse({"type": "speech.audio.done",
                       "usage": {"input_tokens": n, "output_tokens": 0, "total_tokens": n}})
        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
    return StreamingResponse(audio_bytes(), media_type=CONTENT_TYPES[fmt])

