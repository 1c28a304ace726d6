"""``POST /v1/chat/completions``: OpenAI chat messages → the local (or ``--llm-url``) model's
reply, whole or streamed as chunks: text, or tool calls (``tools``/``tool_choice``; see
:mod:`voicecli.server.rest.chat_request` for the request). Generation runs on the LLM executor."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from voicecli.concurrency import iterate_in_thread
from voicecli.errors import VoicecliError
from voicecli.llm.openai_wire import tool_call_delta_json, tool_call_json
from voicecli.llm.tools import (
    ReplyDelta,
    ReplyEnded,
    TextDelta,
    ToolCallAssembler,
    ToolCallDelta,
    ToolRequest,
    ToolSchemaError,
    text_reply,
)
from voicecli.llm.types import GenerationOptions
from voicecli.server.http_errors import ApiError, error_body
from voicecli.server.rest.chat_request import ChatRequest, chat_messages, tool_request
from voicecli.server.rest.common import ERRORS, SSE_HEADERS, server_state, sse

router = APIRouter()


def _schema_error(exc: ToolSchemaError, tools: ToolRequest | None) -> ApiError:
    names = [t.name for t in tools.tools] if tools else []
    param = f"tools[{names.index(exc.tool)}].function.parameters" if exc.tool in names else "tools"
    return ApiError(400, f"invalid schema for {exc.message}", param, "invalid_function_parameters")


@router.post("/v1/chat/completions", responses=ERRORS)
async def create_chat_completion(request: Request, body: ChatRequest) -> Response:
    state = server_state(request)
    limits = state.config.limits
    settings = state.engines.settings
    messages = chat_messages(body, limits.max_chat_chars, limits.max_chat_messages)
    tools = tool_request(body)
    max_tokens = min(body.max_completion_tokens or body.max_tokens or settings.llm.max_reply_tokens, limits.max_tokens)
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    if len(stop) > 4 or any(len(s) > 200 for s in stop):
        raise ApiError(400, "stop: at most 4 sequences of 200 characters", "stop")
    options = GenerationOptions(max_tokens=max_tokens, stop=tuple(s for s in stop if s),
                                temperature=settings.llm.temperature if body.temperature is None else body.temperature)
    chat = state.engines.chat
    uses_tools = tools is not None or any(m.tool_calls or m.role == "tool" for m in messages)
    counts = {"completion": 0, "prompt": 0}
    t0 = time.monotonic()

    def job(stop_event: threading.Event) -> Iterator[ReplyDelta]:
        counts["prompt"] = sum(chat.count_tokens(m.content) + 4 for m in messages)
        replies = (chat.stream_reply(messages, options, tools) if uses_tools
                   else text_reply(chat.stream(messages, options), max_tokens))
        try:
            for event in replies:
                if isinstance(event, ReplyEnded):
                    counts["completion"] = event.completion_tokens or counts["completion"]
                else:
                    counts["completion"] += 1
                yield event
                if stop_event.is_set():
                    return
        finally:
            close = getattr(replies, "close", None)
            if close is not None:
                close()

    events = iterate_in_thread(state.llm_pool, job)
    try:
        first: ReplyDelta = await events.__anext__()
        state.metrics.observe("llm_first_token", time.monotonic() - t0)
    except StopAsyncIteration:
        first = ReplyEnded("stop", 0)
    except ToolSchemaError as exc:
        raise _schema_error(exc, tools) from None
    except ValueError as exc:  # llama.cpp: prompt longer than the context window
        raise ApiError(400, f"the request does not fit the model: {exc}", "messages",
                       "context_length_exceeded") from None
    except VoicecliError as exc:
        raise ApiError(502, f"LLM backend failed: {exc.one_line()}", None, "upstream_error",
                       "server_error") from None
    cid = "chatcmpl-" + base64.b32encode(np.random.bytes(10)).decode().lower()
    created = int(time.time())
    model = chat.name

    def usage() -> dict[str, int]:
        return {"prompt_tokens": counts["prompt"], "completion_tokens": counts["completion"],
                "total_tokens": counts["prompt"] + counts["completion"]}

    async def all_events() -> AsyncIterator[ReplyDelta]:
        yield first
        if not isinstance(first, ReplyEnded):
            async for event in events:
                yield event

    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
            return sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                        "system_fingerprint": None,
                        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]})

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield chunk({"role": "assistant", "content": None if isinstance(first, ToolCallDelta) else ""})
                async for event in all_events():
                    if isinstance(event, TextDelta):
                        yield chunk({"content": event.text})
                    elif isinstance(event, ToolCallDelta):
                        yield chunk({"tool_calls": [tool_call_delta_json(event)]})
                    else:
                        yield chunk({}, event.finish_reason)
                if include_usage:
                    yield sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                               "choices": [], "usage": usage()})
            except (VoicecliError, ValueError) as exc:
                yield sse(error_body(f"generation failed: {exc}", "server_error"))
            finally:
                await events.aclose()
            yield b"data: [DONE]\n\n"
        return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)

    texts: list[str] = []
    calls = ToolCallAssembler()
    finish = "stop"
    try:
        async for event in all_events():
            if isinstance(event, TextDelta):
                texts.append(event.text)
            elif isinstance(event, ToolCallDelta):
                calls.add(event)
            else:
                finish = event.finish_reason
    except (VoicecliError, ValueError) as exc:
        raise ApiError(502, f"LLM backend failed: {exc}", None, "upstream_error", "server_error") from None
    finally:
        await events.aclose()
    made = calls.calls()
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not made else None,
                               "refusal": None}
    if made:
        message["tool_calls"] = [tool_call_json(c) for c in made]
    return JSONResponse({"id": cid, "object": "chat.completion", "created": created, "model": model,
                         "system_fingerprint": None,
                         "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                         "usage": usage()})
