"""``POST /v1/chat/completions``: OpenAI chat messages → the local (or ``--llm-url``) model's
reply, whole or streamed as chunks. Generation runs on the LLM executor."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from voicecli.concurrency import iterate_in_thread
from voicecli.errors import VoicecliError
from voicecli.llm.types import ChatMessage, GenerationOptions
from voicecli.server.http_errors import ApiError, error_body
from voicecli.server.rest.common import ERRORS, SSE_HEADERS, server_state, sse

router = APIRouter()


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
    state = server_state(request)
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
        raise ApiError(400, f"the request does not fit the model: {exc}", "messages",
                       "context_length_exceeded") from None
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
        return sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
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
                    yield sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                "choices": [], "usage": usage()})
            except (VoicecliError, ValueError) as exc:
                yield sse(error_body(f"generation failed: {exc}", "server_error"))
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
