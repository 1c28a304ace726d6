"""Time to first token: llama-cpp-python's own OpenAI-compatible server (what a user would run
next to a voice pipeline) vs voicecli's in-process LLM path (LlamaChat.stream), same GGUF, same
threads, one run; measurements interleaved round by round so background load hits both alike.
Also shown: voicecli's remote path (OpenAIChat, i.e. `--llm-url`) against that same server.

  cold    the system prompt is new to the KV cache (first turn of a session)
  cached  the system prompt was just evaluated (every later turn)
Each request streams up to 8 tokens and is read to the end; tokens/s from a 96-token reply.

Setup: the server extras in .venv (llama-cpp-python itself is already built there without AMX):
  .venv/bin/pip install -c constraints.txt sse-starlette 'starlette-context>=0.3.6,<0.4' pydantic-settings PyYAML
Run from the repository root:
  .venv/bin/python benchmarks/bench_llm_server.py [--repeats 7] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTIONS = ["What is the capital of France?", "How far away is the moon?", "Why is the sky blue?",
             "How do bees make honey?", "What is the tallest mountain in the world?"]
STORY = "Tell me a long, detailed story about a lighthouse keeper and a storm."
ALIAS = "bench-llm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_stream(port: int, messages: list[dict], max_tokens: int) -> tuple[float, float, int]:
    """(ms to first content, ms total, content chunks) for one streamed chat completion."""
    body = json.dumps({"model": ALIAS, "stream": True, "max_tokens": max_tokens, "temperature": 0,
                       "messages": messages})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    first = None
    n = 0
    for raw in resp:
        line = raw.decode().strip()
        if not line.startswith("data:") or line == "data: [DONE]":
            continue
        delta = json.loads(line[5:])["choices"][0].get("delta", {}).get("content")
        if delta:
            n += 1
            if first is None:
                first = time.perf_counter()
    total = time.perf_counter()
    conn.close()
    if first is None:
        raise RuntimeError("the server streamed no content")
    return (first - t0) * 1000, (total - t0) * 1000, n


def chat_stream(chat, messages: list[dict], max_tokens: int) -> tuple[float, float, int]:
    from voicecli.llm.types import ChatMessage, GenerationOptions

    msgs = [ChatMessage(m["role"], m["content"]) for m in messages]
    t0 = time.perf_counter()
    first = None
    n = 0
    for _ in chat.stream(msgs, GenerationOptions(max_tokens=max_tokens, temperature=0.0)):
        n += 1
        if first is None:
            first = time.perf_counter()
    total = time.perf_counter()
    if first is None:
        raise RuntimeError("no token")
    return (first - t0) * 1000, (total - t0) * 1000, n


def rate(first_ms: float, total_ms: float, n: int) -> float:
    return (n - 1) / ((total_ms - first_ms) / 1000) if n > 1 and total_ms > first_ms else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: llm.threads)")
    ap.add_argument("--llm-model", default=None)
    ap.add_argument("--pause-s", type=float, default=0.5,
                    help="idle time between contenders, so one's spinning threads do not slow the next")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from voicecli.bench.machine import machine_facts
    from voicecli.config import resolve
    from voicecli.engines import resolver
    from voicecli.llm.llama import LlamaChat
    from voicecli.llm.remote import OpenAIChat

    settings = resolve({"llm.model": args.llm_model, "llm.threads": args.threads}).settings
    gguf = resolver(settings).resolve("llm", settings.llm.model).path
    threads = settings.llm.threads
    system = settings.llm.system_prompt
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", ALIAS,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(settings.llm.context_tokens),
           "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_batch", "256"]
    log = tempfile.TemporaryFile(mode="w+")  # llama.cpp logs a lot: a pipe nobody reads would block it
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise SystemExit(f"llama_cpp.server exited ({server.returncode}): {log.read()[-800:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/v1/models")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("llama_cpp.server did not come up in 120 s")
            time.sleep(0.3)

        chat = LlamaChat(str(gguf), gguf.stem, threads=threads, context_tokens=settings.llm.context_tokens)
        remote = OpenAIChat(f"http://127.0.0.1:{port}/v1", ALIAS)
        warm = [{"role": "system", "content": system}, {"role": "user", "content": "Hi"}]
        server_stream(port, warm, 2)
        chat_stream(chat, warm, 2)

        contenders = {"llama-cpp-python server (HTTP client)": lambda m, k: server_stream(port, m, k),
                      "voicecli in-process (LlamaChat)": lambda m, k: chat_stream(chat, m, k),
                      "voicecli --llm-url → same server": lambda m, k: chat_stream(remote, m, k)}
        runs: dict[str, dict[str, list[float]]] = {c: {"cold": [], "cached": [], "tokens_per_s": []} for c in contenders}
        for i in range(args.repeats):
            q = QUESTIONS[i % len(QUESTIONS)]
            other = QUESTIONS[(i + 2) % len(QUESTIONS)]
            for name, fn in contenders.items():
                time.sleep(args.pause_s)
                salted = f"Session {uuid.uuid4().hex[:8]}. {system}"
                runs[name]["cold"].append(fn([{"role": "system", "content": salted}, {"role": "user", "content": q}], 8)[0])
                fn([{"role": "system", "content": system}, {"role": "user", "content": other}], 8)
                runs[name]["cached"].append(fn([{"role": "system", "content": system}, {"role": "user", "content": q}], 8)[0])
            if i < 3:
                for name, fn in contenders.items():
                    time.sleep(args.pause_s)
                    runs[name]["tokens_per_s"].append(rate(*fn([{"role": "system", "content": system},
                                                               {"role": "user", "content": STORY}], 96)))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    import llama_cpp

    med = {c: {k: statistics.median([x for x in v if not math.isnan(x)]) for k, v in row.items()} for c, row in runs.items()}
    print(f"{gguf.name}, {threads} threads, llama-cpp-python {llama_cpp.__version__}; median of {args.repeats} (ms)")
    print(f"{'':<40}{'first token cold':>18}{'first token cached':>20}{'tokens/s':>10}")
    for c, row in med.items():
        print(f"{c:<40}{row['cold']:>18.0f}{row['cached']:>20.0f}{row['tokens_per_s']:>10.1f}")
    peer, ours = med["llama-cpp-python server (HTTP client)"], med["voicecli in-process (LlamaChat)"]
    print(f"ratio server / voicecli in-process: cold {peer['cold'] / ours['cold']:.2f}x, "
          f"cached {peer['cached'] / ours['cached']:.2f}x, tokens/s {peer['tokens_per_s'] / ours['tokens_per_s']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"model": gguf.name, "threads": threads, "repeats": args.repeats,
                                         "llama_cpp_python": llama_cpp.__version__, "server_command": cmd,
                                         "median": med, "runs": runs, "machine": machine_facts()}, indent=2))


if __name__ == "__main__":
    main()
