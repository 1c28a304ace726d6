"""Configuration, resolved once at the edge: CLI flag > ``VOICECLI_*`` env > config file >
defaults. Engines receive the typed section objects and never read env vars or files."""

from __future__ import annotations

import os

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from voicecli.errors import ConfigError

APP_NAME = "voicecli"

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant. Your replies are spoken aloud, so answer in one or two "
    "short, plain sentences. Never use markdown, lists, emoji or code."
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SttConfig(_Section):
    model: str = Field(
        default="tiny.en",
        description="Whisper model: a name from `voicecli models`, a CTranslate2 directory, or a hub id.")
    backend: Literal["auto", "faster-whisper", "mlx-whisper"] = Field(
        default="auto", description="STT backend; auto picks mlx-whisper on Apple Silicon.")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="Device for faster-whisper.")
    compute_type: str = Field(
        default="int8", description="CTranslate2 compute type (int8, float32, float16, int8_float16, default).")
    beam_size: int = Field(
        default=5, ge=1, le=20,
        description="Beam size for files (transcribe, REST, Wyoming); 1 is greedy and fastest. 5 is Whisper's own "
                    "default: 2.97 % WER vs 4.46 % greedy on the eval clips (benchmarks/RESULTS.md).")
    conversation_beam_size: int = Field(
        default=4, ge=1, le=20,
        description="Beam size in conversations (talk, realtime): the best WER whose compute still fits in the "
                    "end-of-turn silence (3.35 % vs 5.58 % greedy, same time on the short window).")
    language: str | None = Field(
        default=None, description="Language code (en, de, ...); unset = detect (multilingual models).")
    url: str | None = Field(
        default=None, description="Transcribe on an OpenAI-compatible server at this base URL (…/v1) instead of "
                                  "the in-process model; stt.model is sent as the model name.")
    api_key: str | None = Field(default=None, description="API key for --stt-url servers.")
    url_timeout_s: float = Field(
        default=30.0, gt=0.0, le=600.0, description="Longest wait for one answer from --stt-url.")
    threads: int = Field(default=0, ge=0, description="CPU threads for STT (0 = all cores).")
    short_window_s: float = Field(
        default=10.0, ge=0.0, le=30.0,
        description="Conversation turns shorter than this are encoded in a window this long instead of Whisper's "
                    "30 s (3× faster, same WER here); 0 or 30 turns it off.")
    partials: bool = Field(
        default=True,
        description="Live partial transcripts while you speak (talk's screen and --json, realtime transcription "
                    "deltas): the utterance is re-transcribed greedily every 0.7 s when the STT worker is idle. "
                    "Off with --stt-url (each pass would be a request to the remote server).")


class LlmConfig(_Section):
    model: str = Field(default="smollm2-135m", description="GGUF model name or path.")
    url: str | None = Field(
        default=None, description="Use an OpenAI-compatible server at this base URL instead of the in-process model.")
    api_key: str | None = Field(default=None, description="API key for --llm-url servers.")
    threads: int = Field(default=2, ge=1,
                         description="Most CPU threads for llama.cpp (fewer while other programs keep cores busy).")
    context_tokens: int = Field(default=2048, ge=256, description="llama.cpp context size.")
    history_tokens: int = Field(
        default=1024, ge=64,
        description="Token budget for the conversation history sent to the LLM; oldest turns dropped first.")
    max_reply_tokens: int = Field(default=96, ge=8, description="Upper bound on tokens per reply.")
    temperature: float = Field(default=0.3, ge=0.0, le=2.0, description="Sampling temperature.")
    system_prompt: str = Field(default=DEFAULT_SYSTEM_PROMPT, description="System prompt (suited to speech).")


class TtsConfig(_Section):
    voice: str = Field(default="en_US-joe-medium", description="Piper voice name or .onnx path.")
    speed: float = Field(default=1.0, gt=0.24, le=4.0, description="Speaking speed (1.0 = normal).")
    first_chunk_min_words: int = Field(
        default=4, ge=1, description="Speak the first clause as soon as it has this many words.")
    threads: int = Field(default=0, ge=0, description="CPU threads for Piper (0 = all cores).")
    language_voices: dict[str, str] = Field(
        default_factory=dict,
        description="Voice per spoken language with a multilingual Whisper, e.g. {de = \"de_DE-thorsten-medium\"} "
                    "(env: de=NAME,es=NAME); unmapped languages use an installed voice of that language.")

    @field_validator("language_voices", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        """``"de=NAME,es=NAME"`` (an env var) as well as a TOML table."""
        if isinstance(value, str):
            pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
            return {k.strip(): v.strip() for k, v in (p if len(p) == 2 else (p[0], "") for p in pairs)}
        return value
    url: str | None = Field(
        default=None, description="Speak through an OpenAI-compatible server at this base URL (…/v1) instead of "
                                  "the in-process voice; tts.voice is sent as the voice.")
    model: str = Field(default="tts-1", description="Model name sent to --tts-url servers.")
    api_key: str | None = Field(default=None, description="API key for --tts-url servers.")
    url_timeout_s: float = Field(
        default=30.0, gt=0.0, le=600.0, description="Longest wait for one answer from --tts-url.")


class VadConfig(_Section):
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0, description="Speech probability that counts as speech.")
    start_ms: int = Field(default=96, ge=32, description="Speech needed before a turn starts (rejects clicks, coughs).")
    min_speech_ms: int = Field(default=250, ge=32, description="Shorter utterances are discarded as noise.")
    preroll_ms: int = Field(default=320, ge=0, description="Audio kept from before speech started.")
    end_silence_ms: int = Field(
        default=400, ge=96,
        description="Silence that ends the user's turn with the silence turn detector (or without Smart Turn).")
    turn_detector: Literal["smart_turn", "silence"] = Field(
        default="smart_turn",
        description="smart_turn: ask Smart Turn v3 at short pauses whether the turn is complete (falls back to "
                    "silence when it is not installed); silence: end_silence_ms of silence ends every turn.")
    turn_checks_ms: list[Annotated[int, Field(ge=64, le=5000)]] = Field(
        default=[200, 600], min_length=1, max_length=4,
        description="Pauses (ms of silence) at which Smart Turn is asked; a 'complete' verdict ends the turn there.")
    turn_threshold: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="Smart Turn probability of 'complete' that ends the turn.")
    turn_max_silence_ms: int = Field(
        default=1500, ge=200, le=10_000,
        description="With Smart Turn: silence that ends the turn even when it judged the turn unfinished.")
    turn_words_end_ms: int = Field(
        default=800, ge=0, le=10_000,
        description="With Smart Turn: after this much silence, words that do not trail off end the turn (0: off).")
    smart_turn_model: str | None = Field(
        default=None, description="Smart Turn ONNX file (default: the one inside the pipecat-ai package).")

    @field_validator("turn_checks_ms", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """``"200,600"`` (an env var, a CLI value) as well as a TOML list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value
    barge_in_ms: int = Field(
        default=192, ge=32, description="Speech needed during playback to interrupt the assistant.")
    continue_ms: int = Field(
        default=2000, ge=0, le=5000,
        description="Speech starting this soon after your turn ended, that cuts the reply, continues the same turn "
                    "(a long pause inside a sentence); 0: every barge-in is a new turn.")
    speculative_stt: bool = Field(
        default=True, description="Transcribe as soon as silence begins; keep the result if the user stays quiet.")
    speculative_reply: bool = Field(
        default=True,
        description="Also start the reply during the end-of-turn silence; play it only if the turn really ended.")


class AudioConfig(_Section):
    input_device: str | None = Field(default=None, description="Input device index or name (default device if unset).")
    output_device: str | None = Field(
        default=None, description="Output device index or name (default device if unset).")
    echo_cancel: bool = Field(
        default=True, description="Cancel the assistant's own voice from the microphone (speakers without headphones).")


class ModelsConfig(_Section):
    dir: str | None = Field(
        default=None,
        description="Extra folder searched for drop-in models (besides ./models and the user models dir).")
    allow_download: bool = Field(
        default=False, description="Allow downloading missing models from the Hugging Face hub.")


class HistoryConfig(_Section):
    enabled: bool = Field(default=True, description="Save conversations to SQLite.")
    path: str | None = Field(default=None, description="History database (default: user data dir).")


class McpServerConfig(_Section):
    """One MCP server (``[tools.mcp.NAME]``): a stdio ``command`` or a streamable HTTP ``url``."""

    command: str | None = Field(default=None, description="Program that runs the server over stdio.")
    args: list[str] = Field(default=[], description="Its arguments.")
    env: dict[str, str] = Field(default={}, description="Extra environment variables for it.")
    cwd: str | None = Field(default=None, description="Its working directory.")
    url: str | None = Field(default=None, description="Streamable HTTP endpoint, e.g. http://127.0.0.1:8000/mcp.")
    enabled: bool = Field(default=True, description="false: skip this server.")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (stdio) or url (streamable HTTP)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return self


def _names(value: Any) -> Any:
    """``"a,b"`` (an env var) as well as a TOML list."""
    return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


class ToolsConfig(_Section):
    use: bool = Field(default=False, description="Offer tools to the model in talk (--tools / --no-tools).")
    enabled: list[str] = Field(
        default=[], description="Only these tools (tool names, or a source: builtin or an MCP server's name); "
                                "empty = all.")
    disabled: list[str] = Field(default=[], description="Never these tools (names or sources).")
    tool_choice: str = Field(
        default="auto", pattern=r"^[a-zA-Z0-9_-]{1,64}$",
        description="auto (the model decides), required (always call one), none, or a tool's name (always that "
                    "one). The bundled tiny model rarely calls tools on its own: force the one you need.")
    timeout_s: float = Field(
        default=10.0, gt=0.0, le=10.0,
        description="Longest a tool call may take, in seconds (at most 10: talk's own limit); then it fails.")
    mcp: dict[str, McpServerConfig] = Field(
        default={}, description="MCP servers: [tools.mcp.NAME] with command (+ args, env, cwd) or url.")

    _comma_lists = field_validator("enabled", "disabled", mode="before")(_names)

    @field_validator("mcp")
    @classmethod
    def _server_names(cls, value: dict[str, McpServerConfig]) -> dict[str, McpServerConfig]:
        for name in value:
            if not name or not all(c.isalnum() or c in "_-" for c in name) or name == "builtin":
                raise ValueError(f"MCP server name {name!r}: use letters, digits, _ or - (and not 'builtin')")
        return value


class WakeConfig(_Section):
    word: str | None = Field(
        default=None,
        description="talk: stay asleep until this wake word: hey_jarvis, alexa, hey_mycroft or hey_rhasspy "
                    "(openWakeWord, CC BY-NC-SA 4.0), a custom openWakeWord .onnx path, or phrase:WORDS "
                    "(matched on the transcript, any words); unset = always awake.")
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0, description="Wake-model score that counts as the wake word.")
    follow_up_s: float = Field(
        default=8.0, ge=1.0, le=3600.0,
        description="Once awake, follow-ups need no wake word until this many seconds of quiet after the last reply.")
    cue: Literal["off", "chime"] = Field(default="off", description="Play a short chime when the assistant wakes.")

    @field_validator("word")
    @classmethod
    def _word(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("phrase:") and not value.removeprefix("phrase:").strip(" \"'"):
            raise ValueError("phrase: needs words, e.g. phrase:\"hey computer\"")
        return value.strip() or None if value is not None else None


class Settings(_Section):
    stt: SttConfig = SttConfig()
    llm: LlmConfig = LlmConfig()
    tts: TtsConfig = TtsConfig()
    vad: VadConfig = VadConfig()
    audio: AudioConfig = AudioConfig()
    models: ModelsConfig = ModelsConfig()
    history: HistoryConfig = HistoryConfig()
    tools: ToolsConfig = ToolsConfig()
    wake: WakeConfig = WakeConfig()


SECTIONS: dict[str, type[_Section]] = {
    name: section for name, f in Settings.model_fields.items()
    if isinstance(section := f.annotation, type) and issubclass(section, _Section)}
"""Section name → its config class, in the order ``voicecli config`` lists them."""

SECRET_KEYS = frozenset({"llm.api_key", "stt.api_key", "tts.api_key"})
"""Settings shown as ``***`` when set."""


def config_path() -> Path:
    override = os.environ.get("VOICECLI_CONFIG")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def history_db_path(history: HistoryConfig) -> Path:
    """The conversation history database: ``history.path``, else one in the user data dir."""
    return Path(history.path) if history.path else data_dir() / "history.sqlite3"


def all_keys() -> list[str]:
    return [f"{s}.{k}" for s, cls in SECTIONS.items() for k in cls.model_fields]


def env_name(key: str) -> str:
    return "VOICECLI_" + key.replace(".", "_").upper()


@dataclass(frozen=True)
class ResolvedSettings:
    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)
    """key → "cli", "env (VOICECLI_…)", "file (path)" or "default"."""


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}",
                          "fix or delete the file") from exc
    flat: dict[str, Any] = {}
    for section, values in data.items():
        if section not in SECTIONS or not isinstance(values, dict):
            raise ConfigError(f"config file {path}: unknown section [{section}]",
                              f"known sections: {', '.join(SECTIONS)}")
        for k, v in values.items():
            flat[f"{section}.{k}"] = v
    return flat


def resolve(cli: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
            file: Path | None = None) -> ResolvedSettings:
    """Merge the four layers and validate. ``cli`` maps dotted keys to values (None = not given)."""
    env = os.environ if env is None else env
    file = config_path() if file is None else file
    layers: list[tuple[str, dict[str, Any]]] = [(f"file ({file})", _read_file(file))]
    env_values = {k: env[env_name(k)] for k in all_keys() if env_name(k) in env}
    layers.append(("env", env_values))
    layers.append(("cli", {k: v for k, v in (cli or {}).items() if v is not None}))

    merged: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    sources = {k: "default" for k in all_keys()}
    for label, values in layers:
        for key, value in values.items():
            section, _, name = key.partition(".")
            if section not in SECTIONS or name not in SECTIONS[section].model_fields:
                raise ConfigError(f"unknown setting '{key}' (from {label})",
                                  "run `voicecli config` to see valid settings")
            merged[section][name] = value
            sources[key] = f"env ({env_name(key)})" if label == "env" else label
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        source = sources.get(key) or sources.get(".".join(str(p) for p in err["loc"][:2]), "?")
        raise ConfigError(f"invalid value for {key} (from {source}): {err['msg']}",
                          "see `voicecli config`") from exc
    return ResolvedSettings(settings=settings, sources=sources)


def describe(key: str) -> str:
    section, _, name = key.partition(".")
    return SECTIONS[section].model_fields[name].description or ""


def value_of(settings: Settings, key: str) -> Any:
    section, _, name = key.partition(".")
    return getattr(getattr(settings, section), name)


@dataclass(frozen=True)
class SettingRow:
    """One line of ``voicecli config``: a setting's effective value and where it came from."""

    key: str
    value: Any
    """The effective value; ``***`` for a secret that is set."""
    source: str
    env: str
    """The ``VOICECLI_*`` variable that sets it."""
    description: str


def explain(resolved: ResolvedSettings) -> list[SettingRow]:
    """Every setting, in order, with its effective value (secrets masked; ``history.path`` resolved
    to the database actually used), source, env var and meaning."""
    rows = []
    for key in all_keys():
        value = value_of(resolved.settings, key)
        if key == "history.path":
            value = str(history_db_path(resolved.settings.history))
        if key == "tools.mcp":  # an MCP server's env often holds its API key
            value = {name: {**server.model_dump(exclude_defaults=True), **({"env": dict.fromkeys(server.env, "***")}
                                                                          if server.env else {})}
                     for name, server in value.items()}
        shown = "***" if key in SECRET_KEYS and value else value
        rows.append(SettingRow(key, shown, resolved.sources[key], env_name(key), describe(key)))
    return rows
