"""Time `voicecli transcribe` against plain faster-whisper: same model, same files, same
decoding options, both as fresh processes (Python start, imports, model load, decode and
transcription of every file), interleaved round by round so load on a shared machine hits both
alike. Reports the median and best wall time of each and voicecli's overhead, and checks that both
produced the same text.

    .venv/bin/python benchmarks/bench_transcribe.py                      # English eval clips, 5 rounds
    .venv/bin/python benchmarks/bench_transcribe.py --rounds 7 --out benchmarks/results-transcribe.md
    .venv/bin/python benchmarks/bench_transcribe.py --files a.wav b.mp3 --model base
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVAL = ROOT.parent / "shared" / "eval" / "speech"

# The library baseline: what a user of faster-whisper writes, with the options voicecli passes
# (greedy, no VAD, temperature fallback, no conditioning on previous text).
PLAIN = r"""
import sys
from pathlib import Path
from faster_whisper import WhisperModel
model_path, compute_type, threads, beam, language, out_dir, *files = sys.argv[1:]
model = WhisperModel(model_path, device="cpu", compute_type=compute_type, cpu_threads=int(threads),
                     local_files_only=True)
for f in files:
    segments, info = model.transcribe(f, language=language or None, beam_size=int(beam),
                                      condition_on_previous_text=False,
                                      temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    text = "".join(s.text.strip() + "\n" for s in segments)
    Path(out_dir, Path(f).stem + ".txt").write_text(text, encoding="utf-8")
"""


def english_clips(eval_dir: Path) -> list[Path]:
    entries = [json.loads(line) for line in (eval_dir / "manifest.jsonl").read_text().splitlines() if line.strip()]
    return [eval_dir / e["file"] for e in entries if e["language"] == "en"]


def audio_seconds(files: list[Path]) -> float:
    from voicecli.audio.decode import decode_audio

    return sum(len(decode_audio(f)) / 16000 for f in files)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of one run of ``cmd`` as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {shlex.join(cmd)}\n{r.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def in_process(files: list[Path], settings: object, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """CPU seconds of the per-file path alone, one loaded model shared: faster-whisper's own
    ``transcribe(path)`` loop vs voicecli's TranscribeJob (decode, transcribe, collect segments)."""
    from voicecli.engines import load_transcriber
    from voicecli.stt.jobs import TranscribeJob
    from voicecli.stt.types import TranscribeOptions

    transcriber = load_transcriber(settings)
    model = transcriber._model  # the same faster_whisper.WhisperModel
    options = TranscribeOptions(language=args.language or None, beam_size=args.beam_size)
    plain, job = [], []
    for i in range(args.rounds):
        for name in (("plain", "job") if i % 2 == 0 else ("job", "plain")):
            start = time.process_time()
            if name == "plain":
                for f in files:
                    segments, _ = model.transcribe(str(f), language=args.language or None, beam_size=args.beam_size,
                                                   condition_on_previous_text=False,
                                                   temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
                    "".join(s.text for s in segments)
                plain.append(time.process_time() - start)
            else:
                results = TranscribeJob(lambda: transcriber, options).run([str(f) for f in files])
                assert all(r.ok for r in results)
                job.append(time.process_time() - start)
    return plain, job


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", nargs="*", type=Path, help="audio files (default: the English eval clips)")
    ap.add_argument("--eval-dir", type=Path, default=Path(os.environ.get("VOICECLI_EVAL_DIR", DEFAULT_EVAL)))
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument("--beam-size", type=int, default=1)
    ap.add_argument("--language", default="en")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, help="append the markdown report to this file")
    args = ap.parse_args()

    from voicecli.config import resolve
    from voicecli.engines import resolver

    files = args.files or english_clips(args.eval_dir)
    settings = resolve({"stt.model": args.model, "stt.compute_type": args.compute_type, "stt.device": "cpu",
                        "stt.threads": args.threads}).settings
    model = resolver(settings).resolve("stt", args.model)
    total_audio_s = audio_seconds(files)
    env = {**os.environ, "VOICECLI_STT_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}

    work = Path(tempfile.mkdtemp(prefix="bench-transcribe-"))
    out_v, out_p = work / "voicecli", work / "plain"
    out_v.mkdir()
    out_p.mkdir()
    voicecli_cmd = [sys.executable, "-m", "voicecli.cli.main", "transcribe", *map(str, files), "-o", str(out_v),
                    "-f", "txt", "--quiet", "--model", args.model, "--compute-type", args.compute_type,
                    "--beam-size", str(args.beam_size), "--device", "cpu"]
    if args.language:
        voicecli_cmd += ["--language", args.language]
    plain_cmd = [sys.executable, "-c", PLAIN, str(model.path), args.compute_type, str(args.threads),
                 str(args.beam_size), args.language, str(out_p), *map(str, files)]

    timed(plain_cmd, env)  # warm the page cache for the model and the files; not counted
    times: dict[str, list[float]] = {"voicecli": [], "faster-whisper": []}
    cpu: dict[str, list[float]] = {"voicecli": [], "faster-whisper": []}
    for i in range(args.rounds):
        order = [("voicecli", voicecli_cmd), ("faster-whisper", plain_cmd)]
        if i % 2:
            order.reverse()  # alternate who goes first
        for name, cmd in order:
            wall, used = timed(cmd, env)
            times[name].append(wall)
            cpu[name].append(used)
        print(f"round {i + 1}: voicecli {times['voicecli'][-1]:.2f} s wall / {cpu['voicecli'][-1]:.2f} s CPU, "
              f"faster-whisper {times['faster-whisper'][-1]:.2f} s wall / {cpu['faster-whisper'][-1]:.2f} s CPU",
              file=sys.stderr)

    lib_plain, lib_job = in_process(files, settings, args)
    same = sum((out_v / f"{f.stem}.txt").read_text() == (out_p / f"{f.stem}.txt").read_text() for f in files)
    med_v, med_p = statistics.median(times["voicecli"]), statistics.median(times["faster-whisper"])
    best_v, best_p = min(times["voicecli"]), min(times["faster-whisper"])
    cpu_v, cpu_p = statistics.median(cpu["voicecli"]), statistics.median(cpu["faster-whisper"])
    import ctranslate2
    import faster_whisper

    command = "python benchmarks/bench_transcribe.py " + shlex.join(sys.argv[1:])
    report = f"""
## {time.strftime('%Y-%m-%d %H:%M')} — {args.model}, {args.compute_type}, beam {args.beam_size}, {args.threads} threads

Command: `{command.strip()}`

Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, faster-whisper
{faster_whisper.__version__}, CTranslate2 {ctranslate2.__version__}. Input: {len(files)} files, {total_audio_s:.1f} s of audio.
{args.rounds} interleaved rounds; each figure is a whole fresh process (start, imports, model load,
decoding, transcription, writing txt). Load average at the end: {os.getloadavg()[0]:.1f}.

| | CPU median (s) | CPU all rounds (s) | wall median (s) | wall best (s) | wall all rounds (s) |
|---|---|---|---|---|---|
| faster-whisper (plain library script) | {cpu_p:.2f} | {', '.join(f'{t:.2f}' for t in cpu['faster-whisper'])} | {med_p:.2f} | {best_p:.2f} | {', '.join(f'{t:.2f}' for t in times['faster-whisper'])} |
| `voicecli transcribe` | {cpu_v:.2f} | {', '.join(f'{t:.2f}' for t in cpu['voicecli'])} | {med_v:.2f} | {best_v:.2f} | {', '.join(f'{t:.2f}' for t in times['voicecli'])} |

voicecli overhead: **{(cpu_v / cpu_p - 1) * 100:+.1f} % CPU time** (medians); wall time
{(med_v / med_p - 1) * 100:+.1f} % (medians), {(best_v / best_p - 1) * 100:+.1f} % (best). Identical transcripts:
{same}/{len(files)} files. On a shared machine CPU time (user + system of the process) is the fair measure:
wall time also counts whatever else the cores were doing.

Per-file path alone (one process, model loaded once, CPU seconds for all files, {args.rounds} interleaved rounds):
faster-whisper `model.transcribe(path)` loop median {statistics.median(lib_plain):.2f} s
({', '.join(f'{t:.2f}' for t in lib_plain)}); voicecli `TranscribeJob` median {statistics.median(lib_job):.2f} s
({', '.join(f'{t:.2f}' for t in lib_job)}): **{(statistics.median(lib_job) / statistics.median(lib_plain) - 1) * 100:+.1f} %**.
So what remains of the end-to-end difference is voicecli's fixed start-up cost (imports of typer, rich
and pydantic, config resolution, model lookup), paid once per command.
"""
    print(report)
    if args.out:
        with args.out.open("a", encoding="utf-8") as f:
            f.write(report)


if __name__ == "__main__":
    main()
