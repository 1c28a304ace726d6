"""Tool calls inside a spoken reply. A reply offered tools (:class:`ToolUse`) streams
``ChatModel.stream_reply`` instead of plain text: its text is spoken as usual, and when the model
calls a function the reply either runs it here (a :class:`~voicecli.llm.tools.ToolRunner`, talk)
and lets the model answer with the result — at most :data:`MAX_TOOL_ROUNDS` times per reply — or,
without a runner (the realtime server), ends at the call, which the adapter learns from the
:class:`~voicecli.pipeline.events.ToolCalled` event and answers later
(:meth:`~voicecli.pipeline.chat_context.ChatContext.add_tool_result`).

This module owns the blocking side (the LLM thread's item stream, running a tool with its
timeout) and the rules (the follow-up round's tool choice, the filler for a slow tool); the
:class:`~voicecli.pipeline.speaking.ReplyStream` drives the rounds."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from voicecli.llm.tools import (
    ReplyEnded,
    TextDelta,
    ToolCall,
    ToolCallAssembler,
    ToolCallDelta,
    ToolChoice,
    ToolOutcome,
    ToolRequest,
    ToolRunner,
)
from voicecli.llm.types import ChatMessage, ChatModel, GenerationOptions

MAX_TOOL_ROUNDS = 3
"""Tool calls answered per reply; the round after the last may only speak."""
TOOL_TIMEOUT_S = 10.0
"""The longest a tool may run; then the model is told it timed out."""
FILLER_AFTER_S = 1.5
"""A tool still running after this long gets :data:`FILLER` spoken while it runs."""
FILLER = "One moment."

ToolCalls = tuple[ToolCall, ...]
ReplyItem = str | ToolCalls
"""What the LLM thread hands the reply: a text delta, or the calls that ended a round."""


@dataclass(frozen=True)
class ToolUse:
    """The tools offered for one reply, and who runs the calls (None: the adapter's client)."""

    request: ToolRequest
    runner: ToolRunner | None = None
    timeout_s: float = TOOL_TIMEOUT_S
    filler_after_s: float = FILLER_AFTER_S


def tools_for_reply(offered: ToolRequest | None, runner: ToolRunner | None) -> ToolUse | None:
    """The reply's tools: those the options offer (an adapter's client's), else the runner's
    (talk's tools; asked once per reply, on the event loop), else none."""
    request = offered if offered is not None else (runner.request() if runner is not None else None)
    if request is None or not request.tools or request.choice.mode == "none":
        return None
    return ToolUse(request, runner, TOOL_TIMEOUT_S, FILLER_AFTER_S)


def follow_up(request: ToolRequest | None, rounds_done: int) -> ToolRequest | None:
    """The request for the round after ``rounds_done`` tool rounds: a forced choice becomes
    ``auto`` (it would force the same call again, forever), and after the last round there
    are no tools."""
    if request is None or rounds_done >= MAX_TOOL_ROUNDS:
        return None
    if request.choice.forces_call:
        return ToolRequest(request.tools, ToolChoice("auto"), request.parallel_calls)
    return request


def call_messages(outcomes: Sequence[ToolOutcome]) -> list[ChatMessage]:
    """The history of answered calls: each an assistant message making the call, then the
    ``tool`` message with its result (kept together: trimming starts at a user message)."""
    out: list[ChatMessage] = []
    for o in outcomes:
        out.append(ChatMessage("assistant", "", tool_calls=(o.call,)))
        out.append(ChatMessage("tool", o.output, tool_call_id=o.call.id))
    return out


def reply_items(chat: ChatModel, messages: Sequence[ChatMessage], options: GenerationOptions,
                request: ToolRequest | None, cancel: threading.Event,
                after_text: Callable[[], object]) -> Iterator[ReplyItem]:
    """LLM thread: one round's text deltas, then (if the model called functions) the calls.
    Without ``request`` the plain text stream is used. ``after_text`` runs after each delta is
    handed on (the reply's pacing); the round stops early once ``cancel`` is set."""
    if request is None:
        gen: Iterator[object] = chat.stream(messages, options)
    else:
        gen = chat.stream_reply(messages, options, request)
    calls = ToolCallAssembler()
    called = False
    try:
        for event in gen:
            if cancel.is_set():
                return
            if isinstance(event, str | TextDelta):
                yield event if isinstance(event, str) else event.text
                after_text()
            elif isinstance(event, ToolCallDelta):
                calls.add(event)
                called = True
            elif isinstance(event, ReplyEnded):
                break
    finally:
        close = getattr(gen, "close", None)
        if close is not None:
            close()
    if called and not cancel.is_set():
        yield tuple(calls.calls())


async def run_call(runner: ToolRunner, call: ToolCall, executor: concurrent.futures.Executor,
                   timeout_s: float) -> ToolOutcome:
    """Run ``call`` on ``executor``; a tool that raises, or overruns ``timeout_s`` (the runner
    is asked to stop itself by then; a stuck thread is abandoned), is an error outcome the
    model is told about."""
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    try:
        fut = loop.run_in_executor(executor, runner.run, call, timeout_s)
        outcome = await asyncio.wait_for(fut, timeout_s + 1.0)
    except asyncio.TimeoutError:
        outcome = ToolOutcome(call, f"error: the tool '{call.name}' did not answer within {timeout_s:.0f} s",
                              error=True)
    except Exception as exc:  # noqa: BLE001 - a tool's failure is the model's to explain, not a crash
        outcome = ToolOutcome(call, f"error: {type(exc).__name__}: {exc}", error=True)
    if not outcome.elapsed_ms:
        outcome = ToolOutcome(outcome.call, outcome.output, outcome.error, (time.monotonic() - t0) * 1000)
    return outcome
