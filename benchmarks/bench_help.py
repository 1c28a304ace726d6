"""Wall time of `voicecli --help` (and each command's --help): median of N runs, as a user
starts it (the `voicecli` console script of this venv), with the given source tree first on
PYTHONPATH so two checkouts can be compared on the same machine and venv. The aim (issue 16) is
`voicecli --help` ≤ 0.3 s.

Run from the repository root:
  .venv/bin/python benchmarks/bench_help.py                      # this checkout
  .venv/bin/python benchmarks/bench_help.py --root /tmp/old      # another source tree (e.g. `git archive`)
  .venv/bin/python benchmarks/bench_help.py --repeats 9 --json help-times.json

`python -c pass` is timed too: the interpreter's own start-up, which no change here can remove.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["", "transcribe", "talk", "devices", "bench", "serve", "models", "doctor", "config", "history"]
TARGET_S = 0.3


def entry_point() -> list[str]:
    """The venv's `voicecli` script (what a user runs), else `python -m voicecli.cli.main`."""
    script = Path(sys.executable).with_name("voicecli")
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "voicecli.cli.main"]


def time_once(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=ROOT, help="source tree whose voicecli package is timed")
    ap.add_argument("--repeats", type=int, default=5, help="runs per command (the median is reported)")
    ap.add_argument("--all", action="store_true", help="also time every command's --help")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()

    env = {**os.environ, "PYTHONPATH": str(args.root.resolve()), "COLUMNS": "100"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # time warm starts (.pyc present), as a user sees them
    base = entry_point()
    cases: dict[str, list[str]] = {"python -c pass": [sys.executable, "-c", "pass"]}
    for name in COMMANDS if args.all else [""]:
        cases[f"voicecli {name} --help".replace("  ", " ")] = [*base, *([name] if name else []), "--help"]

    for cmd in cases.values():  # warm-up: page cache and .pyc files
        time_once(cmd, env)
    runs: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(args.repeats):  # interleaved, so background load hits every case alike
        for label, cmd in cases.items():
            runs[label].append(time_once(cmd, env))
    print(f"source tree: {args.root.resolve()}   ({args.repeats} runs each, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    width = max(len(k) for k in cases)
    print(f"{'command'.ljust(width)}  median s   min s")
    summary: dict[str, dict[str, float]] = {}
    for label, times in runs.items():
        median, low = statistics.median(times), min(times)
        summary[label] = {"median_s": round(median, 4), "min_s": round(low, 4)}
        print(f"{label.ljust(width)}  {median:8.3f}  {low:6.3f}")
    top = summary["voicecli --help"]["median_s"]
    print(f"\nvoicecli --help median {top:.3f} s: {'within' if top <= TARGET_S else 'OVER'} the {TARGET_S} s aim")
    if args.json is not None:
        args.json.write_text(json.dumps({"root": str(args.root.resolve()), "repeats": args.repeats,
                                         "results": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
