"""The project's exception hierarchy. Library errors are translated into these at adapter
boundaries; the CLI prints ``error: <message>`` (plus the hint) and exits non-zero."""

from __future__ import annotations


class VoicecliError(Exception):
    """Base class. ``hint`` says what the user can do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(VoicecliError):
    """Invalid configuration value or file."""

    exit_code = 2


class ModelNotFoundError(VoicecliError):
    """A model name or path could not be resolved."""


class ModelLoadError(VoicecliError):
    """A model was found but could not be loaded (corrupt, wrong format, missing backend)."""


class AudioInputError(VoicecliError):
    """An input file is missing, empty, not audio, truncated or otherwise unusable."""


class NoSpeechError(AudioInputError):
    """The audio decodes but contains only silence / no speech."""


class DeviceError(VoicecliError):
    """An audio device is missing, busy, or disappeared."""


class BackendUnavailableError(VoicecliError):
    """A requested backend cannot run on this machine."""


class DownloadError(ModelNotFoundError):
    """A model could not be fetched from the hub (unreachable, not there, no disk space, corrupt)."""


class RemoteEngineError(VoicecliError):
    """A remote engine (``--stt-url``, ``--tts-url``) is down, too slow, answered with an HTTP
    error or sent a body that is not what the OpenAI API promises. A conversation reports it
    and goes on: the next turn tries again."""
