"""Validation of client payloads: ``session.update``, ``response.create`` and message items, GA or
flat beta shapes, into the values of :mod:`.protocol`. A bad field raises
:class:`~.protocol.ClientEventError` naming it; nothing is half-applied. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from voicecli.languages import base_language, normalize_language
from voicecli.server.realtime.protocol import (
    ClientEventError,
    InputTranscription,
    ResponseParams,
    Role,
    SessionConfig,
    TurnDetection,
)
from voicecli.server.realtime.tools import tool_request
from voicecli.server.realtime.wire_audio import parse_format

MAX_INSTRUCTIONS_CHARS = 32_000
"""Longest ``instructions`` accepted, for the session and for one response alike."""
MAX_MODEL_CHARS = 200
MAX_LANGUAGE_CHARS = 16
MAX_STT_PROMPT_CHARS = 4096
"""Whisper reads only the end of its prompt (224 tokens); this is plenty."""
IDLE_TIMEOUT_MS = (1_000, 3_600_000)
"""``turn_detection.idle_timeout_ms``: null, or from one second to an hour."""
TOOL_CHOICES = ("auto", "none", "required")
MAX_TOOL_CHOICE_BYTES = 1024
NOISE_REDUCTIONS = ("near_field", "far_field")


@dataclass(frozen=True)
class ToolLimits:
    """``session.tools`` is echoed back in every ``session.updated``: bounded in count and size."""

    max_tools: int = 128
    max_bytes: int = 256 * 1024

# --- field helpers ----------------------------------------------------------------------------
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


def _string(obj: dict[str, Any], key: str, param: str, max_chars: int, nullable: bool = False) -> str | None:
    value: str | None = _get(obj, key, str, param, nullable=nullable)
    if value is not None and len(value) > max_chars:
        raise ClientEventError(f"'{param}' is too long ({max_chars} characters at most)", param)
    return value


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
    if kind != td.type:
        changes["eagerness"] = None  # a new type starts from its defaults ("auto")
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
        changes["idle_timeout_ms"] = None if value["idle_timeout_ms"] is None else _int(
            value, "idle_timeout_ms", f"{param}.idle_timeout_ms", *IDLE_TIMEOUT_MS)
    if "eagerness" in value:
        e = _get(value, "eagerness", str, f"{param}.eagerness")
        if e not in ("low", "medium", "high", "auto"):
            raise ClientEventError(f"'{param}.eagerness' must be low, medium, high or auto", f"{param}.eagerness")
        changes["eagerness"] = e
    return replace(td, **changes)


def _transcription(value: Any, param: str) -> InputTranscription | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ClientEventError(f"'{param}' must be an object or null", param, "invalid_type")
    limits = {"model": MAX_MODEL_CHARS, "language": MAX_LANGUAGE_CHARS, "prompt": MAX_STT_PROMPT_CHARS}
    fields = {key: _string(value, key, f"{param}.{key}", limit, nullable=True)
              for key, limit in limits.items() if key in value}
    if fields.get("language"):  # forces the turns' language (and so the reply's language and voice)
        code = normalize_language(base_language(fields["language"]) or "")
        if code is None:
            raise ClientEventError(f"'{param}.language' must be a language code such as en, de or es "
                                   "(ISO-639-1), or null to detect it", f"{param}.language")
        fields["language"] = code
    return InputTranscription(**fields)


def _noise_reduction(value: Any, param: str) -> dict[str, Any] | None:
    """Accepted and not applied: only its known shape is kept (it is echoed back)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ClientEventError(f"'{param}' must be an object or null", param, "invalid_type")
    kind = value.get("type")
    if kind not in NOISE_REDUCTIONS:
        raise ClientEventError(f"'{param}.type' must be 'near_field' or 'far_field'", f"{param}.type")
    return {"type": kind}


def _tools(value: Any, param: str, limits: ToolLimits) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list):
        raise ClientEventError(f"'{param}' must be an array", param, "invalid_type")
    if len(value) > limits.max_tools:
        raise ClientEventError(f"'{param}' has {len(value)} tools; at most {limits.max_tools}", param)
    for i, tool in enumerate(value):
        if not isinstance(tool, dict):
            raise ClientEventError(f"'{param}[{i}]' must be an object", f"{param}[{i}]", "invalid_type")
    if len(json.dumps(value)) > limits.max_bytes:
        raise ClientEventError(f"'{param}' is too large ({limits.max_bytes} bytes of JSON at most)", param)
    return tuple(value)


def _tool_choice(value: Any, param: str) -> str | dict[str, Any]:
    if isinstance(value, str) and value in TOOL_CHOICES:
        return value
    if isinstance(value, dict) and len(json.dumps(value)) <= MAX_TOOL_CHOICE_BYTES:
        return value
    raise ClientEventError(f"'{param}' must be 'auto', 'none', 'required' or a small object naming a tool", param)


def _voicecli(value: Any, param: str) -> dict[str, Any]:
    """voicecli's own session options: ``{"latency_events": true}`` asks for the per-turn
    ``voicecli.turn.latency`` event."""
    if not isinstance(value, dict):
        raise ClientEventError(f"'{param}' must be an object", param, "invalid_type")
    if set(value) - {"latency_events"}:
        raise ClientEventError(f"'{param}' knows only 'latency_events'", param)
    return {"latency_events": _get(value, "latency_events", bool, f"{param}.latency_events")} if value else {}


def _include(value: Any, param: str) -> None:
    """Accepted and not applied (no logprobs): ``["item.input_audio_transcription.logprobs"]``."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ClientEventError(f"'{param}' must be an array of strings", param, "invalid_type")


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
        return str(value["id"])
    if not isinstance(value, str) or not value.strip():
        raise ClientEventError(f"'{param}' must be a voice name", param, "invalid_type")
    return value


# --- session.update ----------------------------------------------------------------------------
def parse_session_update(cfg: SessionConfig, s: Any, tool_limits: ToolLimits = ToolLimits()) -> SessionConfig:
    """Merge a ``session.update`` payload (GA or flat beta keys) into ``cfg``. Only present
    fields change. Raises ClientEventError and leaves ``cfg`` untouched on any bad field."""
    if not isinstance(s, dict):
        raise ClientEventError("'session' must be an object", "session", "invalid_type")
    c: dict[str, Any] = {}
    if "type" in s and s["type"] is not None:
        if s["type"] not in ("realtime", "transcription"):
            raise ClientEventError("'session.type' must be 'realtime' or 'transcription'", "session.type")
        c["kind"] = s["type"]
    if s.get("include") is not None:
        _include(s["include"], "session.include")
    if "model" in s and s["model"] is not None:
        c["model"] = _string(s, "model", "session.model", MAX_MODEL_CHARS)
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
        c["input_format"] = parse_format(s["input_audio_format"], "session.input_audio_format").name
    if "output_audio_format" in s:
        c["output_format"] = parse_format(s["output_audio_format"], "session.output_audio_format").name
    if "turn_detection" in s:
        c["turn_detection"] = parse_turn_detection(s["turn_detection"], cfg.turn_detection, "session.turn_detection")
    if "input_audio_transcription" in s:
        c["transcription"] = _transcription(s["input_audio_transcription"], "session.input_audio_transcription")
    if "input_audio_noise_reduction" in s:
        c["noise_reduction"] = _noise_reduction(s["input_audio_noise_reduction"], "session.input_audio_noise_reduction")
    if "temperature" in s:
        c["temperature"] = _number(s, "temperature", "session.temperature", 0.0, 2.0)
    for key in ("max_output_tokens", "max_response_output_tokens"):
        if key in s:
            c["max_output_tokens"] = _max_tokens(s[key], f"session.{key}")
    if "tools" in s:
        c["tools"] = _tools(s["tools"], "session.tools", tool_limits)
    if "tool_choice" in s:
        c["tool_choice"] = _tool_choice(s["tool_choice"], "session.tool_choice")
    if "voicecli" in s:
        c.update(_voicecli(s["voicecli"], "session.voicecli"))
    if "audio" in s:
        c.update(_audio_section(s["audio"], cfg))
    new = replace(cfg, **c)
    if new.kind == "transcription" and new.transcription is None:
        new = replace(new, transcription=InputTranscription())  # what a transcription session is for
    if "tools" in c or "tool_choice" in c:
        tool_request(new.tools, new.tool_choice, "session")  # raises for a bad tool or choice
    return new


def _audio_section(audio: Any, cfg: SessionConfig) -> dict[str, Any]:
    """The GA ``session.audio`` object: ``{input: {...}, output: {...}}``."""
    if not isinstance(audio, dict):
        raise ClientEventError("'session.audio' must be an object", "session.audio", "invalid_type")
    inp = audio.get("input", {})
    out = audio.get("output", {})
    if not isinstance(inp, dict) or not isinstance(out, dict):
        raise ClientEventError("'session.audio.input' and '.output' must be objects", "session.audio",
                               "invalid_type")
    c: dict[str, Any] = {}
    if "format" in inp:
        c["input_format"] = parse_format(inp["format"], "session.audio.input.format").name
    if "turn_detection" in inp:
        c["turn_detection"] = parse_turn_detection(inp["turn_detection"], cfg.turn_detection,
                                                   "session.audio.input.turn_detection")
    if "transcription" in inp:
        c["transcription"] = _transcription(inp["transcription"], "session.audio.input.transcription")
    if "noise_reduction" in inp:
        c["noise_reduction"] = _noise_reduction(inp["noise_reduction"], "session.audio.input.noise_reduction")
    if "format" in out:
        c["output_format"] = parse_format(out["format"], "session.audio.output.format").name
    if "voice" in out:
        c["voice"] = _voice(out["voice"], "session.audio.output.voice")
    if "speed" in out:
        c["speed"] = _number(out, "speed", "session.audio.output.speed", 0.25, 1.5)
    return c


# --- response.create -----------------------------------------------------------------------------
def parse_response_create(r: Any, tool_limits: ToolLimits = ToolLimits()) -> ResponseParams:
    """A ``response.create``'s overrides (its tools are checked against the session's by the
    caller, :func:`~.tools.tool_request`)."""
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
    if r.get("tools") is not None:
        c["tools"] = _tools(r["tools"], "response.tools", tool_limits)
    if r.get("tool_choice") is not None:
        c["tool_choice"] = _tool_choice(r["tool_choice"], "response.tool_choice")
    return ResponseParams(**c)


# --- conversation.item.create ---------------------------------------------------------------------
@dataclass(frozen=True)
class MessageInput:
    """What a client message item says: its text parts joined, or one audio part to transcribe."""

    role: Role
    text: str
    audio_b64: str | None = None


def parse_message(item: dict[str, Any]) -> MessageInput:
    """The role, text and base64 audio of a ``conversation.item.create`` message item."""
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
    return MessageInput(role, "\n".join(t for t in texts if t), audio)
