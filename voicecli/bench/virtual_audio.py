"""A private PulseAudio server with a virtual microphone and loudspeaker, for measuring voicecli
where the user is: through the real device path (sounddevice → PortAudio → ALSA → PulseAudio).

Sinks and sources it creates:

- ``spk``: the default output (what voicecli plays); ``spk.monitor`` records it.
- ``micsink`` → ``mic``: the default input; whatever is played into ``micsink`` is what the
  program hears.
- ``user``: a combine sink feeding both ``micsink`` and ``spk`` on one clock, so a question
  played into it is heard by the program *and* lands on the recorded speaker track, on the same
  timeline as the reply (latency = reply onset − question end, read off one recording).

Rig features for the echo benchmark: :meth:`PulseAudio.speaker_echo` (a loudspeaker heard by
the microphone, at a gain and delay, optionally with early reflections), :meth:`PulseAudio.play_noise`
(steady room noise into the microphone) and :meth:`PulseAudio.record_mic` (what the program hears).

Used by the device-loop and echo benchmarks (``benchmarks/device_loop.py``,
``benchmarks/echo_loop.py``) and by the tests (``tests/pulse.py``). Needs ``pulseaudio``/
``pulseaudio-utils`` (``make test`` installs them).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

RECORD_RATE_HZ = 16_000

REFLECTIONS = ((20, -10.0), (45, -16.0), (90, -22.0))
"""Early reflections of a small room: (extra delay ms, gain dB relative to the direct path)."""


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
        return self._record("spk.monitor", out_raw)

    def _record(self, source: str, out_raw: Path) -> subprocess.Popen[bytes]:
        f: IO[bytes] = open(out_raw, "wb")  # handed to the child process
        proc = subprocess.Popen(["parec", f"--device={source}", f"--rate={RECORD_RATE_HZ}", "--channels=1",
                                 "--format=s16le", "--raw", "--latency-msec=10"], env=self.env, stdout=f)
        f.close()
        return proc

    def load_module(self, name: str, *args: str) -> int:
        """``pactl load-module``; returns the module index (for :meth:`unload_module`)."""
        out = self.run("pactl", "load-module", name, *args).stdout.decode().strip()
        return int(out)

    def unload_module(self, index: int) -> None:
        self.run("pactl", "unload-module", str(index))

    def record_mic(self, out_raw: Path) -> subprocess.Popen[bytes]:
        """16 kHz mono s16le of everything the program's microphone hears (raw, no header)."""
        return self._record("micsink.monitor", out_raw)

    def speaker_echo(self, latency_ms: int, gain_db: float, reflections: bool = False) -> list[int]:
        """A loudspeaker heard by the microphone: ``spk.monitor`` → ``micsink``, delayed and scaled
        (module-loopback holds ``latency_ms``); with ``reflections``, also the weaker, later copies
        of :data:`REFLECTIONS`. Returns the module indexes (for :meth:`unload_module`)."""
        paths = [(latency_ms, gain_db)]
        if reflections:
            paths += [(latency_ms + extra, gain_db + rel) for extra, rel in REFLECTIONS]
        return [self._loopback(ms, db) for ms, db in paths]

    def _loopback(self, latency_ms: int, gain_db: float) -> int:
        index = self.load_module("module-loopback", "source=spk.monitor", "sink=micsink",
                                 f"latency_msec={latency_ms}", "source_dont_move=true", "sink_dont_move=true")
        for _ in range(50):
            sink_input = self._loopback_sink_input(index)
            if sink_input is not None:
                self.run("pactl", "set-sink-input-volume", str(sink_input), f"{gain_db:+.1f}dB")
                return index
            time.sleep(0.1)
        raise RuntimeError(f"module-loopback {index}: no sink input appeared, so its gain could not be set")

    def _loopback_sink_input(self, module: int) -> int | None:
        """The sink input owned by ``module``. (``pactl list short`` has no owner column: its
        second column is the sink, which once made this find no input and leave the gain at 0 dB.)"""
        current: int | None = None
        for line in self.run("pactl", "list", "sink-inputs").stdout.decode().splitlines():
            line = line.strip()
            if line.startswith("Sink Input #"):
                current = int(line.removeprefix("Sink Input #"))
            elif line.startswith("Owner Module:") and line.split(":", 1)[1].strip() == str(module):
                return current
        return None

    def play_noise(self, rms_dbfs: float) -> NoisePlayer:
        """Steady room noise at ``rms_dbfs`` into the microphone until the player's ``stop``."""
        return NoisePlayer(self.env, "micsink", rms_dbfs)

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


class NoisePlayer:
    """Steady low-passed white noise streamed into a sink (through ``pacat``) until ``stop``."""

    def __init__(self, env: dict[str, str], sink: str, rms_dbfs: float, seed: int = 0) -> None:
        white = np.random.default_rng(seed).standard_normal(RECORD_RATE_HZ * 5)
        spectrum = np.fft.rfft(white)
        spectrum /= np.sqrt(1.0 + np.fft.rfftfreq(len(white), 1 / RECORD_RATE_HZ) / 500.0)  # room noise: little treble
        noise = np.fft.irfft(spectrum, len(white))
        noise *= 10 ** (rms_dbfs / 20) / np.sqrt(np.mean(noise ** 2))
        self._pcm = (np.clip(noise, -1, 1) * 32767).astype("<i2").tobytes()
        self._proc = subprocess.Popen(["pacat", f"--device={sink}", f"--rate={RECORD_RATE_HZ}", "--channels=1",
                                       "--format=s16le", "--latency-msec=100"], env=env, stdin=subprocess.PIPE)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, name="noise", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while not self._stop.is_set():
                stdin.write(self._pcm)  # blocks: pacat takes it at the sink's pace (5 s loop, FFT-periodic)
                stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def stop(self) -> None:
        self._stop.set()
        stop_process(self._proc, 5)
        self._thread.join(timeout=2)


def stop_process(proc: subprocess.Popen[Any], timeout_s: float, sig: int = signal.SIGTERM) -> None:
    """``sig``; SIGKILL if it has not ended after ``timeout_s``."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
