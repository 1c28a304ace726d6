"""Realtime settings → pipeline options: the session's initial config from the server's
settings, and the :class:`ConversationOptions` a session config (plus a response's overrides)
means for the Conversation. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from voicecli.config import Settings
from voicecli.pipeline.conversation import ConversationOptions
from voicecli.server.realtime.protocol import (
    InputTranscription,
    ResponseParams,
    SessionConfig,
    SessionKind,
    TurnDetection,
)
from voicecli.server.realtime.tools import tool_request
from voicecli.vad.turn import SemanticTurnParams, params_for_eagerness

NO_BARGE_IN_MS = 10**9
"""``interrupt_response: false``: no amount of speech interrupts a reply."""
MIN_VAD_THRESHOLD, MAX_VAD_THRESHOLD = 0.05, 0.98
MIN_END_SILENCE_MS = 96
"""Three VAD frames: shorter silences would end turns inside words."""


def initial_config(settings: Settings, model: str, kind: SessionKind = "realtime") -> SessionConfig:
    """What ``session.created`` reports: the server's own VAD and system prompt (a transcription
    session, ``?intent=transcription``, transcribes from the start)."""
    vad = settings.vad
    td = TurnDetection(threshold=vad.threshold, prefix_padding_ms=vad.preroll_ms,
                       silence_duration_ms=vad.end_silence_ms)
    return SessionConfig(kind=kind, model=model, instructions=settings.llm.system_prompt, turn_detection=td,
                         transcription=InputTranscription() if kind == "transcription" else None)


def system_prompt(instructions: str, extra_system: Sequence[str]) -> str:
    """Instructions followed by the system messages the client added as items."""
    return "\n\n".join(x for x in [instructions, *extra_system] if x)


def conversation_options(base: ConversationOptions, cfg: SessionConfig, max_tokens_cap: int,
                         extra_system: Sequence[str] = (), params: ResponseParams | None = None) -> ConversationOptions:
    """``base`` (from the server's settings) adjusted to the session config ``cfg`` and to one
    response's ``params``; reply length is bounded by ``max_tokens_cap`` whatever the client asks.
    ``server_vad`` ends turns after silence alone, ``semantic_vad`` with the semantic turn detector
    at its ``eagerness`` (:func:`semantic_turn`)."""
    td = cfg.turn_detection
    endpointer = base.endpointer
    if td is not None and td.type == "server_vad":
        endpointer = replace(endpointer, threshold=min(max(td.threshold, MIN_VAD_THRESHOLD), MAX_VAD_THRESHOLD),
                             release=min(endpointer.release, td.threshold / 2),
                             preroll_ms=td.prefix_padding_ms,
                             end_silence_ms=max(MIN_END_SILENCE_MS, td.silence_duration_ms))
    max_tokens = (params.max_output_tokens if params and params.max_output_tokens else
                  cfg.max_output_tokens or base.generation.max_tokens)
    max_tokens = min(max_tokens, max_tokens_cap)
    stt = base.stt
    if cfg.transcription:
        stt = replace(stt, language=cfg.transcription.language or stt.language,
                      initial_prompt=cfg.transcription.prompt or None)
    tools = params.tools if params is not None and params.tools is not None else cfg.tools
    choice = params.tool_choice if params is not None and params.tool_choice is not None else cfg.tool_choice
    return replace(base, endpointer=endpointer, semantic_turn=semantic_turn(cfg),
                   system_prompt=system_prompt(cfg.instructions, extra_system),
                   tools=tool_request(tools, choice, "response" if params is not None else "session"),
                   speed=cfg.speed, stt=stt, generation=replace(base.generation, max_tokens=max_tokens),
                   auto_respond=bool(td and td.create_response) and cfg.kind == "realtime",
                   barge_in_ms=base.barge_in_ms if (td and td.interrupt_response) else NO_BARGE_IN_MS,
                   continue_ms=0)  # a client's items are never merged behind its back


def semantic_turn(cfg: SessionConfig) -> SemanticTurnParams | None:
    """The turn detector's parameters for a ``semantic_vad`` session (its ``eagerness``: the
    longest wait is 2/4/8 s for high/medium/low, see :func:`params_for_eagerness`); None for
    ``server_vad`` and for manual turns (the silence endpointer, or none)."""
    td = cfg.turn_detection
    if td is None or td.type != "semantic_vad":
        return None
    return params_for_eagerness(td.eagerness)
