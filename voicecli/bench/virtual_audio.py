"""A private PulseAudio server with a virtual microphone and loudspeaker, for measuring voicecli
where the user is: through the real device path (sounddevice → PortAudio → ALSA → PulseAudio).

Sinks and sources it creates:

- ``spk``: the default output (what voicecli plays); ``spk.monitor`` records it.
- ``micsink`` → ``mic``: the default input; whatever is played into ``micsink`` is what the
  program hears.
- ``user``: a combine sink feeding both ``micsink`` and ``spk`` on one clock, so a question
  played into it is heard by the program *and* lands on the recorded speaker track, on the same
  timeline as the reply (latency = reply onset − question end, read off one recording).

Used by the device-loop benchmark (``benchmarks/device_loop.py``) and by the tests
(``tests/pulse.py``). Needs ``pulseaudio``/``pulseaudio-utils`` (``make test`` installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

RECORD_RATE_HZ = 16_000


@dataclass
class PulseAudio:
    """A running private PulseAudio server; ``env`` points programs at it."""

    runtime_dir: Path
    env: dict[str, str]

    def run(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(list(args), env=self.env, check=True, capture_output=True, **kw)

    def play_into_mic(self, wav: Path) -> subprocess.Popen[bytes]:
        """Only the program hears it (not on the recorded speaker track)."""
        return subprocess.Popen(["paplay", "--device=micsink", str(wav)], env=self.env)

    def play_as_user(self, wav: Path) -> subprocess.Popen[bytes]:
        """The program hears it and it lands on the speaker recording, on one clock."""
        return subprocess.Popen(["paplay", "--device=user", str(wav)], env=self.env)

    def record_speaker(self, out_raw: Path) -> subprocess.Popen[bytes]:
        """16 kHz mono s16le of everything played to ``spk`` (raw, no header)."""
        f: IO[bytes] = open(out_raw, "wb")  # handed to the child process
        proc = subprocess.Popen(["parec", "--device=spk.monitor", f"--rate={RECORD_RATE_HZ}", "--channels=1",
                                 "--format=s16le", "--raw", "--latency-msec=10"], env=self.env, stdout=f)
        f.close()
        return proc

    def load_module(self, name: str, *args: str) -> int:
        """``pactl load-module``; returns the module index (for :meth:`unload_module`)."""
        out = self.run("pactl", "load-module", name, *args).stdout.decode().strip()
        return int(out)

    def unload_module(self, index: int) -> None:
        self.run("pactl", "unload-module", str(index))

    def speaker_echo(self, latency_ms: int, gain_db: float) -> int:
        """A loudspeaker heard by the microphone: ``spk.monitor`` → ``micsink``, delayed and scaled."""
        index = self.load_module("module-loopback", "source=spk.monitor", "sink=micsink",
                                 f"latency_msec={latency_ms}", "source_dont_move=true", "sink_dont_move=true")
        for _ in range(50):
            sink_input = self._loopback_sink_input(index)
            if sink_input is not None:
                self.run("pactl", "set-sink-input-volume", str(sink_input), f"{gain_db:+.1f}dB")
                break
            time.sleep(0.1)
        return index

    def _loopback_sink_input(self, module: int) -> int | None:
        listing = self.run("pactl", "list", "short", "sink-inputs").stdout.decode()
        for line in listing.splitlines():
            cols = line.split("\t")
            if len(cols) > 1 and cols[1] == str(module):
                return int(cols[0])
        return None

    def stop(self) -> None:
        pid_file = self.runtime_dir / "pulse" / "pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), 15)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def __enter__(self) -> PulseAudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_pulseaudio() -> PulseAudio:
    """Start a private server (its own runtime dir, never the user's session)."""
    if shutil.which("pulseaudio") is None:
        raise RuntimeError("pulseaudio is not installed (make test installs it: scripts/install-system-deps.sh)")
    runtime = Path(tempfile.mkdtemp(prefix="voicecli-pulse-"))
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PULSE_RUNTIME_PATH": str(runtime / "pulse")}
    env.pop("PULSE_SERVER", None)
    subprocess.run(["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--disallow-exit", "-n",
                    "--system=false", "--load=module-native-protocol-unix",
                    "--load=module-null-sink sink_name=spk", "--load=module-null-sink sink_name=micsink",
                    "--load=module-remap-source source_name=mic master=micsink.monitor",
                    "--load=module-combine-sink sink_name=user slaves=micsink,spk",
                    f"--log-target=file:{runtime}/pulse.log"], env=env, check=True)
    pa = PulseAudio(runtime, env)
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    pa.run("pactl", "set-default-source", "mic")
    pa.run("pactl", "set-default-sink", "spk")
    return pa
