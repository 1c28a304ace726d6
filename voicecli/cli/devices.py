"""``voicecli devices``: the microphones and speakers ``talk`` can use: the sound server's own
sources and sinks (PulseAudio/PipeWire, by name) and PortAudio's devices (by index or name)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from voicecli.cli.common import VerboseOpt, handle_errors, out_console

if TYPE_CHECKING:
    from voicecli.audio.devices import DeviceInfo
    from voicecli.audio.sound_server import SoundServer


def register(app: typer.Typer) -> None:
    app.command("devices")(devices)


def devices(verbose: VerboseOpt = False) -> None:
    """List the microphones and speakers: the sound server's sources and sinks (PulseAudio or
    PipeWire), then PortAudio's devices. Pass a name or index to talk --input-device/--output-device."""
    from voicecli.audio.devices import list_devices
    from voicecli.audio.sound_server import sound_server

    with handle_errors(verbose):
        server = sound_server()
        devs = list_devices()
        if not devs and server is None:
            out_console.print("no sound devices found (use --input FILE / --output FILE.wav with talk)")
            return
        _print(server, devs)


_ROLE = {"input": "source", "output": "sink"}


def _default(is_input: bool, is_output: bool) -> str:
    return ",".join(x for x, on in (("input", is_input), ("output", is_output)) if on)


def _print(server: SoundServer | None, devs: list[DeviceInfo]) -> None:
    from rich.markup import escape

    from voicecli.cli.tables import is_piped, new_table, print_tsv

    if is_piped(out_console):
        label = server.name if server is not None else ""
        rows: list[list[object]] = [
            [s.name, f"{label} {'monitor' if s.is_monitor else _ROLE[s.kind]}", s.channels if s.kind == "input" else 0,
             s.channels if s.kind == "output" else 0, s.rate_hz,
             _default(s.is_default and s.kind == "input", s.is_default and s.kind == "output")]
            for s in (server.devices if server is not None else ())]
        rows += [[d.index, f"{d.name} ({d.hostapi})", d.max_input_channels, d.max_output_channels,
                  f"{d.default_samplerate:.0f}", _default(d.is_default_input, d.is_default_output)] for d in devs]
        print_tsv(["device", "name", "in", "out", "rate", "default"], rows)
        return
    if server is not None and server.devices:
        table = new_table("kind", "name", "channels", "rate", "default",
                          title=f"{escape(server.name)}: sources and sinks")
        for s in server.devices:
            kind = "monitor" if s.is_monitor else s.kind
            table.add_row(kind, escape(s.name), str(s.channels), str(s.rate_hz), "yes" if s.is_default else "")
        out_console.print(table)
        out_console.print("[dim]Pick one by name: talk --input-device NAME / --output-device NAME[/]")
        out_console.print()
    if devs:
        table = new_table("index", "name", "host API", "in", "out", "rate", "default", title="PortAudio devices")
        for d in devs:
            table.add_row(str(d.index), escape(d.name), escape(d.hostapi), str(d.max_input_channels),
                          str(d.max_output_channels), f"{d.default_samplerate:.0f}",
                          _default(d.is_default_input, d.is_default_output))
        out_console.print(table)
        out_console.print("[dim]Pick one by index or name: talk --input-device 1[/]")
