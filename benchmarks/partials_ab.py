"""Do live partial transcripts (``stt.partials``) cost end-of-turn latency? A/B of ``voicecli talk
--input FILE --json`` with partials on and off, runs interleaved (on, off, off, on, …) so load on a
shared machine hits both alike. The input is eval/speech clips (5–7 s sentences) with silence
between them long enough for each reply to finish, so every clip is one turn with partials
running while it is spoken. Reports per variant the medians of ``latency_ms.voice_to_voice``,
``stt`` and ``stt_wait`` over all turns, and how many partial lines talk printed.

    python benchmarks/partials_ab.py                 # 3 runs per variant
    python benchmarks/partials_ab.py --runs 3 --clips 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecli.audio.decode import decode_audio, write_wav  # noqa: E402
from voicecli.bench.talk_process import talk_command  # noqa: E402

CLIPS = ("en_librivox_austen_0870.wav", "en_librispeech_1272-128104-0000.wav", "en_librivox_austen_0890.wav")
GAP_S = 15.0
"""Silence after each clip: the reply (at most 24 tokens) is spoken before the next question
(on a loaded machine a shorter gap lets the next question cut the reply: no voice_to_voice)."""
STAGES = ("voice_to_voice", "stt", "stt_wait", "endpoint_wait", "llm_first_token")


def build_input(path: Path, clips: list[str]) -> None:
    gap = np.zeros(int(GAP_S * 16000), np.float32)
    parts = [np.zeros(16000, np.float32)]
    for clip in clips:
        parts += [decode_audio(str(ROOT / "eval" / "speech" / clip)), gap]
    write_wav(path, np.concatenate(parts), 16000)


def run_talk(question: Path, out: Path, partials: bool) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICECLI_")}
    env.update({"VOICECLI_STT_PARTIALS": "true" if partials else "false", "VOICECLI_LLM_MAX_REPLY_TOKENS": "24",
                "PYTHONPATH": str(ROOT)})
    cmd = talk_command("--input", str(question), "--output", str(out), "--json", "--no-history")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"talk failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--clips", type=int, default=len(CLIPS), help="how many of the clips (questions) per run")
    a = ap.parse_args(argv)
    results: dict[str, dict[str, list[float]]] = {"on": {}, "off": {}}
    partial_lines = {"on": 0, "off": 0}
    with tempfile.TemporaryDirectory() as tmp:
        question = Path(tmp) / "questions.wav"
        build_input(question, list(CLIPS[:a.clips]))
        order = [v for i in range(a.runs) for v in (("on", "off") if i % 2 == 0 else ("off", "on"))]
        for n, variant in enumerate(order):
            lines = run_talk(question, Path(tmp) / "reply.wav", variant == "on")
            turns = [line for line in lines if line["type"] == "turn"]
            partial_lines[variant] += sum(line["type"] == "partial" for line in lines)
            for t in turns:
                for stage in STAGES:
                    v = t["latency_ms"].get(stage)
                    if v is not None:
                        results[variant].setdefault(stage, []).append(v)
            v2v = [t["latency_ms"]["voice_to_voice"] for t in turns]
            print(f"run {n + 1}/{len(order)} partials {variant}: {len(turns)} turns, "
                  f"voice_to_voice {v2v}, users {[t['user'] for t in turns]}", flush=True)
    summary = {v: {s: round(statistics.median(xs), 1) for s, xs in stages.items()} | {"partial_lines": partial_lines[v]}
               for v, stages in results.items()}
    print(json.dumps(summary, indent=2))
    if a.json:
        a.json.write_text(json.dumps({"summary": summary, "samples": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
