"""``POST /v1/audio/speech``: text → audio in the requested container, streamed as it is made
(raw bytes or server-sent events). One TTS job per sentence on the shared priority executor.

The input is bounded by what it expands to, not only by its length: it is normalised first
(control characters dropped, numbers and symbols spelled out, pieces of at most
:data:`~voicecli.tts.speakable.MAX_PIECE_CHARS`), then refused with a 400 when nothing speakable
is left or when the voice's phonemes say the speech would last longer than
``Limits.max_speech_s``; synthesis also stops there should the estimate be wrong."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from voicecli.audio.resample import StreamResampler
from voicecli.errors import RemoteEngineError
from voicecli.server.encoders import CONTENT_TYPES, WIRE_RATE_HZ, encoder_for
from voicecli.server.http_errors import ApiError
from voicecli.server.rest.common import ERRORS, SSE_HEADERS, server_state, sse
from voicecli.server.state import NORMAL, URGENT
from voicecli.tts.speakable import split_for_speech

router = APIRouter()
log = logging.getLogger("voicecli.server")

SPOKEN_CHARS_PER_S = 15.0
"""For a voice that cannot estimate its own duration: a conservative rate for prose (Piper reads
19-22 characters of English prose a second at speed 1)."""
OVERRUN = 1.25
"""Synthesis stops once the audio exceeds the limit by this factor (the estimate was wrong)."""


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
    languages = state.voices.languages(name)  # numbers are said in the voice's language
    pieces = await asyncio.to_thread(split_for_speech, body.input, language=languages[0] if languages else None)
    if not pieces:
        raise ApiError(400, "input has nothing to say once markup, emoji and control characters are removed",
                       "input", "nothing_to_speak")
    loop = asyncio.get_running_loop()
    speaker = await loop.run_in_executor(state.tts_pool, state.voices.speaker, name)
    fmt, speed = body.response_format, body.speed
    estimated_s = await asyncio.to_thread(_estimate_s, speaker, pieces, speed)
    if estimated_s > limits.max_speech_s:
        raise ApiError(400, f"input would take about {estimated_s / 60:.0f} min to say at speed {speed:g} (numbers, "
                       f"symbols and letters read out); the limit is {limits.max_speech_s / 60:.0f} min",
                       "input", "speech_too_long")
    t_request = time.monotonic()

    async def synthesized() -> AsyncIterator[bytes]:
        """One TTS job per sentence, so other sessions' speech interleaves on the shared worker."""
        resampler = StreamResampler(speaker.sample_rate_hz, WIRE_RATE_HZ)
        encoder = encoder_for(fmt)
        budget = int(limits.max_speech_s * OVERRUN * speaker.sample_rate_hz)
        produced = 0
        for i, piece in enumerate(pieces):

            def synth(text: str = piece) -> tuple[bytes, int]:
                out, samples = b"", 0
                for chunk in speaker.synthesize(text, speed):
                    samples += len(chunk.samples)
                    out += encoder.encode(resampler.process(chunk.samples))
                return out, samples

            data, samples = await asyncio.wrap_future(state.tts_pool.submit_with_priority(
                URGENT if i == 0 else NORMAL, synth))
            if i == 0:
                state.metrics.observe("tts_first_audio", time.monotonic() - t_request)
            produced += samples
            if data:
                yield data
            if produced > budget and i + 1 < len(pieces):
                log.warning("speech stopped at the limit: %.0f s of audio after %d of %d pieces (estimated %.0f s)",
                            produced / speaker.sample_rate_hz, i + 1, len(pieces), estimated_s)
                break

        def finish() -> bytes:
            return encoder.encode(resampler.process(np.zeros(0, np.float32), last=True)) + encoder.finish()

        tail = await asyncio.wrap_future(state.tts_pool.submit_with_priority(NORMAL, finish))
        if tail:
            yield tail

    audio_bytes = await _started(synthesized())

    if body.stream_format == "sse":
        async def events() -> AsyncIterator[bytes]:
            async for data in audio_bytes():
                yield sse({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")})
            n = max(1, len(body.input) // 4)
            yield sse({"type": "speech.audio.done",
                       "usage": {"input_tokens": n, "output_tokens": 0, "total_tokens": n}})
        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
    return StreamingResponse(audio_bytes(), media_type=CONTENT_TYPES[fmt])


def _estimate_s(speaker: Any, pieces: list[str], speed: float) -> float:
    """How long the pieces will take to say: from the voice's phonemes when it can tell."""
    estimate = getattr(speaker, "duration_estimate_s", None)
    if estimate is None:
        return sum(len(p) + 1 for p in pieces) / SPOKEN_CHARS_PER_S / speed
    return float(sum(estimate(p, speed) for p in pieces))


async def _started(chunks: AsyncIterator[bytes]) -> Callable[[], AsyncIterator[bytes]]:
    """Synthesize the first piece before the response starts, so a failure there is an error
    status (500), not a 200 with an empty body; a later failure ends the stream with one log line."""
    try:
        head = await chunks.__anext__()
    except StopAsyncIteration:
        head = b""
    except RemoteEngineError as exc:  # --tts-url: say which server failed and how
        log.warning("speech synthesis failed: %s", exc.message)
        raise ApiError(502, exc.message, None, "upstream_error") from None
    except Exception as exc:  # noqa: BLE001 - an engine failure: one line in the log, an error for the client
        log.warning("speech synthesis failed: %s: %s", type(exc).__name__, exc)
        raise ApiError(500, "speech synthesis failed", None, "tts_failed") from None

    async def rest() -> AsyncIterator[bytes]:
        if head:
            yield head
        try:
            async for data in chunks:
                yield data
        except Exception as exc:  # noqa: BLE001 - headers are sent: end the stream, keep the log to one line
            log.warning("speech synthesis failed mid-stream: %s: %s", type(exc).__name__, exc)

    return rest

