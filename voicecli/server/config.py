"""Server configuration, resolved once by ``voicecli serve`` and passed down (never read from
env vars or files here)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from voicecli.errors import ConfigError


@dataclass(frozen=True)
class Limits:
    """Bounds that keep one client from exhausting the server."""

    max_upload_bytes: int = 25 * 1024 * 1024
    """Largest request body (OpenAI's own limit for audio uploads is 25 MB)."""
    max_audio_s: float = 600.0
    """Longest audio accepted for transcription; decoding stops as soon as it is passed."""
    max_decode_s: float = 30.0
    """Wall time one upload may spend decoding (a 600 s mp3 takes ~4 s on a laptop core)."""
    max_text_chars: int = 4096
    """Longest text to speak (speech input, realtime text items)."""
    max_speech_s: float = 600.0
    """Longest speech one request may ask for, estimated from the voice's phonemes before any
    synthesis (4096 characters of prose last ~4 min at speed 1; 4096 digits read out ~27 min) and
    enforced while synthesising."""
    max_chat_chars: int = 32_000
    """Total characters of all messages in one chat completion request."""
    max_chat_messages: int = 256
    max_tokens: int = 1024
    """Upper bound on ``max_tokens`` for chat completions."""
    max_ws_message_bytes: int = 15 * 1024 * 1024
    """Largest realtime client event (OpenAI: 15 MiB per append); larger gets an error event."""
    max_buffered_audio_s: float = 120.0
    """Uncommitted input audio kept per realtime session."""
    max_outbound_bytes: int = 32 * 1024 * 1024
    """Unsent server events queued for one realtime client before it is dropped as too slow."""
    realtime_events_per_s: float = 250.0
    """Sustained client events per second on one realtime connection (a microphone sends 25–50)."""
    realtime_event_burst: int = 1000
    """Events one realtime connection may send at once above the sustained rate."""
    realtime_bytes_per_s: float = 2 * 1024 * 1024
    """Sustained client bytes per second on one realtime connection (live audio is ~64 KB/s)."""
    realtime_byte_burst: int = 32 * 1024 * 1024
    """At least one largest event; beyond either rate the client gets an error and close 1008."""
    max_items: int = 1000
    """Conversation items per realtime session; beyond, ``conversation.item.create`` is refused."""
    max_item_text_bytes: int = 1024 * 1024
    """Text (UTF-8 bytes) all items of one realtime session hold together."""
    max_tools: int = 128
    """Tools a realtime ``session.update`` may declare (accepted and echoed, not applied)."""
    max_tools_bytes: int = 256 * 1024
    """``session.tools`` as JSON, all tools together."""
    max_sessions: int = 8
    """Concurrent realtime sessions; more get HTTP 503 (or an error event)."""
    idle_timeout_s: float = 300.0
    """A realtime session with no client event for this long (and no reply running) is closed."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    """When set, every route and the WebSocket require ``Authorization: Bearer <key>``."""
    limits: Limits = field(default_factory=Limits)
    model_id: str = "voicecli"
    """Name the realtime and chat endpoints report as their model."""
    allow_hosts: tuple[str, ...] = ()
    """DNS names the ``Host`` header may carry besides IP addresses and localhost (``*``: any)."""
    allow_origins: tuple[str, ...] = ()
    """Browser origins allowed besides the server's own page, e.g. ``https://app.example`` (``*``: any)."""
    stt_workers: int = 1
    """Threads for STT (shared by every session); each uses the STT thread setting."""
    tts_workers: int = 1
    """Threads for TTS (shared by every session)."""


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to expose an unauthenticated server beyond this machine."""
    if not api_key and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without an API key: anyone who can reach it could use it",
            "set --api-key KEY (or VOICECLI_API_KEY), or bind --host 127.0.0.1")
