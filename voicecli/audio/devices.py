"""Sound devices through sounddevice/PortAudio. The only module that imports sounddevice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from voicecli.errors import DeviceError


def sd() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library missing
        raise DeviceError("PortAudio is not installed, so no sound devices can be used",
                          "install it (Debian/Ubuntu: apt-get install libportaudio2; macOS: brew install portaudio) "
                          "or use --input FILE / --output FILE.wav") from exc
    return sounddevice


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool


def list_devices() -> list[DeviceInfo]:
    s = sd()
    try:
        devices = s.query_devices()
        hostapis = s.query_hostapis()
        default_in, default_out = s.default.device
    except s.PortAudioError as exc:
        raise DeviceError(f"cannot query sound devices: {exc}", "check your audio system") from exc
    return [DeviceInfo(i, d["name"], hostapis[d["hostapi"]]["name"], d["max_input_channels"],
                       d["max_output_channels"], d["default_samplerate"], i == default_in, i == default_out)
            for i, d in enumerate(devices)]


def resolve_device(spec: str | None, kind: Literal["input", "output"]) -> int | None:
    """Device index for ``spec``: an index, a PortAudio device name (exact, or a unique
    case-insensitive part of one), or the name of a PulseAudio/PipeWire source or sink (see
    :mod:`voicecli.audio.sound_server`; ALSA's ``pulse`` device is then routed to it). None =
    the default device. Raises DeviceError with a fix when nothing fits."""
    devices = list_devices()
    usable = [d for d in devices if (d.max_input_channels if kind == "input" else d.max_output_channels) > 0]
    flag = f"--{kind}-device"
    alt = "--input FILE" if kind == "input" else "--output FILE.wav"
    if not usable:
        raise DeviceError(f"no {kind} device found", f"connect one, or use {alt} instead")
    if spec is None or spec == "":
        default = [d for d in usable if (d.is_default_input if kind == "input" else d.is_default_output)]
        if not default:
            raise DeviceError(f"no default {kind} device", f"pick one with {flag} (see `voicecli devices`)")
        return default[0].index
    if spec.isdigit():
        idx = int(spec)
        if any(d.index == idx for d in usable):
            return idx
        raise DeviceError(f"{kind} device {idx} does not exist or has no {kind} channels",
                          "run `voicecli devices` to list them")
    matches = [d for d in usable if spec.lower() in d.name.lower()]
    exact = [d for d in matches if d.name.lower() == spec.lower()]
    if exact:
        return exact[0].index
    routed = _via_sound_server(spec, kind, usable, exact_only=True)
    if routed is not None:
        return routed
    if len(matches) == 1:
        return matches[0].index
    routed = _via_sound_server(spec, kind, usable, exact_only=False) if not matches else None
    if routed is not None:
        return routed
    if not matches:
        raise DeviceError(f"no {kind} device matches '{spec}'", "run `voicecli devices` to list them")
    names = ", ".join(f"{d.index}: {d.name}" for d in matches)
    raise DeviceError(f"'{spec}' matches several {kind} devices ({names})", f"pass the index to {flag}")


def _via_sound_server(spec: str, kind: Literal["input", "output"], usable: list[DeviceInfo],
                      exact_only: bool) -> int | None:
    """ALSA's ``pulse`` device, routed to the sound server's source/sink named ``spec``; None when
    there is no such source/sink (or no sound server, or no ``pulse`` device to route)."""
    from voicecli.audio.sound_server import route, sound_server

    pulse = [d for d in usable if d.name == "pulse"]
    server = sound_server() if pulse else None
    if server is None:
        return None
    device = server.find(kind, spec)
    if device is None or (exact_only and device.name != spec):
        return None
    route(kind, device)
    return pulse[0].index
