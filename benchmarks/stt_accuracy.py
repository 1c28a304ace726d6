"""STT accuracy against time: word error rate (Whisper's English normaliser, as the Whisper
paper and the openai-whisper CLI evaluate) and compute time of tiny.en on the in-repo English
eval clips, for beam sizes 1..5, on the path ``transcribe`` takes (purpose "file": Whisper's
30 s window) and the one ``talk`` takes (purpose "conversation": the short window, no timestamp
tokens). Configurations are interleaved clip by clip, so load on a shared machine hits each
alike; compute is reported as wall time and as process CPU time.

    python benchmarks/stt_accuracy.py                     # beams 1..5, both paths
    python benchmarks/stt_accuracy.py --beams 1,3,5 --rounds 3 --json out.json

Needs ``whisper-normalizer`` (its ``EnglishTextNormalizer`` is openai-whisper's) and jiwer
(``pip install whisper-normalizer jiwer``; both are in the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecli.audio.decode import decode_audio  # noqa: E402
from voicecli.bench.wer import whisper_english_wer  # noqa: E402
from voicecli.config import Settings  # noqa: E402
from voicecli.engines import load_transcriber  # noqa: E402
from voicecli.stt.options import transcribe_options  # noqa: E402

SHORT_CLIP_S = 4.0
"""Clips up to this long are "questions" (the conversation path's compute is quoted for them)."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beams", default="1,2,3,4,5")
    ap.add_argument("--paths", default="file,conversation")
    ap.add_argument("--rounds", type=int, default=1, help="transcribe every clip this many times per configuration")
    ap.add_argument("--eval-dir", type=Path, default=ROOT / "eval" / "speech")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    try:
        import jiwer  # noqa: F401 - checked here, used by whisper_english_wer
        import whisper_normalizer  # noqa: F401
    except ImportError as exc:
        print(f"needs whisper-normalizer and jiwer: {exc}", file=sys.stderr)
        return 2
    manifest = [json.loads(line) for line in (a.eval_dir / "manifest.jsonl").read_text().splitlines() if line.strip()]
    clips = [(m["file"], m["text"], decode_audio(a.eval_dir / m["file"])) for m in manifest if m["language"] == "en"]
    settings = Settings()
    transcriber = load_transcriber(settings)
    transcriber.warm_up()
    configs = []
    for path in a.paths.split(","):
        base = transcribe_options(settings, purpose=path, language="en")  # type: ignore[arg-type]
        for beam in (int(b) for b in a.beams.split(",")):
            configs.append((f"{path} beam {beam}", replace(base, beam_size=beam)))
    hyps: dict[str, list[str]] = {label: [] for label, _ in configs}
    wall: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in configs}
    cpu: dict[str, list[float]] = {label: [] for label, _ in configs}
    loads = []
    t_start = time.perf_counter()
    for name, _, audio in clips:
        for r in range(a.rounds):
            order = configs if r % 2 == 0 else list(reversed(configs))
            for label, options in order:
                loads.append(os.getloadavg()[0])
                c0, t0 = time.process_time(), time.perf_counter()
                text = transcriber.transcribe(audio, options).text
                wall[label].append((len(audio) / 16000, (time.perf_counter() - t0) * 1000))
                cpu[label].append((time.process_time() - c0) * 1000)
                if r == 0:
                    hyps[label].append(text)
        del name
    refs = [t for _, t, _ in clips]
    rows = []
    for label, _ in configs:
        w = whisper_english_wer(refs, hyps[label])
        short = [ms for dur, ms in wall[label] if dur <= SHORT_CLIP_S]
        rows.append({"config": label, "wer": round(w.wer, 4), "errors": w.errors,
                     "reference_words": w.reference_words,
                     "wall_ms_p50": round(statistics.median(ms for _, ms in wall[label]), 1),
                     "wall_ms_short_clips_p50": round(statistics.median(short), 1) if short else None,
                     "cpu_ms_p50": round(statistics.median(cpu[label]), 1),
                     "set_wall_s": round(sum(ms for _, ms in wall[label]) / 1000 / a.rounds, 2)})
        r = rows[-1]
        print(f"{label:22} | WER {100 * r['wer']:5.2f} % ({w.errors:3d} errors / {r['reference_words']} words) | "
              f"wall p50 {r['wall_ms_p50']:6.1f} ms, clips ≤ {SHORT_CLIP_S:.0f} s p50 {r['wall_ms_short_clips_p50']} ms | "
              f"CPU p50 {r['cpu_ms_p50']:6.1f} ms | whole set {r['set_wall_s']} s")
    summary = {"rows": rows, "clips": len(clips), "rounds": a.rounds, "load_p50": round(statistics.median(loads), 2),
               "load_max": round(max(loads), 2), "wall_s": round(time.perf_counter() - t_start, 1),
               "normaliser": "whisper_normalizer.english.EnglishTextNormalizer"}
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    if a.json:
        a.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
