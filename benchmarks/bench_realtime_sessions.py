"""Realtime sessions at once on one `voicecli serve`: per-session latency as the count grows.

Each session speaks examples/question.wav then examples/question2.wav in real time (40 ms
chunks of 24 kHz PCM16, silence in between, like a microphone) through the official openai SDK's
client.realtime.connect, and waits for each reply. Latency = the client sent the last voiced
sample (speech_stopped's audio_end_ms) → the first reply audio delta arrived.

    .venv/bin/python benchmarks/bench_realtime_sessions.py                 # starts its own server
    .venv/bin/python benchmarks/bench_realtime_sessions.py --url http://127.0.0.1:8000 --counts 1,2,4,8
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.serve.rt_client import load_wav_24k, run_voice_session  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def run(url: str, key: str, count: int, clips: list) -> dict:
    from openai import OpenAI

    def one(_: int):
        client = OpenAI(base_url=f"{url}/v1", api_key=key, websocket_base_url=url.replace("http", "ws", 1) + "/v1",
                        max_retries=0)
        t0 = time.monotonic()
        turns = run_voice_session(client, clips, realtime=True, timeout_s=600)
        return turns, time.monotonic() - t0

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        results = list(pool.map(one, range(count)))
    lat = [t.latency_s for turns, _ in results for t in turns if t.latency_s is not None]
    ok = sum(1 for turns, _ in results
             if len(turns) == 2 and "france" in (turns[0].user_transcript or "").lower()
             and "story" in (turns[1].user_transcript or "").lower()
             and all(t.status == "completed" for t in turns))
    return {"count": count, "turns": len(lat), "ok": ok, "median": statistics.median(lat), "p90": percentile(lat, 0.9),
            "max": max(lat), "session_s": statistics.median(s for _, s in results)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running server (default: start one)")
    ap.add_argument("--api-key", default="bench")
    ap.add_argument("--counts", default="1,2,4,8")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results-serve.md"))
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    clips = [load_wav_24k(ROOT / "examples" / "question.wav"), load_wav_24k(ROOT / "examples" / "question2.wav")]
    server = None
    url = args.url
    if url is None:
        import tempfile

        from tests.e2e.serve.conftest import server_env, start_server, stop_server

        tmp = Path(tempfile.mkdtemp())
        server = start_server(tmp, "--api-key", args.api_key, "--max-sessions", str(max(counts)),
                              env=server_env(tmp))
        url = server.http
    rows = []
    try:
        run(url, args.api_key, 1, clips)  # warm-up
        for n in counts:
            r = run(url, args.api_key, n, clips)
            rows.append(r)
            print(f"{n} sessions: median {r['median']:.2f} s, p90 {r['p90']:.2f} s, max {r['max']:.2f} s, "
                  f"{r['ok']}/{n} sessions correct", flush=True)
    finally:
        if server is not None:
            stop_server(server)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Realtime sessions at once (`voicecli serve`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores ({platform.platform()}); load average before the "
        f"last run {load:.1f} (other jobs share this machine, so timings are noisy).",
        "Models: faster-whisper tiny.en (int8), SmolLM2-135M Q4_1 (40-token replies), Piper en_US-joe-medium; "
        "one STT worker and one TTS worker shared by all sessions, llama.cpp serialised.",
        "",
        "Each session speaks `examples/question.wav` then `examples/question2.wav` in real time through "
        "`client.realtime.connect` (server VAD); latency = last voiced sample sent → first reply audio received.",
        "",
        "Command: `.venv/bin/python benchmarks/bench_realtime_sessions.py --counts " + args.counts + "`",
        "",
        "| sessions | turns | correct sessions | median latency (s) | p90 (s) | max (s) | median session (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['count']} | {r['turns']} | {r['ok']}/{r['count']} | {r['median']:.2f} | {r['p90']:.2f} | "
                     f"{r['max']:.2f} | {r['session_s']:.1f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
