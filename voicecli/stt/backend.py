"""Which STT backend runs where: a pure function, table-tested."""

from __future__ import annotations

from voicecli.errors import BackendUnavailableError

FASTER_WHISPER = "faster-whisper"
MLX_WHISPER = "mlx-whisper"


def is_apple_silicon(system: str, machine: str) -> bool:
    return system == "Darwin" and machine in ("arm64", "aarch64")


def choose_backend(requested: str, system: str, machine: str, mlx_installed: bool) -> str:
    """Return the backend to use for ``requested`` ("auto", "faster-whisper", "mlx-whisper").

    auto → mlx-whisper on Apple Silicon when installed, else faster-whisper. Asking for
    mlx-whisper where it cannot run raises :class:`BackendUnavailableError`."""
    if requested == "auto":
        return MLX_WHISPER if is_apple_silicon(system, machine) and mlx_installed else FASTER_WHISPER
    if requested == FASTER_WHISPER:
        return FASTER_WHISPER
    if requested == MLX_WHISPER:
        if not is_apple_silicon(system, machine):
            raise BackendUnavailableError(
                f"mlx-whisper needs Apple Silicon (macOS arm64); this is {system} {machine}",
                "use --backend faster-whisper")
        if not mlx_installed:
            raise BackendUnavailableError("mlx-whisper is not installed",
                                          "pip install 'voicecli[mlx]'")
        return MLX_WHISPER
    raise BackendUnavailableError(f"unknown STT backend '{requested}'",
                                  "choose auto, faster-whisper or mlx-whisper")
