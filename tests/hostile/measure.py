"""Reproduce the numbers in docs/security.md (not a test; run from a checkout's root):

    PYTHONPATH=$PWD nice .venv/bin/python -m tests.hostile.measure bomb --hours 10
    PYTHONPATH=$PWD nice .venv/bin/python -m tests.hostile.measure batched

``bomb`` starts ``voicecli serve`` (keyless, loopback), times a 2.7 s question alone, then uploads
the FLAC bomb (``--hours`` of audio, no length in its header) and the question together, and
prints the bomb's answer and time, the server's peak resident growth, and the question's time.
``batched`` builds ~127 s from the English eval clips (wav and mp3) and prints the word error rate
between ``transcribe`` and ``transcribe --batched``, and of each against the reference. Point
PYTHONPATH at another checkout to measure it (e.g. the commit before the fixes, with a small
``--hours``: it decodes everything, ~0.8 GB per hour)."""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from tests.conftest import EXAMPLES, SPEECH_DIR
from tests.e2e.serve.conftest import server_env, start_server, stop_server
from tests.helpers import read_wav, run_voicecli, write_wav
from tests.hostile.bombs import encode, flac_bomb
from tests.hostile.conftest import _status_kb


def _post(url: str, data: bytes, name: str) -> tuple[int, str, float]:
    started = time.monotonic()
    r = httpx.post(url, files={"file": (name, data)}, data={"model": "whisper-1"}, timeout=600)
    return r.status_code, r.text[:160], time.monotonic() - started


def bomb(hours: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), env=server_env(Path(tmp)))
        try:
            url = f"{server.base_url}/audio/transcriptions"
            question = (EXAMPLES / "question.wav").read_bytes()
            alone = sorted(_post(url, question, "question.wav")[2] for _ in range(4))[1]
            data = flac_bomb(hours * 3600)
            before = _status_kb(server.proc.pid, "VmRSS") / 1024
            Path(f"/proc/{server.proc.pid}/clear_refs").write_text("5")
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                bombed = pool.submit(_post, url, data, "bomb.flac")
                time.sleep(0.05)
                other = pool.submit(_post, url, question, "question.wav")
                status, body, bomb_s = bombed.result()
                other_status, _, other_s = other.result()
            peak = _status_kb(server.proc.pid, "VmHWM") / 1024 - before
            after = _status_kb(server.proc.pid, "VmRSS") / 1024 - before
            print(f"bomb: {len(data) / 1000:.0f} kB holding {hours:g} h -> HTTP {status} in {bomb_s:.2f} s: {body}")
            print(f"server RSS: peak +{peak:.0f} MB, +{after:.0f} MB after")
            print(f"concurrent 2.7 s question: HTTP {other_status} in {other_s:.2f} s (alone {alone:.2f} s)")
        finally:
            stop_server(server)


def batched() -> None:
    from voicecli.bench.wer import word_error_rate

    rows = [json.loads(line) for line in (SPEECH_DIR / "manifest.jsonl").read_text().splitlines() if line.strip()]
    parts, texts = [], []
    for row in rows:
        if row["language"] == "en":
            parts += [read_wav(SPEECH_DIR / row["file"])[0], np.zeros(16000, np.float32)]
            texts.append(row["text"])
    reference = " ".join(texts)
    with tempfile.TemporaryDirectory() as tmp:
        samples = np.concatenate(parts)
        wav = write_wav(Path(tmp) / "long.wav", samples)
        mp3 = Path(tmp) / "long.mp3"
        mp3.write_bytes(encode(samples, "mp3", "libmp3lame", 44100))
        for path in (wav, mp3):
            texts_by_mode = {}
            for mode, extra in (("plain", ()), ("batched", ("--batched",))):
                started = time.monotonic()
                r = run_voicecli("transcribe", str(path), "-f", "json", *extra, timeout=900)
                texts_by_mode[mode] = (json.loads(r.stdout)["text"] if r.returncode == 0 else "", time.monotonic() - started)
            (p, p_s), (b, b_s) = texts_by_mode["plain"], texts_by_mode["batched"]
            print(f"{path.name} ({len(samples) / 16000:.0f} s): WER plain<->batched {word_error_rate([p], [b]).wer:.3f}; "
                  f"vs reference: plain {word_error_rate([reference], [p]).wer:.3f} ({p_s:.0f} s), "
                  f"batched {word_error_rate([reference], [b]).wer:.3f} ({b_s:.0f} s); "
                  f"'he was not an' in plain: {'he was not an' in p.lower()}, in batched: {'he was not an' in b.lower()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("bomb").add_argument("--hours", type=float, default=10.0)
    sub.add_parser("batched")
    args = parser.parse_args()
    if args.what == "bomb":
        bomb(args.hours)
    else:
        batched()


if __name__ == "__main__":
    main()
