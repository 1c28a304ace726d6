"""Time to first audio: Piper synthesising the whole reply before playing (what a user gets from
piper-tts on its own) vs voicecli's sentence/clause streaming. Same voice, same machine, one run;
measurements interleaved round by round so background load hits every contender alike.

Contenders
  piper API, whole reply   piper-tts in its own venv: PiperVoice.synthesize_wav(whole text) → WAV
  piper HTTP server        piper-tts's own server (python -m piper.http_server): POST /synthesize → WAV
  voicecli, per sentence   PiperSpeaker.synthesize: Piper's sentence iterator, first sentence out
  voicecli, clause stream  the talk pipeline's path: SpeechChunker fed word by word (as the LLM
                           streams) → normalize_for_speech → Piper on the first clause

Setup (once; the peer lives in its own venv, never in .venv):
  python3 -m venv /tmp/peer-piper && /tmp/peer-piper/bin/pip install 'piper-tts[http]==1.8.0'
Run from the repository root:
  .venv/bin/python benchmarks/bench_tts_streaming.py [--peer-venv /tmp/peer-piper] [--repeats 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXTS = {
    "short": "The capital of France is Paris.",
    "one long sentence": ("And so my fellow Americans, ask not what your country can do for you, "
                          "ask what you can do for your country."),
    "long reply": ("Paris is the capital of France, and it sits on the river Seine in the north of the country. "
                   "It is famous for the Eiffel Tower, the Louvre museum and its many small cafés. "
                   "About two million people live in the city itself, and more than twelve million live in the "
                   "wider region around it. Most visitors come in the spring or the early autumn, when the "
                   "weather is mild and the parks are at their best."),
}

# Runs inside the peer venv: loads the voice once, then one JSON line per text read from stdin.
PEER_WORKER = r"""
import io, json, sys, time, wave
from piper import PiperVoice
voice = PiperVoice.load(sys.argv[1])
def whole(text):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        voice.synthesize_wav(text, w)
    return buf.getvalue()
whole("Hello there.")
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    text = json.loads(line)["text"]
    t0 = time.perf_counter()
    data = whole(text)
    ms = (time.perf_counter() - t0) * 1000
    with wave.open(io.BytesIO(data)) as w:
        audio_s = w.getnframes() / w.getframerate()
    print(json.dumps({"ms": ms, "audio_s": audio_s}), flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up in {timeout_s:.0f} s")


def http_synthesize(port: int, text: str) -> float:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/synthesize", json.dumps({"text": text}).encode(),
                                 {"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer-venv", type=Path, default=Path("/tmp/peer-piper"))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--voice", default=None, help="Piper voice (name or .onnx path); default: the configured voice")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from voicecli.bench.machine import machine_facts
    from voicecli.config import resolve
    from voicecli.engines import load_speaker, resolver
    from voicecli.tts.chunker import ChunkerParams, SpeechChunker
    from voicecli.tts.normalize import normalize_for_speech

    settings = resolve({"tts.voice": args.voice}).settings
    onnx = resolver(settings).resolve("tts", settings.tts.voice).path
    peer_py = args.peer_venv / "bin" / "python"
    if not peer_py.exists():
        raise SystemExit(f"no peer venv at {args.peer_venv}; create it as the docstring says")
    peer_version = subprocess.run([str(peer_py), "-c", "import importlib.metadata as m; print(m.version('piper-tts'))"],
                                  capture_output=True, text=True, check=True).stdout.strip()

    worker = subprocess.Popen([str(peer_py), "-c", PEER_WORKER, str(onnx)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    port = free_port()
    server = subprocess.Popen([str(peer_py), "-m", "piper.http_server", "--host", "127.0.0.1", "--port", str(port),
                               "-m", str(onnx)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert worker.stdout is not None and worker.stdin is not None
        json.loads(worker.stdout.readline())
        wait_http(f"http://127.0.0.1:{port}/info", 60, server)
        http_synthesize(port, "Hello there.")  # the server loads lazily; warm it

        speaker = load_speaker(settings)
        speaker.warm_up()
        chunker = ChunkerParams(first_chunk_min_words=settings.tts.first_chunk_min_words)

        def peer_api(text: str) -> float:
            worker.stdin.write(json.dumps({"text": text}) + "\n")
            worker.stdin.flush()
            return json.loads(worker.stdout.readline())["ms"]

        def per_sentence(text: str) -> float:
            t0 = time.perf_counter()
            gen = speaker.synthesize(normalize_for_speech(text))
            next(gen)
            ms = (time.perf_counter() - t0) * 1000
            gen.close()
            return ms

        def clause_stream(text: str) -> float:
            t0 = time.perf_counter()
            c = SpeechChunker(chunker)
            pieces: list[str] = []
            for token in re.findall(r"\s*\S+", text):
                pieces.extend(c.push(token))
                if pieces:
                    break
            pieces = pieces or c.flush()
            for _ in speaker.synthesize(normalize_for_speech(pieces[0])):
                pass
            return (time.perf_counter() - t0) * 1000

        contenders = {"piper API, whole reply": peer_api, "piper HTTP server": lambda t: http_synthesize(port, t),
                      "voicecli, per sentence": per_sentence, "voicecli, clause stream": clause_stream}
        results: dict[str, dict[str, list[float]]] = {name: {c: [] for c in contenders} for name in TEXTS}
        for _ in range(args.repeats):
            for name, text in TEXTS.items():
                for contender, fn in contenders.items():
                    results[name][contender].append(fn(text))
    finally:
        for proc in (worker, server):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    medians = {n: {c: statistics.median(v) for c, v in row.items()} for n, row in results.items()}
    print(f"time to first audio, median of {args.repeats} (ms); voice {onnx.name}; piper-tts {peer_version}")
    print(f"{'reply':<18}" + "".join(f"{c:>25}" for c in contenders) + f"{'API/clause':>12}{'HTTP/clause':>12}")
    for name, row in medians.items():
        clause = row["voicecli, clause stream"]
        print(f"{name:<18}" + "".join(f"{row[c]:>25.0f}" for c in contenders)
              + f"{row['piper API, whole reply'] / clause:>11.1f}x{row['piper HTTP server'] / clause:>11.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"repeats": args.repeats, "peer": f"piper-tts {peer_version}",
                                         "voice": onnx.name, "texts": TEXTS, "median_ms": medians,
                                         "runs_ms": results, "machine": machine_facts()}, indent=2))


if __name__ == "__main__":
    main()
