"""OpenAI-compatible REST routes: audio transcriptions, speech, chat completions, models.
Inference runs on the shared executors; the event loop only parses, streams and encodes
nothing heavier than JSON."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from voicecli.audio.format import PIPELINE_RATE_HZ
from voicecli.audio.resample import StreamResampler
from voicecli.errors import AudioInputError, VoicecliError
from voicecli.llm.types import ChatMessage, GenerationOptions
from voicecli.server.encoders import CONTENT_TYPES, WIRE_RATE_HZ, encoder_for
from voicecli.server.http_errors import ApiError, error_body
from voicecli.server.languages import language_name, normalize_language
from voicecli.server.state import (
    NORMAL,
    REALTIME_ALIASES,
    STT_ALIASES,
    TTS_ALIASES,
    URGENT,
    ServerState,
    iterate_in_thread,
)
from voicecli.server.subtitles import srt, vtt
from voicecli.stt.types import Segment, TranscribeOptions
from voicecli.tts.chunker import ChunkerParams, SpeechChunker
from voicecli.tts.normalize import normalize_for_speech

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request (OpenAI error body)"},
    401: {"description": "Missing or wrong API key"},
    413: {"description": "Request body too large"},
}
MIN_AUDIO_S = 0.1
"""OpenAI refuses shorter audio too."""
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _state(request: Request) -> ServerState:
    return request.app.state.voicecli


def _sse(obj: Any) -> bytes:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()


# --- transcriptions -------------------------------------------------------------------------
ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt", "diarized_json"]


@router.post("/v1/audio/transcriptions", responses=ERRORS)
async def create_transcription(
    request: Request,
    file: UploadFile = File(..., description="Audio: wav, flac, mp3, ogg/opus, webm, m4a, mp4 …"),
    model: str = Form(..., description="Any name; whisper-1 and the other OpenAI names are accepted."),
    language: str | None = Form(None),
    prompt: str | None = Form(None),
    response_format: ResponseFormat = Form("json"),
    temperature: float = Form(0.0),
    timestamp_granularities: list[Literal["word", "segment"]] | None = Form(None, alias="timestamp_granularities[]"),
    stream: bool = Form(False),
) -> Response:
    state = _state(request)
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
    options = TranscribeOptions(language=code or state.engines.settings.stt.language,
                                beam_size=state.engines.settings.stt.beam_size, word_timestamps=want_words,
                                initial_prompt=prompt or None, temperature=temperature)
    transcriber = state.engines.transcriber
    name = file.filename or "audio"
    max_audio_s = limits.max_audio_s

    def job(stop: threading.Event) -> Iterator[Any]:
        from voicecli.audio.decode import decode_audio

        t0 = time.monotonic()
        _check_duration(data, name, max_audio_s)
        samples = decode_audio(data, name)
        duration = len(samples) / PIPELINE_RATE_HZ
        if duration < MIN_AUDIO_S:
            raise ApiError(400, f"audio is too short ({duration:.3f} s; at least {MIN_AUDIO_S} s): truncated or empty?",
                           "file", "audio_too_short")
        if duration > max_audio_s:
            raise ApiError(400, f"audio is {duration:.0f} s long; the limit is {max_audio_s:.0f} s", "file",
                           "audio_too_long")
        info, segments = transcriber.transcribe_stream(samples, options)
        yield info
        for seg in segments:
            if stop.is_set():
                return
            yield seg
        state.metrics.observe("stt_file", time.monotonic() - t0)

    items = iterate_in_thread(state.batch_stt_pool, job)
    try:
        info = await items.__anext__()  # decoding errors become HTTP errors, before any streaming
    except AudioInputError as exc:
        await items.aclose()
        raise ApiError(400, exc.message, "file", "invalid_file") from None
    except StopAsyncIteration:
        raise ApiError(500, "transcription produced nothing", None, "server_error") from None
    duration = float(info.duration_s)
    usage = {"type": "duration", "seconds": max(1, math.ceil(duration))}

    if stream:
        async def events() -> AsyncIterator[bytes]:
            parts: list[str] = []
            try:
                async for seg in items:
                    parts.append(seg.text)
                    yield _sse({"type": "transcript.text.delta", "delta": seg.text, "logprobs": None})
                yield _sse({"type": "transcript.text.done", "text": "".join(parts).strip(), "logprobs": None,
                            "usage": usage})
            except VoicecliError as exc:
                yield _sse(error_body(exc.message, "server_error"))
            finally:
                await items.aclose()
        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    segments: list[Segment] = [seg async for seg in items]
    text = "".join(s.text for s in segments).strip()
    if response_format == "text":
        return PlainTextResponse(text + "\n")
    if response_format == "srt":
        return PlainTextResponse(srt(segments), media_type="application/x-subrip")
    if response_format == "vtt":
        return PlainTextResponse(vtt(segments), media_type="text/vtt")
    if response_format == "json":
        return JSONResponse({"text": text, "usage": usage})
    body: dict[str, Any] = {"task": "transcribe", "language": language_name(info.language), "duration": round(duration, 3),
                            "text": text}
    if segments_wanted:
        body["segments"] = [_segment_json(s) for s in segments]
    if want_words:
        body["words"] = [{"word": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3)}
                         for s in segments for w in s.words]
    body["usage"] = usage
    return JSONResponse(body)


def _check_duration(data: bytes, name: str, max_audio_s: float) -> None:
    """Open the upload with ffmpeg first: refuse what is not audio, and refuse long audio from
    the container's header before decoding all of it."""
    import io

    import av

    if not data:
        raise AudioInputError(f"{name}: no data (empty file)", "upload an audio file")
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioInputError(f"{name}: contains no audio stream", "upload a file with an audio track")
            duration = container.duration
    except AudioInputError:
        raise
    except Exception as exc:
        raise AudioInputError(f"{name}: not an audio file ffmpeg can read",
                              "use wav, flac, mp3, ogg/opus, webm, m4a or mp4") from exc
    if duration is not None and duration / 1_000_000 > max_audio_s * 1.02:
        raise ApiError(400, f"audio is {duration / 1_000_000:.0f} s long; the limit is {max_audio_s:.0f} s",
                       "file", "audio_too_long")


def _segment_json(s: Segment) -> dict[str, Any]:
    return {"id": s.id, "seek": s.seek, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text,
            "tokens": list(s.tokens), "temperature": s.temperature, "avg_logprob": s.avg_logprob,
            "compression_ratio": s.compression_ratio, "no_speech_prob": s.no_speech_prob}


# --- speech ---------------------------------------------------------------------------------
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
    state = _state(request)
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
    pieces = _sentences(normalize_for_speech(body.input))
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
                yield _sse({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")})
            n = max(1, len(body.input) // 4)
            yield _sse({"type": "speech.audio.done",
                        "usage": {"input_tokens": n, "output_tokens": 0, "total_tokens": n}})
        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
    return StreamingResponse(audio_bytes(), media_type=CONTENT_TYPES[fmt])


def _sentences(text: str) -> list[str]:
    chunker = SpeechChunker(ChunkerParams(first_chunk_min_words=6, max_chunk_words=40))
    return [*chunker.push(text + " "), *chunker.flush()]


# --- chat completions -----------------------------------------------------------------------
class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessageIn] = Field(..., min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    stop: str | list[str] | None = None
    n: int | None = Field(None, ge=1, le=1)


_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def _chat_messages(body: ChatRequest, max_chars: int, max_messages: int) -> list[ChatMessage]:
    if len(body.messages) > max_messages:
        raise ApiError(400, f"too many messages (at most {max_messages})", "messages")
    out: list[ChatMessage] = []
    total = 0
    for i, m in enumerate(body.messages):
        role = _ROLES.get(m.role)
        if role is None:
            raise ApiError(400, f"messages[{i}].role {m.role[:30]!r} is not supported "
                           "(system, developer, user, assistant)", f"messages[{i}].role")
        if isinstance(m.content, list):
            texts = []
            for j, part in enumerate(m.content):
                if part.type != "text" or part.text is None:
                    raise ApiError(400, f"messages[{i}].content[{j}]: only text parts are supported",
                                   f"messages[{i}].content[{j}].type")
                texts.append(part.text)
            content = "\n".join(texts)
        else:
            content = m.content or ""
        total += len(content)
        if total > max_chars:
            raise ApiError(400, f"messages are longer than {max_chars} characters in total", "messages",
                           "context_length_exceeded")
        out.append(ChatMessage(role, content))  # type: ignore[arg-type]
    return out


@router.post("/v1/chat/completions", responses=ERRORS)
async def create_chat_completion(request: Request, body: ChatRequest) -> Response:
    state = _state(request)
    limits = state.config.limits
    settings = state.engines.settings
    messages = _chat_messages(body, limits.max_chat_chars, limits.max_chat_messages)
    max_tokens = min(body.max_completion_tokens or body.max_tokens or settings.llm.max_reply_tokens, limits.max_tokens)
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    if len(stop) > 4 or any(len(s) > 200 for s in stop):
        raise ApiError(400, "stop: at most 4 sequences of 200 characters", "stop")
    options = GenerationOptions(max_tokens=max_tokens, stop=tuple(s for s in stop if s),
                                temperature=settings.llm.temperature if body.temperature is None else body.temperature)
    chat = state.engines.chat
    counts = {"completion": 0, "prompt": 0}
    t0 = time.monotonic()

    def job(stop_event: threading.Event) -> Iterator[str]:
        counts["prompt"] = sum(chat.count_tokens(m.content) + 4 for m in messages)
        for delta in chat.stream(messages, options):
            counts["completion"] += 1
            yield delta
            if stop_event.is_set():
                return

    deltas = iterate_in_thread(state.llm_pool, job)
    try:
        first: str | None = await deltas.__anext__()
        state.metrics.observe("llm_first_token", time.monotonic() - t0)
    except StopAsyncIteration:
        first = None
    except ValueError as exc:  # llama.cpp: prompt longer than the context window
        raise ApiError(400, f"the request does not fit the model: {exc}", "messages", "context_length_exceeded") from None
    except VoicecliError as exc:
        raise ApiError(502, f"LLM backend failed: {exc.one_line()}", None, "upstream_error",
                       "server_error") from None
    cid = "chatcmpl-" + base64.b32encode(np.random.bytes(10)).decode().lower()
    created = int(time.time())
    model = chat.name

    def finish_reason() -> str:
        return "length" if counts["completion"] >= max_tokens else "stop"

    def usage() -> dict[str, int]:
        return {"prompt_tokens": counts["prompt"], "completion_tokens": counts["completion"],
                "total_tokens": counts["prompt"] + counts["completion"]}

    def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
        return _sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                     "system_fingerprint": None,
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]})

    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        async def events() -> AsyncIterator[bytes]:
            try:
                yield chunk({"role": "assistant", "content": ""})
                if first is not None:
                    yield chunk({"content": first})
                async for delta in deltas:
                    yield chunk({"content": delta})
                yield chunk({}, finish_reason())
                if include_usage:
                    yield _sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                "choices": [], "usage": usage()})
            except (VoicecliError, ValueError) as exc:
                yield _sse(error_body(f"generation failed: {exc}", "server_error"))
            finally:
                await deltas.aclose()
            yield b"data: [DONE]\n\n"
        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    try:
        text = (first or "") + "".join([d async for d in deltas])
    except (VoicecliError, ValueError) as exc:
        raise ApiError(502, f"LLM backend failed: {exc}", None, "upstream_error", "server_error") from None
    return JSONResponse({"id": cid, "object": "chat.completion", "created": created, "model": model,
                         "system_fingerprint": None,
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                                      "logprobs": None, "finish_reason": finish_reason()}],
                         "usage": usage()})


# --- models -----------------------------------------------------------------------------------
def _models(state: ServerState) -> list[dict[str, Any]]:
    names = state.model_names()
    ids = [names["stt"], names["llm"], *state.voices.installed, state.config.model_id,
           *STT_ALIASES, *TTS_ALIASES, *REALTIME_ALIASES]
    created = int(state.started_at)
    return [{"id": i, "object": "model", "created": created, "owned_by": "voicecli"} for i in dict.fromkeys(ids)]


@router.get("/v1/models", responses=ERRORS)
async def list_models(request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": _models(_state(request))})


@router.get("/v1/models/{model_id:path}", responses={**ERRORS, 404: {"description": "No such model"}})
async def get_model(request: Request, model_id: str) -> JSONResponse:
    for m in _models(_state(request)):
        if m["id"] == model_id:
            return JSONResponse(m)
    raise ApiError(404, f"the model {model_id[:100]!r} does not exist", "model", "model_not_found")
