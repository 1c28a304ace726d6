"""A private PulseAudio server with a virtual microphone and speaker (../shared/AUDIO-TESTING.md).
`make test` installs the packages; this starts and stops the server itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PulseAudio:
    runtime_dir: Path
    env: dict[str, str]

    def run(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, check=True, capture_output=True, **kw)

    def play_into_mic(self, wav: Path) -> subprocess.Popen:
        return subprocess.Popen(["paplay", "--device=micsink", str(wav)], env=self.env)

    def record_speaker(self, out_raw: Path) -> subprocess.Popen:
        f = open(out_raw, "wb")
        return subprocess.Popen(["parec", "--device=spk.monitor", "--rate=16000", "--channels=1",
                                 "--format=s16le", "--raw"], env=self.env, stdout=f)

    def stop(self) -> None:
        pid_file = self.runtime_dir / "pulse" / "pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), 15)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


def start_pulseaudio() -> PulseAudio:
    if shutil.which("pulseaudio") is None:
        raise RuntimeError("pulseaudio is not installed (make test installs it: scripts/install-system-deps.sh)")
    runtime = Path(tempfile.mkdtemp(prefix="voicecli-pulse-"))
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PULSE_RUNTIME_PATH": str(runtime / "pulse")}
    env.pop("PULSE_SERVER", None)
    subprocess.run(["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--disallow-exit", "-n",
                    "--system=false", "--load=module-native-protocol-unix",
                    "--load=module-null-sink sink_name=spk", "--load=module-null-sink sink_name=micsink",
                    "--load=module-remap-source source_name=mic master=micsink.monitor",
                    f"--log-target=file:{runtime}/pulse.log"], env=env, check=True)
    pa = PulseAudio(runtime, env)
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    pa.run("pactl", "set-default-source", "mic")
    pa.run("pactl", "set-default-sink", "spk")
    return pa
