"""Stage compute on a busy machine: each engine's time for one typical unit of work (tiny.en on a
3 s question, Piper on one sentence, SmolLM2's first 8 tokens), idle and with one core kept busy
by a spin loop, under the thread and spin-wait settings that matter there (issue 10: "2–5 s was
seen under load"). Each configuration runs in its own process (OpenMP reads its settings at load);
the figure is the median of 6 after one warm-up.

    python benchmarks/busy_threads.py            # idle, then one core busy
    python benchmarks/busy_threads.py --busy 1   # busy only

Configurations: STT with libgomp's default wait policy (``OMP_WAIT_POLICY`` empty; voicecli's
default), passive and one thread; talk's live STT (the short window) on two threads and on one
(voicecli's default: a one-thread copy of the model); Piper with onnxruntime's spinning threads
(voicecli's default on an idle machine), without spinning and on one thread (voicecli's while other
programs keep a core busy); the LLM with 2 threads (voicecli's default) and 1. (Passive STT and
Piper without spinning were faster here but not as heard from outside: ``benchmarks/RESULTS.md``.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
CONFIGS = [("stt", "spin", {"OMP_WAIT_POLICY": ""}), ("stt", "passive", {"OMP_WAIT_POLICY": "PASSIVE"}),
           ("stt", "1 thread", {}), ("stt live", "2 threads", {}), ("stt live", "1 thread", {}),
           ("tts", "spin", {}), ("tts", "no spin", {}), ("tts", "1 thread", {}),
           ("llm", "2 threads", {}), ("llm", "1 thread", {})]


def measure(kind: str, config: str) -> list[float]:
    """Run in the child: the unit of work ``RUNS`` times, in ms."""
    sys.path.insert(0, str(ROOT))
    from voicecli.audio.decode import decode_audio
    from voicecli.config import resolve

    def settings(**values: object):  # noqa: ANN202
        return resolve(values, env={}, file=Path("/nonexistent.toml")).settings

    if kind == "stt":
        from voicecli.engines import load_transcriber
        from voicecli.stt.types import TranscribeOptions

        tr = load_transcriber(settings(**{"stt.threads": 1 if config == "1 thread" else 0}))
        audio = decode_audio(ROOT / "examples" / "question.wav")
        work = lambda: tr.transcribe(audio, TranscribeOptions(language="en", beam_size=4))  # noqa: E731
    elif kind == "stt live":  # talk's path: the short window, conversation beam (talk: 1 thread)
        from voicecli.engines import load_transcriber
        from voicecli.stt.options import transcribe_options

        s = settings(**{"stt.threads": 1 if config == "1 thread" else 0})
        tr = load_transcriber(s)
        tr._one_thread = None  # type: ignore[attr-defined]  # the model as loaded, with the threads asked for
        audio = decode_audio(ROOT / "examples" / "question.wav")
        options = transcribe_options(s, purpose="conversation")
        work = lambda: tr.transcribe(audio, options)  # noqa: E731
    elif kind == "tts":
        import onnxruntime

        original = onnxruntime.InferenceSession

        def session(path, sess_options=None, **kw):  # noqa: ANN001, ANN202
            if sess_options is not None and config == "no spin":
                sess_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            if sess_options is not None and config == "1 thread":
                sess_options.intra_op_num_threads = 1
            return original(path, sess_options=sess_options, **kw)

        onnxruntime.InferenceSession = session
        from voicecli.engines import load_speaker

        speaker = load_speaker(settings())
        work = lambda: list(speaker.synthesize("The capital of France is Paris.", 1.0))  # noqa: E731
    else:
        from voicecli.engines import load_chat
        from voicecli.llm.types import ChatMessage, GenerationOptions

        s = settings(**{"llm.threads": 1 if config == "1 thread" else 2})
        chat = load_chat(s)
        msgs = [ChatMessage("system", s.llm.system_prompt), ChatMessage("user", "What is the capital of France?")]
        work = lambda: list(chat.stream(msgs, GenerationOptions(max_tokens=8, temperature=0.0)))  # noqa: E731
    times = []
    for _ in range(RUNS):
        t0 = time.monotonic()
        work()
        times.append((time.monotonic() - t0) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--busy", type=int, nargs="+", default=[0, 1], help="cores kept busy, per round")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(" ".join(f"{t:.1f}" for t in measure(*a.child)))
        return
    print("| busy cores | stage | setting | median ms (of 6) |\n|---|---|---|---:|")
    for busy in a.busy:
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            for kind, config, env in CONFIGS:
                out = subprocess.run([sys.executable, __file__, "--child", kind, config], env={**os.environ, **env},
                                     capture_output=True, text=True, check=True).stdout.split()
                times = [float(t) for t in out]
                print(f"| {busy} | {kind} | {config} | {statistics.median(times[1:]):.0f} |", flush=True)
        finally:
            for p in spinners:
                p.kill()


if __name__ == "__main__":
    main()
