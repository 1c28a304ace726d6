import pytest

from voicecli.errors import BackendUnavailableError
from voicecli.stt.backend import choose_backend


@pytest.mark.parametrize("requested,system,machine,mlx,expected", [
    ("auto", "Darwin", "arm64", True, "mlx-whisper"),
    ("auto", "Darwin", "arm64", False, "faster-whisper"),
    ("auto", "Darwin", "x86_64", True, "faster-whisper"),
    ("auto", "Linux", "x86_64", False, "faster-whisper"),
    ("auto", "Linux", "aarch64", True, "faster-whisper"),
    ("auto", "Windows", "AMD64", False, "faster-whisper"),
    ("faster-whisper", "Darwin", "arm64", True, "faster-whisper"),
    ("mlx-whisper", "Darwin", "arm64", True, "mlx-whisper"),
])
def test_choice(requested, system, machine, mlx, expected):
    assert choose_backend(requested, system, machine, mlx) == expected


@pytest.mark.parametrize("requested,system,machine,mlx,message", [
    ("mlx-whisper", "Linux", "x86_64", True, "needs Apple Silicon"),
    ("mlx-whisper", "Darwin", "x86_64", True, "needs Apple Silicon"),
    ("mlx-whisper", "Darwin", "arm64", False, "not installed"),
    ("whisper.cpp", "Linux", "x86_64", False, "unknown STT backend"),
])
def test_refusals(requested, system, machine, mlx, message):
    with pytest.raises(BackendUnavailableError) as e:
        choose_backend(requested, system, machine, mlx)
    assert message in e.value.message
