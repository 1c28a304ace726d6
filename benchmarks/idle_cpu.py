"""CPU an idle ``voicecli talk`` costs while it listens: process CPU time over 20 s on the
virtual microphone and speaker of a private PulseAudio server (nothing is said).

    python benchmarks/idle_cpu.py                                   # --json, --plain, live screen
    python benchmarks/idle_cpu.py "noaec:--json --no-echo-cancel"   # LABEL:TALK ARGS (VOICECLI_*=v sets env,
                                                                    # @PATH runs talk from another checkout)
"""

from __future__ import annotations

import os
import pty
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecli.bench.talk_process import split_talk_words, talk_command  # noqa: E402
from voicecli.bench.virtual_audio import start_pulseaudio  # noqa: E402

DEFAULT = ["json:--json", "plain:--plain", "screen:--screen"]
"""``--screen`` runs the live screen on a pseudo-terminal."""


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(label: str, words: list[str], settle_s: float = 45.0, window_s: float = 20.0) -> float:
    with start_pulseaudio() as pa:
        talk_env, checkout, args = split_talk_words(words)
        env = {**pa.env, **talk_env}
        cwd = checkout or str(ROOT)
        cmd = talk_command("--no-history", *(w for w in args if w != "--screen"))
        if "--screen" in words:
            env.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
            pid, fd = pty.fork()
            if pid == 0:
                os.chdir(cwd)
                os.execve(sys.executable, cmd, env)

            def drain() -> None:
                try:
                    while os.read(fd, 65536):
                        pass
                except OSError:
                    pass

            threading.Thread(target=drain, daemon=True).start()
        else:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL)
            pid = proc.pid
        try:
            time.sleep(settle_s)  # models loaded, listening
            c0, t0 = _cpu_s(pid), time.monotonic()
            time.sleep(window_s)
            share = (_cpu_s(pid) - c0) / (time.monotonic() - t0)
        finally:
            os.kill(pid, 15)
            os.waitpid(pid, 0)
    print(f"{label:12} idle CPU {100 * share:5.1f} % of a core (load {os.getloadavg()[0]:.1f})", flush=True)
    return share


def main(argv: list[str] | None = None) -> int:
    for spec in (argv if argv is not None else sys.argv[1:]) or DEFAULT:
        label, _, rest = spec.partition(":")
        measure(label, shlex.split(rest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
