"""The OpenAI Realtime wire vocabulary: session config (GA and beta shapes), event names per
dialect, ids, and validation of client payloads. Pure: dicts in, dicts out; no I/O."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from typing import Any

GA = "ga"
BETA = "beta"

WIRE_RATE_HZ = 24_000

MAX_INSTRUCTIONS_CHARS = 32_000
"""Longest ``instructions`` accepted, for the session and for one response alike."""

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


def event_name(ga_name: str, dialect: str) -> str:
    return _BETA_NAMES.get(ga_name, ga_name) if dialect == BETA else ga_name


def content_type(ga_type: str, dialect: str) -> str:
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
class SessionConfig:
    """The effective session configuration, dialect-neutral."""

    model: str = "voicecli"
    instructions: str = ""
    output_audio: bool = True
    """``output_modalities: ["audio"]`` (audio plus its transcript) vs ``["text"]``."""
    voice: str = "alloy"
    speed: float = 1.0
    turn_detection: TurnDetection | None = field(default_factory=TurnDetection)
    transcription: dict[str, Any] | None = None
    noise_reduction: dict[str, Any] | None = None
    temperature: float = 0.8
    max_output_tokens: int | None = None
    """None = "inf" (the server's own bound applies)."""
    tools: tuple[Any, ...] = ()
    tool_choice: Any = "auto"


def render_session(cfg: SessionConfig, session_id: str, dialect: str) -> dict[str, Any]:
    td = cfg.turn_detection.to_wire() if cfg.turn_detection else None
    max_tokens: Any = cfg.max_output_tokens if cfg.max_output_tokens is not None else "inf"
    if dialect == BETA:
        return {"id": session_id, "object": "realtime.session", "model": cfg.model,
                "modalities": ["text", "audio"] if cfg.output_audio else ["text"],
                "instructions": cfg.instructions, "voice": cfg.voice,
                "input_audio_format": "pcm16", "output_audio_format": "pcm16",
                "input_audio_transcription": cfg.transcription, "turn_detection": td,
                "input_audio_noise_reduction": cfg.noise_reduction, "speed": cfg.speed,
                "tools": list(cfg.tools), "tool_choice": cfg.tool_choice, "temperature": cfg.temperature,
                "max_response_output_tokens": max_tokens}
    fmt = {"type": "audio/pcm", "rate": WIRE_RATE_HZ}
    return {"type": "realtime", "object": "realtime.session", "id": session_id, "model": cfg.model,
            "output_modalities": ["audio"] if cfg.output_audio else ["text"],
            "instructions": cfg.instructions,
            "audio": {"input": {"format": fmt, "transcription": cfg.transcription,
                                "noise_reduction": cfg.noise_reduction, "turn_detection": td},
                      "output": {"format": fmt, "voice": cfg.voice, "speed": cfg.speed}},
            "tools": list(cfg.tools), "tool_choice": cfg.tool_choice, "max_output_tokens": max_tokens,
            "tracing": None, "truncation": "auto", "prompt": None, "include": None}


# --- validation helpers ----------------------------------------------------------------------
def _get(obj: dict[str, Any], key: str, types: type | tuple[type, ...], param: str, nullable: bool = False) -> Any:
    value = obj[key]
    if value is None and nullable:
        return None
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ClientEventError(f"'{param}' has the wrong type: expected {_type_names(types)}", param, "invalid_type")
    if not isinstance(value, types):
        raise ClientEventError(f"'{param}' has the wrong type: expected {_type_names(types)}", param, "invalid_type")
    return value


def _type_names(types: type | tuple[type, ...]) -> str:
    ts = types if isinstance(types, tuple) else (types,)
    names = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in ts))


def _number(obj: dict[str, Any], key: str, param: str, lo: float, hi: float) -> float:
    v = float(_get(obj, key, (int, float), param))
    if not lo <= v <= hi:
        raise ClientEventError(f"'{param}' must be between {lo} and {hi}", param)
    return v


def _int(obj: dict[str, Any], key: str, param: str, lo: int, hi: int) -> int:
    v = _get(obj, key, int, param)
    if not lo <= v <= hi:
        raise ClientEventError(f"'{param}' must be between {lo} and {hi}", param)
    return int(v)


def _instructions(obj: dict[str, Any], param: str, nullable: bool) -> str | None:
    value: str | None = _get(obj, "instructions", str, param, nullable=nullable)
    if value is not None and len(value) > MAX_INSTRUCTIONS_CHARS:
        raise ClientEventError(f"'{param}' is too long ({MAX_INSTRUCTIONS_CHARS} characters at most)", param)
    return value


def parse_turn_detection(value: Any, current: TurnDetection | None, param: str) -> TurnDetection | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ClientEventError(f"'{param}' must be an object or null", param, "invalid_type")
    td = current or TurnDetection()
    kind = value.get("type", td.type)
    if kind not in ("server_vad", "semantic_vad"):
        raise ClientEventError(f"'{param}.type' must be 'server_vad' or 'semantic_vad'", f"{param}.type")
    changes: dict[str, Any] = {"type": kind}
    if "threshold" in value:
        changes["threshold"] = _number(value, "threshold", f"{param}.threshold", 0.0, 1.0)
    if "prefix_padding_ms" in value:
        changes["prefix_padding_ms"] = _int(value, "prefix_padding_ms", f"{param}.prefix_padding_ms", 0, 10_000)
    if "silence_duration_ms" in value:
        changes["silence_duration_ms"] = _int(value, "silence_duration_ms", f"{param}.silence_duration_ms", 0, 10_000)
    for key in ("create_response", "interrupt_response"):
        if key in value:
            changes[key] = _get(value, key, bool, f"{param}.{key}")
    if "idle_timeout_ms" in value:
        v = _get(value, "idle_timeout_ms", int, f"{param}.idle_timeout_ms", nullable=True)
        changes["idle_timeout_ms"] = v
    if "eagerness" in value:
        e = _get(value, "eagerness", str, f"{param}.eagerness")
        if e not in ("low", "medium", "high", "auto"):
            raise ClientEventError(f"'{param}.eagerness' must be low, medium, high or auto", f"{param}.eagerness")
        changes["eagerness"] = e
    return replace(td, **changes)


def _format(value: Any, param: str) -> None:
    """Only 24 kHz PCM16 is supported on the wire."""
    if isinstance(value, str):
        if value != "pcm16":
            raise ClientEventError(f"'{param}': only 'pcm16' (24 kHz) is supported, not '{value}'", param,
                                   "unsupported_audio_format")
        return
    if not isinstance(value, dict):
        raise ClientEventError(f"'{param}' must be an object", param, "invalid_type")
    kind = value.get("type", "audio/pcm")
    if kind != "audio/pcm":
        raise ClientEventError(f"'{param}.type': only 'audio/pcm' is supported, not {kind!r}", f"{param}.type",
                               "unsupported_audio_format")
    rate = value.get("rate", WIRE_RATE_HZ)
    if rate != WIRE_RATE_HZ or isinstance(rate, bool):
        raise ClientEventError(f"'{param}.rate': only 24000 is supported", f"{param}.rate",
                               "unsupported_audio_format")


def _transcription(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ClientEventError(f"'{param}' must be an object or null", param, "invalid_type")
    out: dict[str, Any] = {"model": "whisper-1", "language": None, "prompt": ""}
    for key in ("model", "language", "prompt"):
        if key in value:
            out[key] = _get(value, key, str, f"{param}.{key}", nullable=True)
    return out


def _modalities(value: Any, param: str) -> bool:
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        raise ClientEventError(f"'{param}' must be a non-empty array of strings", param, "invalid_type")
    if not set(value) <= {"audio", "text"}:
        raise ClientEventError(f"'{param}' may contain only 'audio' and 'text'", param)
    return "audio" in value


def _max_tokens(value: Any, param: str) -> int | None:
    if value == "inf":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise ClientEventError(f"'{param}' must be an integer from 1 to 4096 or 'inf'", param)
    return value


def _voice(value: Any, param: str) -> str:
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    if not isinstance(value, str) or not value.strip():
        raise ClientEventError(f"'{param}' must be a voice name", param, "invalid_type")
    return value


def parse_session_update(cfg: SessionConfig, s: Any) -> SessionConfig:
    """Merge a ``session.update`` payload (GA or flat beta keys) into ``cfg``. Only present
    fields change. Raises ClientEventError and leaves ``cfg`` untouched on any bad field."""
    if not isinstance(s, dict):
        raise ClientEventError("'session' must be an object", "session", "invalid_type")
    c: dict[str, Any] = {}
    if "type" in s and s["type"] not in ("realtime", None):
        raise ClientEventError("only session.type 'realtime' is supported", "session.type")
    if "model" in s and s["model"] is not None:
        c["model"] = _get(s, "model", str, "session.model")
    if "instructions" in s:
        c["instructions"] = _instructions(s, "session.instructions", nullable=True) or ""
    if "output_modalities" in s:
        c["output_audio"] = _modalities(s["output_modalities"], "session.output_modalities")
    if "modalities" in s:
        c["output_audio"] = _modalities(s["modalities"], "session.modalities")
    if "voice" in s:
        c["voice"] = _voice(s["voice"], "session.voice")
    if "speed" in s:
        c["speed"] = _number(s, "speed", "session.speed", 0.25, 1.5)
    if "input_audio_format" in s:
        _format(s["input_audio_format"], "session.input_audio_format")
    if "output_audio_format" in s:
        _format(s["output_audio_format"], "session.output_audio_format")
    if "turn_detection" in s:
        c["turn_detection"] = parse_turn_detection(s["turn_detection"], cfg.turn_detection, "session.turn_detection")
    if "input_audio_transcription" in s:
        c["transcription"] = _transcription(s["input_audio_transcription"], "session.input_audio_transcription")
    if "input_audio_noise_reduction" in s:
        c["noise_reduction"] = s["input_audio_noise_reduction"] if isinstance(s["input_audio_noise_reduction"], dict) else None
    if "temperature" in s:
        c["temperature"] = _number(s, "temperature", "session.temperature", 0.0, 2.0)
    for key in ("max_output_tokens", "max_response_output_tokens"):
        if key in s:
            c["max_output_tokens"] = _max_tokens(s[key], f"session.{key}")
    if "tools" in s:
        if not isinstance(s["tools"], list):
            raise ClientEventError("'session.tools' must be an array", "session.tools", "invalid_type")
        c["tools"] = tuple(s["tools"])
    if "tool_choice" in s:
        c["tool_choice"] = s["tool_choice"]
    if "audio" in s:
        audio = s["audio"]
        if not isinstance(audio, dict):
            raise ClientEventError("'session.audio' must be an object", "session.audio", "invalid_type")
        inp = audio.get("input", {})
        out = audio.get("output", {})
        if not isinstance(inp, dict) or not isinstance(out, dict):
            raise ClientEventError("'session.audio.input' and '.output' must be objects", "session.audio",
                                   "invalid_type")
        if "format" in inp:
            _format(inp["format"], "session.audio.input.format")
        if "turn_detection" in inp:
            c["turn_detection"] = parse_turn_detection(inp["turn_detection"], cfg.turn_detection,
                                                       "session.audio.input.turn_detection")
        if "transcription" in inp:
            c["transcription"] = _transcription(inp["transcription"], "session.audio.input.transcription")
        if "noise_reduction" in inp:
            c["noise_reduction"] = inp["noise_reduction"] if isinstance(inp["noise_reduction"], dict) else None
        if "format" in out:
            _format(out["format"], "session.audio.output.format")
        if "voice" in out:
            c["voice"] = _voice(out["voice"], "session.audio.output.voice")
        if "speed" in out:
            c["speed"] = _number(out, "speed", "session.audio.output.speed", 0.25, 1.5)
    return replace(cfg, **c)


@dataclass(frozen=True)
class ResponseParams:
    """Per-response overrides from ``response.create``."""

    instructions: str | None = None
    output_audio: bool | None = None
    voice: str | None = None
    max_output_tokens: int | None = None
    out_of_band: bool = False


def parse_response_create(r: Any) -> ResponseParams:
    if r is None:
        return ResponseParams()
    if not isinstance(r, dict):
        raise ClientEventError("'response' must be an object", "response", "invalid_type")
    c: dict[str, Any] = {}
    if "instructions" in r and r["instructions"] is not None:
        c["instructions"] = _instructions(r, "response.instructions", nullable=False)
    if "output_modalities" in r:
        c["output_audio"] = _modalities(r["output_modalities"], "response.output_modalities")
    if "modalities" in r:
        c["output_audio"] = _modalities(r["modalities"], "response.modalities")
    if "voice" in r:
        c["voice"] = _voice(r["voice"], "response.voice")
    audio = r.get("audio")
    if audio is not None:
        if not isinstance(audio, dict) or not isinstance(audio.get("output", {}), dict):
            raise ClientEventError("'response.audio' must be an object", "response.audio", "invalid_type")
        if "voice" in audio.get("output", {}):
            c["voice"] = _voice(audio["output"]["voice"], "response.audio.output.voice")
    for key in ("max_output_tokens", "max_response_output_tokens"):
        if key in r:
            c["max_output_tokens"] = _max_tokens(r[key], f"response.{key}")
    if "conversation" in r:
        conv = r["conversation"]
        if conv not in ("auto", "none"):
            raise ClientEventError("'response.conversation' must be 'auto' or 'none'", "response.conversation")
        c["out_of_band"] = conv == "none"
    return ResponseParams(**c)


def message_text(item: dict[str, Any]) -> tuple[str, str, str | None]:
    """(role, text, audio_b64) of a ``conversation.item.create`` message item."""
    role = item.get("role")
    if role not in ("user", "system", "assistant"):
        raise ClientEventError("'item.role' must be 'user', 'system' or 'assistant'", "item.role")
    content = item.get("content")
    if not isinstance(content, list) or not content:
        raise ClientEventError("'item.content' must be a non-empty array", "item.content", "invalid_type")
    texts: list[str] = []
    audio: str | None = None
    for i, part in enumerate(content):
        if not isinstance(part, dict):
            raise ClientEventError(f"'item.content[{i}]' must be an object", f"item.content[{i}]", "invalid_type")
        kind = part.get("type")
        if kind in ("input_text", "text", "output_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise ClientEventError(f"'item.content[{i}].text' must be a string", f"item.content[{i}].text",
                                       "invalid_type")
            texts.append(text)
        elif kind == "input_audio":
            transcript = part.get("transcript")
            if isinstance(transcript, str) and transcript.strip():
                texts.append(transcript)
            else:
                b64 = part.get("audio")
                if not isinstance(b64, str):
                    raise ClientEventError(f"'item.content[{i}].audio' must be base64 audio",
                                           f"item.content[{i}].audio", "invalid_type")
                audio = b64
        else:
            raise ClientEventError(f"'item.content[{i}].type' {kind!r} is not supported here "
                                   "(use input_text or input_audio)", f"item.content[{i}].type")
    return role, "\n".join(t for t in texts if t), audio
