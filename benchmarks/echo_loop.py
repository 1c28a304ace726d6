"""Echo benchmark: does `voicecli talk` on loudspeakers interrupt or answer itself, and does it
still hear the user? (issue 11)

For each condition (loopback gain × delay): a private PulseAudio server, the speaker looped back
into the microphone (module-loopback at that gain and latency, optionally with early
reflections), steady room noise into the microphone (−50 dBFS by default), and a fresh
`voicecli talk --json` on the virtual devices asked for long stories by espeak-ng voices. Some
replies get a barge-in: another voice speaks over the reply a few seconds in. Scoring
(:mod:`voicecli.bench.echo_loop`) counts self-interruptions, own-speech turns, pauses and ignored
echoes per reply, barge-in detection and transcript WER, and compares the history talk stored
for a cut reply with a Whisper-base transcript of the audio that was really played.

    python benchmarks/echo_loop.py                          # 6 conditions × 10 replies (+5 barge-ins at −6 dB)
    python benchmarks/echo_loop.py --busy 1                 # the same with one core kept busy
    python benchmarks/echo_loop.py --brief                  # one condition, 2 replies + 1 barge-in (the test)
    python benchmarks/echo_loop.py --gains -6 --delays 60 --replies 4 --json out.json --keep run/

Needs pulseaudio, pulseaudio-utils, espeak-ng, sox (`make test` installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecli.audio.decode import decode_audio  # noqa: E402
from voicecli.audio.format import pcm16_to_float  # noqa: E402
from voicecli.bench.echo_loop import (  # noqa: E402
    Condition,
    Played,
    ReplyOutcome,
    results_table,
    score_window,
    summarize,
    wer,
)
from voicecli.bench.rig import busy_cores, espeak_wav  # noqa: E402
from voicecli.bench.talk_process import TalkProcess, TimedEvent, talk_command  # noqa: E402
from voicecli.bench.virtual_audio import RECORD_RATE_HZ, start_pulseaudio  # noqa: E402

RATE = RECORD_RATE_HZ
SYSTEM = ("You are a storyteller. Whatever you are asked, answer with a long story of at least eight "
          "sentences, in plain spoken English.")
# espeak-ng voices and sentences that tiny.en transcribes without an error when played clean,
# after 0, 0.3 or 0.6 s of silence and with −50 dBFS noise (the benchmark reports that baseline).
QUESTIONS = [
    ("en-029+m1", "Tell me a story about a dragon who lived in a lighthouse."),
    ("en-us+m2", "Tell me a story about a fisherman and a clever cat."),
    ("en-gb-x-rp", "Tell me a story about a robot who learned to paint."),
    ("en-gb+f3", "Tell me a story about a village in the mountains."),
    ("en-us+f3", "Tell me a story about an old ship and a storm."),
]
BARGE_INS = [
    ("en-us+f2", "Wait, what is the capital of France?"),
    ("en-us+m1", "Stop, how many legs does a spider have?"),
    ("en-gb-x-rp", "Sorry, why is the sky blue?"),
    ("en-029+m1", "Excuse me, what time is it in Tokyo?"),
    ("en-us+m4", "Hold on, what should I cook for dinner tonight?"),
    ("en-gb", "Wait, how far away is the moon?"),
    ("en-gb+m3", "Stop, what is the tallest mountain in the world?"),
]


def speak(work: Path, name: str, voice: str, text: str) -> tuple[Path, float]:
    wav = espeak_wav(work, name, voice, text, words_per_minute=160, pad_s=0.1)
    return wav, len(decode_audio(wav)) / RATE


def run_condition(cond: Condition, a: argparse.Namespace, work: Path, rng: random.Random,
                  keep: Path | None) -> list[ReplyOutcome]:
    questions = [speak(work, f"q{i}", v, t) + (t,) for i, (v, t) in enumerate(QUESTIONS)]
    barges = [speak(work, f"b{i}", v, t) + (t,) for i, (v, t) in enumerate(BARGE_INS)]
    n_barge = a.barge_ins if cond.gain_db in a.barge_in_gains else 0
    plan = [False] * a.replies + [True] * n_barge
    rng.shuffle(plan)
    windows: list[tuple[float, list[Played]]] = []
    with start_pulseaudio() as pa:
        pa.speaker_echo(cond.delay_ms, cond.gain_db, cond.reflections)
        noise = pa.play_noise(cond.noise_dbfs) if cond.noise_dbfs is not None else None
        rec_path = work / "speaker.raw"
        clock0 = time.monotonic()
        recorder = pa.record_speaker(rec_path)
        talk = TalkProcess(talk_command("--json", "--history", str(work / "history.sqlite3"), "--system", SYSTEM,
                                        "--llm-max-tokens", str(a.max_tokens), *a.talk_arg),
                           pa.env, ROOT, work / "talk.log", clock0)
        try:
            if talk.wait_for(lambda e: e.data.get("state") == "listening", 240) is None:
                raise RuntimeError("talk did not start")
            talk.settle(1.0, 15)
            retries = len(plan)
            k = -1
            while k + 1 < len(plan):
                k += 1
                barge = plan[k]
                wav, dur, text = questions[k % len(questions)]
                voice = QUESTIONS[k % len(QUESTIONS)][0]
                start = time.monotonic() - clock0
                pa.play_into_mic(wav).wait(timeout=60)
                played = [Played(text, voice, start, start + dur)]
                if barge:
                    talk.wait_for(lambda e: e.data.get("state") == "speaking", 60)
                    time.sleep(rng.uniform(4.0, 7.0))
                    if talk.state() != "speaking":  # the reply was over already: nothing to talk over
                        talk.settle(2.5, 120)
                        windows.append((start, played))
                        if retries > 0:  # a later reply gets the barge-in instead
                            retries -= 1
                            plan.append(True)
                        continue
                    bwav, bdur, btext = barges[k % len(barges)]
                    bstart = time.monotonic() - clock0
                    pa.play_into_mic(bwav).wait(timeout=60)
                    played.append(Played(btext, BARGE_INS[k % len(BARGE_INS)][0], bstart, bstart + bdur, True))
                else:
                    talk.wait_for(lambda e: e.type == "turn", 120)
                talk.settle(2.5, 120)
                windows.append((start, played))
        finally:
            talk.stop()
            time.sleep(0.5)
            recorder.terminate()
            recorder.wait(timeout=5)
            if noise is not None:
                noise.stop()
    ends = [w[0] for w in windows[1:]] + [float("inf")]
    outcomes = [score_window([e for e in talk.events if start <= e.t_s < end], played)
                for (start, played), end in zip(windows, ends, strict=True)]
    recording = pcm16_to_float(rec_path.read_bytes())
    _check_history(outcomes, talk.events, recording, work / "history.sqlite3", a)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        (keep / "events.json").write_text(json.dumps([[e.t_s, e.data] for e in talk.events]))
        (keep / "windows.json").write_text(json.dumps([[s, [asdict(p) for p in ps]] for s, ps in windows]))
        rec_path.replace(keep / "speaker.raw")
        (work / "history.sqlite3").replace(keep / "history.sqlite3")
    return outcomes


def _check_history(outcomes: list[ReplyOutcome], events: list[TimedEvent], recording: np.ndarray,
                   db: Path, a: argparse.Namespace) -> None:
    """For each cut reply: what talk stored vs a transcript of the audio played up to the cut."""
    cuts = [o for o in outcomes if o.barge_in is not None and o.barge_in.detected and o.cut_turn is not None]
    if not cuts:
        return
    rows = {r[0]: r[1] for r in sqlite3.connect(db).execute("SELECT turn, assistant FROM turns")}
    transcriber = _reference_transcriber(a)
    from voicecli.stt.types import TranscribeOptions

    for o in cuts:
        assert o.barge_in is not None
        cut = next(e.t_s for e in events if e.type == "interrupted" and e.data.get("turn") == o.cut_turn)
        spoke = [e.t_s for e in events if e.type == "state" and e.data.get("state") == "speaking" and e.t_s < cut]
        if not spoke:
            continue
        lo, hi = int(max(0.0, spoke[-1] - 0.3) * RATE), int((cut + 0.4) * RATE)
        text = transcriber.transcribe(recording[lo:hi], TranscribeOptions(language="en", beam_size=5)).text.strip()
        history = rows.get(o.cut_turn, "")
        o.barge_in = type(o.barge_in)(**{**asdict(o.barge_in), "history": history, "played_transcript": text,
                                         "history_wer": wer(text, history) if text else None})


_TRANSCRIBER = None


def _reference_transcriber(a: argparse.Namespace):  # Whisper base: not the model talk listens with
    global _TRANSCRIBER
    if _TRANSCRIBER is None:
        from voicecli.config import resolve
        from voicecli.engines import load_transcriber

        settings = resolve({"stt.model": a.reference_model}, env={}, file=Path("/nonexistent.toml")).settings
        _TRANSCRIBER = load_transcriber(settings)
    return _TRANSCRIBER


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gains", type=float, nargs="+", default=[0.0, -6.0, -12.0], help="loopback gains (dB)")
    ap.add_argument("--delays", type=int, nargs="+", default=[60, 150], help="loopback latencies (ms)")
    ap.add_argument("--replies", type=int, default=10, help="full replies per condition")
    ap.add_argument("--barge-ins", type=int, default=5, help="extra replies with a barge-in, per barge-in condition")
    ap.add_argument("--barge-in-gains", type=float, nargs="+", default=[-6.0], help="gains that get barge-ins")
    ap.add_argument("--max-tokens", type=int, default=64, help="reply length (LLM tokens)")
    ap.add_argument("--noise-dbfs", type=float, default=-50.0, help="room noise into the mic (dBFS); 0: none")
    ap.add_argument("--reflections", action="store_true", help="add early reflections to the echo path")
    ap.add_argument("--busy", type=int, default=0, help="cores to keep busy with a spin loop meanwhile")
    ap.add_argument("--brief", action="store_true", help="one condition (−6 dB, 150 ms), 2 replies + 1 barge-in")
    ap.add_argument("--talk-arg", action="append", default=[], help="extra argument for voicecli talk")
    ap.add_argument("--reference-model", default="base", help="Whisper model transcribing the played audio")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--json", type=Path, help="write every reply's outcome and the table here")
    ap.add_argument("--keep", type=Path, help="keep recordings and events per condition in this folder")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop talk and PulseAudio on the way out
    if a.brief:
        # 96 tokens (talk's default): with 40 a story was often one sentence (the token cap cut the
        # second, which talk does not say), ~5 s, and ended before the barge-in 4–7 s in
        a.gains, a.delays, a.replies, a.barge_ins, a.max_tokens = [-6.0], [150], 2, 1, 96
    noise = None if a.noise_dbfs == 0 else a.noise_dbfs
    conditions = [Condition(g, d, a.reflections, noise, a.busy) for g in a.gains for d in a.delays]
    rng = random.Random(a.seed)
    results, detail = [], []
    with busy_cores(a.busy):
        for cond in conditions:
            with tempfile.TemporaryDirectory(prefix="voicecli-echo-") as tmp:
                t0, load0 = time.monotonic(), os.getloadavg()
                keep = a.keep / cond.label.replace(" ", "").replace("/", "_") if a.keep else None
                outcomes = run_condition(cond, a, Path(tmp), rng, keep)
            res = summarize(cond, outcomes)
            results.append(res)
            detail.append({"condition": asdict(cond), "seconds": round(time.monotonic() - t0),
                           "load_avg_1_5_15": {"start": load0, "end": os.getloadavg()},
                           "replies": [asdict(o) for o in outcomes], "result": asdict(res)})
            print(results_table([res]).splitlines()[-1], f"load {load0[0]:.1f}→{os.getloadavg()[0]:.1f}", flush=True)
    table = results_table(results)
    print(table)
    if a.json:
        a.json.write_text(json.dumps({"table": table, "conditions": detail, "args": vars(a) | {
            "json": str(a.json), "keep": str(a.keep)}}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
