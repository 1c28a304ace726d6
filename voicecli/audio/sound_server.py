"""The sound server's own sources and sinks (PulseAudio, or PipeWire's PulseAudio service), read
with ``pactl``, and routing to one of them.

PortAudio only sees ALSA's ``pulse``/``default`` devices on such systems, i.e. whatever the
server's default is. To use one particular microphone or speaker, voicecli opens ALSA's ``pulse``
device with ``PULSE_SOURCE``/``PULSE_SINK`` set to its name: libpulse (inside the ALSA plugin)
reads them when the stream connects. Nothing here imports sounddevice."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

PACTL_TIMEOUT_S = 2.0
ROUTE_ENV = {"input": "PULSE_SOURCE", "output": "PULSE_SINK"}
"""The variable that routes ALSA's ``pulse`` device to a source (input) or sink (output)."""

Kind = Literal["input", "output"]


@dataclass(frozen=True)
class ServerDevice:
    """A PulseAudio/PipeWire source (input) or sink (output)."""

    kind: Kind
    name: str
    """What ``--input-device``/``--output-device`` accept, e.g. ``alsa_input.usb-…`` or ``mic``."""
    channels: int
    rate_hz: int
    is_default: bool

    @property
    def is_monitor(self) -> bool:
        """A sink's monitor: it records what is played, not a microphone."""
        return self.kind == "input" and self.name.endswith(".monitor")


@dataclass(frozen=True)
class SoundServer:
    """The running server: its name ("PulseAudio 16.1", "PipeWire 1.0.5") and its devices."""

    name: str
    devices: tuple[ServerDevice, ...]

    def find(self, kind: Kind, spec: str) -> ServerDevice | None:
        """The device of ``kind`` named ``spec`` exactly, else the only one whose name contains it."""
        mine = [d for d in self.devices if d.kind == kind]
        exact = [d for d in mine if d.name == spec]
        if exact:
            return exact[0]
        partial = [d for d in mine if spec.lower() in d.name.lower()]
        return partial[0] if len(partial) == 1 else None


_SPEC = re.compile(r"(\d+)ch\s+(\d+)Hz")


def parse_short_list(text: str, kind: Kind, default_name: str | None) -> list[ServerDevice]:
    """Rows of ``pactl list short sources|sinks``: ``index<TAB>name<TAB>driver<TAB>s16le 2ch 44100Hz<TAB>state``."""
    out = []
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) < 4:
            continue
        spec = _SPEC.search(cols[3])
        channels, rate = (int(spec.group(1)), int(spec.group(2))) if spec else (0, 0)
        out.append(ServerDevice(kind, cols[1], channels, rate, cols[1] == default_name))
    return out


def parse_info(text: str) -> tuple[str, str | None, str | None]:
    """From ``pactl info``: the server's name and version, its default source and default sink."""
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    name = fields.get("Server Name", "sound server")
    pipewire = re.search(r"PipeWire ([\d.]+)", name)
    if pipewire:
        label = f"PipeWire {pipewire.group(1)}"
    elif "pulseaudio" in name.lower():
        label = f"PulseAudio {fields.get('Server Version', '')}".strip()
    else:
        label = name
    return label, fields.get("Default Source"), fields.get("Default Sink")


def _pactl(*args: str) -> str | None:
    try:
        r = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=PACTL_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


def sound_server() -> SoundServer | None:
    """The running PulseAudio/PipeWire server and its sources and sinks; None without ``pactl`` or a server."""
    if shutil.which("pactl") is None:
        return None
    info = _pactl("info")
    if info is None:
        return None
    name, default_source, default_sink = parse_info(info)
    sources = parse_short_list(_pactl("list", "short", "sources") or "", "input", default_source)
    sinks = parse_short_list(_pactl("list", "short", "sinks") or "", "output", default_sink)
    return SoundServer(name, tuple(sources + sinks))


def route(kind: Kind, device: ServerDevice) -> None:
    """Send ALSA's ``pulse`` device for ``kind`` to ``device`` (for the streams this process opens)."""
    os.environ[ROUTE_ENV[kind]] = device.name
