"""``POST /v1/audio/transcriptions``: an uploaded file → text, subtitles or verbose JSON, whole
or streamed as server-sent events. Uploads are decoded on the decode pool
(:mod:`voicecli.server.decoding`) within the audio and time limits, then transcribed on the batch
STT executor; audio longer than
:data:`~voicecli.stt.speech_chunks.LONG_AUDIO_S` is cut into speech chunks by VAD first."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from voicecli.audio.decode import AudioTooLongError
from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.concurrency import iterate_in_thread
from voicecli.errors import AudioInputError, VoicecliError
from voicecli.languages import language_name, normalize_language
from voicecli.server.decoding import decode_upload
from voicecli.server.http_errors import ApiError, error_body
from voicecli.server.rest.common import ERRORS, SSE_HEADERS, server_state, sse
from voicecli.server.state import ServerState
from voicecli.stt.formats import render
from voicecli.stt.options import transcribe_options
from voicecli.stt.speech_chunks import wants_vad
from voicecli.stt.types import Segment, Transcription, TranscriptionInfo

router = APIRouter()

MIN_AUDIO_S = 0.1
"""OpenAI refuses shorter audio too."""

SUBTITLE_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt"}
"""Subtitle formats and their content types."""

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt", "diarized_json"]


@router.post("/v1/audio/transcriptions", responses=ERRORS)
async def create_transcription(
    request: Request,
    file: Annotated[UploadFile, File(description="Audio: wav, flac, mp3, ogg/opus, webm, m4a, mp4 …")],
    model: Annotated[str, Form(description="Any name; whisper-1 and the other OpenAI names are accepted.")],
    language: Annotated[str | None, Form()] = None,
    prompt: Annotated[str | None, Form()] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
    temperature: Annotated[float, Form()] = 0.0,
    timestamp_granularities: Annotated[list[Literal["word", "segment"]] | None,
                                       Form(alias="timestamp_granularities[]")] = None,
    stream: Annotated[bool, Form()] = False,
) -> Response:
    state = server_state(request)
    limits = state.config.limits
    if response_format == "diarized_json":
        raise ApiError(400, "diarized_json is not supported by this server", "response_format", "unsupported_value")
    if not 0.0 <= temperature <= 1.0 or math.isnan(temperature):
        raise ApiError(400, "temperature must be between 0 and 1", "temperature")
    granularities = set(timestamp_granularities or [])
    if granularities and response_format != "verbose_json":
        raise ApiError(400, "timestamp_granularities[] requires response_format=verbose_json",
                       "timestamp_granularities[]")
    if stream and response_format not in ("json", "text"):
        raise ApiError(400, "stream=true supports response_format json or text", "stream")
    code: str | None = None
    if language:
        code = normalize_language(language)
        if code is None:
            raise ApiError(400, f"unsupported language {language[:40]!r}: use an ISO-639-1 code such as 'en'",
                           "language", "invalid_language")
    if prompt is not None and len(prompt) > limits.max_text_chars:
        raise ApiError(400, f"prompt is longer than {limits.max_text_chars} characters", "prompt")
    data = await file.read()
    want_words = "word" in granularities
    segments_wanted = response_format == "verbose_json" and (not granularities or "segment" in granularities)
    options = replace(transcribe_options(state.engines.settings, purpose="file", language=code),
                      word_timestamps=want_words, initial_prompt=prompt or None, temperature=temperature)
    transcriber = state.engines.transcriber
    name = (file.filename or "audio")[:120]

    samples = await _decode_upload(state, data, name)
    del data
    duration = len(samples) / PIPELINE_RATE_HZ
    if duration < MIN_AUDIO_S:
        raise ApiError(400, f"audio is too short ({duration:.3f} s; at least {MIN_AUDIO_S} s): truncated or empty?",
                       "file", "audio_too_short")
    options = replace(options, vad_filter=wants_vad(duration))

    def job(stop: threading.Event) -> Iterator[TranscriptionInfo | Segment]:
        t0 = time.monotonic()
        info, segments = transcriber.transcribe_stream(samples, options)
        yield info
        for seg in segments:
            if stop.is_set():
                return
            yield seg
        state.metrics.observe("stt_file", time.monotonic() - t0)

    items = iterate_in_thread(state.batch_stt_pool, job)
    try:
        info = await items.__anext__()
    except StopAsyncIteration:
        raise ApiError(500, "transcription produced nothing", None, "server_error") from None
    assert isinstance(info, TranscriptionInfo)
    duration = float(info.duration_s)
    usage = {"type": "duration", "seconds": max(1, math.ceil(duration))}

    if stream:
        async def events() -> AsyncIterator[bytes]:
            parts: list[str] = []
            try:
                async for seg in items:
                    assert isinstance(seg, Segment)
                    parts.append(seg.text)
                    yield sse({"type": "transcript.text.delta", "delta": seg.text, "logprobs": None})
                yield sse({"type": "transcript.text.done", "text": "".join(parts).strip(), "logprobs": None,
                           "usage": usage})
            except VoicecliError as exc:
                yield sse(error_body(exc.message, "server_error"))
            finally:
                await items.aclose()
        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    segments: list[Segment] = [seg async for seg in items if isinstance(seg, Segment)]
    text = "".join(s.text for s in segments).strip()
    if response_format == "text":
        return PlainTextResponse(text + "\n")
    if response_format in SUBTITLE_TYPES:  # the same writer as `voicecli transcribe --format srt|vtt`
        transcript = Transcription(text, info.language, info.language_probability, duration, tuple(segments))
        return PlainTextResponse(render(transcript, response_format), media_type=SUBTITLE_TYPES[response_format])
    if response_format == "json":
        return JSONResponse({"text": text, "usage": usage})
    body: dict[str, Any] = {"task": "transcribe", "language": language_name(info.language),
                            "duration": round(duration, 3), "text": text}
    if segments_wanted:
        body["segments"] = [_segment_json(s) for s in segments]
    if want_words:
        body["words"] = [{"word": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3)}
                         for s in segments for w in s.words]
    body["usage"] = usage
    return JSONResponse(body)


async def _decode_upload(state: ServerState, data: bytes, name: str) -> np.ndarray:
    """The upload's samples, or the HTTP error that says why there are none."""
    limits = state.config.limits
    t0 = time.monotonic()
    try:
        return await decode_upload(state.decode_pool, data, name, max_audio_s=limits.max_audio_s,
                                   max_decode_s=limits.max_decode_s)
    except AudioTooLongError as exc:
        raise ApiError(400, exc.message, "file", "audio_too_long") from None
    except AudioInputError as exc:
        raise ApiError(400, exc.message, "file", "invalid_file") from None
    finally:
        state.metrics.observe("decode_file", time.monotonic() - t0)


def _segment_json(s: Segment) -> dict[str, Any]:
    return {"id": s.id, "seek": s.seek, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text,
            "tokens": list(s.tokens), "temperature": s.temperature, "avg_logprob": s.avg_logprob,
            "compression_ratio": s.compression_ratio, "no_speech_prob": s.no_speech_prob}
