"""Settings → per-call :class:`TranscribeOptions`: the one place that maps the ``[stt]`` config
to what a transcription call gets, by purpose.

- ``"file"``: audio of any length whose text (and timestamps) the user keeps: ``transcribe``,
  the REST transcription endpoint, Wyoming, the STT bench. Whisper's normal 30 s window and
  ``stt.beam_size`` (5, Whisper's own default: files are not latency-bound).
- ``"conversation"``: a spoken turn that is only read by the LLM: ``talk``, the realtime
  server, the end-to-end bench. Text only, short turns are encoded in the short window
  (``stt.short_window_s``), which is 3× faster on CPU, and ``stt.conversation_beam_size``: the
  best word error rate whose compute fits inside the end-of-turn silence.

Request-level fields (word timestamps, a prompt, temperature, VAD filter, batching) are not
settings: callers add them with :func:`dataclasses.replace`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from voicecli.stt.types import TranscribeOptions

if TYPE_CHECKING:
    from voicecli.config import Settings

Purpose = Literal["file", "conversation"]

WHISPER_WINDOW_S = 30.0
"""Whisper's own encoder window; a short window of this length or more is no short window."""


def short_window_s(configured_s: float) -> float | None:
    """The short window to use, or None when the setting turns it off (0, or ≥ 30 s)."""
    return configured_s if 0 < configured_s < WHISPER_WINDOW_S else None


def transcribe_options(settings: Settings, *, purpose: Purpose, language: str | None = None) -> TranscribeOptions:
    """The options for one call. ``language`` (a Whisper code) overrides ``stt.language``;
    None keeps the configured one (None there too: detect it)."""
    stt = settings.stt
    base = TranscribeOptions(language=language or stt.language, beam_size=stt.beam_size)
    if purpose == "file":
        return base
    if purpose == "conversation":
        return TranscribeOptions(language=base.language, beam_size=stt.conversation_beam_size,
                                 without_timestamps=True, short_window_s=short_window_s(stt.short_window_s))
    raise ValueError(f"unknown purpose {purpose!r} (file or conversation)")
