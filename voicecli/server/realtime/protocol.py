"""The OpenAI Realtime wire vocabulary: the two dialects (GA and beta) and their event and content
names, ids, the client-error type, and the session and response settings as values with their
wire renderings. Pure: no I/O, no state."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from voicecli.llm.types import ChatMessage

Dialect = Literal["ga", "beta"]
Role = Literal["user", "system", "assistant"]
GA: Final = "ga"
BETA: Final = "beta"

WIRE_RATE_HZ = 24_000
"""Realtime PCM16 audio is 24 kHz mono."""
G711_RATE_HZ = 8_000
FormatName = Literal["pcm16", "g711_ulaw", "g711_alaw"]
AUDIO_FORMATS: dict[FormatName, str] = {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}
"""Beta audio format name → GA ``type``; G.711 is 8 kHz (see :mod:`.wire_audio`)."""

# GA server event name → beta name (events not listed are the same in both dialects).
_BETA_NAMES = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
_BETA_CONTENT = {"output_audio": "audio", "output_text": "text"}

_FLAT_BETA_KEYS = {"modalities", "voice", "input_audio_format", "output_audio_format",
                   "input_audio_transcription", "turn_detection", "temperature",
                   "max_response_output_tokens", "input_audio_noise_reduction"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def event_name(ga_name: str, dialect: Dialect) -> str:
    return _BETA_NAMES.get(ga_name, ga_name) if dialect == BETA else ga_name


def content_type(ga_type: str, dialect: Dialect) -> str:
    return _BETA_CONTENT.get(ga_type, ga_type) if dialect == BETA else ga_type


def looks_beta(session: dict[str, Any]) -> bool:
    """A GA connection whose first session.update uses the flat beta keys speaks beta."""
    return bool(_FLAT_BETA_KEYS & set(session)) and "audio" not in session and "type" not in session


class ClientEventError(Exception):
    """A client event we cannot apply; becomes an ``error`` event, the session continues."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class TurnDetection:
    type: str = "server_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None
    eagerness: str | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "create_response": self.create_response,
                               "interrupt_response": self.interrupt_response}
        if self.type == "semantic_vad":
            out["eagerness"] = self.eagerness or "auto"
        else:
            out.update(threshold=self.threshold, prefix_padding_ms=self.prefix_padding_ms,
                       silence_duration_ms=self.silence_duration_ms, idle_timeout_ms=self.idle_timeout_ms)
        return out


@dataclass(frozen=True)
class InputTranscription:
    """``audio.input.transcription``: the STT language and prompt apply to this session's turns."""

    model: str | None = "whisper-1"
    language: str | None = None
    prompt: str | None = ""

    def to_wire(self) -> dict[str, Any]:
        return {"model": self.model, "language": self.language, "prompt": self.prompt}


SessionKind = Literal["realtime", "transcription"]


@dataclass(frozen=True)
class SessionConfig:
    """The effective session configuration, dialect-neutral."""

    kind: SessionKind = "realtime"
    """``transcription``: input audio is transcribed into items, no response is ever created."""
    model: str = "voicecli"
    instructions: str = ""
    output_audio: bool = True
    """``output_modalities: ["audio"]`` (audio plus its transcript) vs ``["text"]``."""
    voice: str = "alloy"
    speed: float = 1.0
    turn_detection: TurnDetection | None = field(default_factory=TurnDetection)
    transcription: InputTranscription | None = None
    noise_reduction: dict[str, Any] | None = None
    """Accepted and echoed back as given; not applied."""
    temperature: float = 0.8
    max_output_tokens: int | None = None
    """None = "inf" (the server's own bound applies)."""
    tools: tuple[dict[str, Any], ...] = ()
    """Function tools as the client gave them (checked; echoed back as given; see :mod:`.tools`)."""
    tool_choice: str | dict[str, Any] = "auto"
    input_format: FormatName = "pcm16"
    output_format: FormatName = "pcm16"
    latency_events: bool = False
    """voicecli's own per-turn latency event, for clients that ask for it (never echoed)."""


@dataclass(frozen=True)
class ResponseParams:
    """Per-response overrides from ``response.create``."""

    instructions: str | None = None
    output_audio: bool | None = None
    voice: str | None = None
    max_output_tokens: int | None = None
    out_of_band: bool = False
    """``conversation: "none"``: the response adds nothing to the conversation."""
    input: tuple[ChatMessage, ...] | None = None
    """Its own context instead of the conversation (``response.input``, references resolved)."""
    metadata: dict[str, str] | None = None
    """Echoed in the response object of its events."""
    tools: tuple[dict[str, Any], ...] | None = None
    """This response's tools instead of the session's."""
    tool_choice: str | dict[str, Any] | None = None


def render_session(cfg: SessionConfig, session_id: str, dialect: Dialect) -> dict[str, Any]:
    td = cfg.turn_detection.to_wire() if cfg.turn_detection else None
    transcription = cfg.transcription.to_wire() if cfg.transcription else None
    if cfg.kind == "transcription":
        if dialect == BETA:
            return {"id": session_id, "object": "realtime.transcription_session", "modalities": ["text"],
                    "input_audio_format": cfg.input_format, "input_audio_transcription": transcription,
                    "turn_detection": td, "input_audio_noise_reduction": cfg.noise_reduction, "include": None}
        return {"type": "transcription", "object": "realtime.transcription_session", "id": session_id,
                "audio": {"input": {"format": format_wire(cfg.input_format), "transcription": transcription,
                                    "noise_reduction": cfg.noise_reduction, "turn_detection": td}},
                "include": None}
    max_tokens: Any = cfg.max_output_tokens if cfg.max_output_tokens is not None else "inf"
    if dialect == BETA:
        return {"id": session_id, "object": "realtime.session", "model": cfg.model,
                "modalities": ["text", "audio"] if cfg.output_audio else ["text"],
                "instructions": cfg.instructions, "voice": cfg.voice,
                "input_audio_format": cfg.input_format, "output_audio_format": cfg.output_format,
                "input_audio_transcription": transcription, "turn_detection": td,
                "input_audio_noise_reduction": cfg.noise_reduction, "speed": cfg.speed,
                "tools": list(cfg.tools), "tool_choice": cfg.tool_choice, "temperature": cfg.temperature,
                "max_response_output_tokens": max_tokens}
    return {"type": "realtime", "object": "realtime.session", "id": session_id, "model": cfg.model,
            "output_modalities": ["audio"] if cfg.output_audio else ["text"],
            "instructions": cfg.instructions,
            "audio": {"input": {"format": format_wire(cfg.input_format), "transcription": transcription,
                                "noise_reduction": cfg.noise_reduction, "turn_detection": td},
                      "output": {"format": format_wire(cfg.output_format), "voice": cfg.voice, "speed": cfg.speed}},
            "tools": list(cfg.tools), "tool_choice": cfg.tool_choice, "max_output_tokens": max_tokens,
            "tracing": None, "truncation": "auto", "prompt": None, "include": None}


def format_wire(name: FormatName) -> dict[str, Any]:
    """The GA form of an audio format: ``{"type": "audio/pcm", "rate": 24000}``, ``{"type": "audio/pcmu"}``."""
    return {"type": AUDIO_FORMATS[name], "rate": WIRE_RATE_HZ} if name == "pcm16" else {"type": AUDIO_FORMATS[name]}
