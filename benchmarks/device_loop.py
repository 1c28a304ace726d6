"""Device-loop benchmark: voice-to-voice latency of `voicecli talk` as a user hears it.

A private PulseAudio server gives talk a virtual microphone and loudspeaker (its defaults).
Each question is played into a combine sink that feeds the microphone *and* the recorded speaker
track on one clock; the reply lands on the same track. Latency = first audible reply sample
(≥ −45 dBFS) − last audible sample of the question, read off that one recording. Each reply is
waited out before the next question. Beside it: talk's own per-turn figures (`--json`), and
`unexplained` = external − talk's voice_to_voice (the device path no stage counts).

Questions: espeak-ng sentences in several voices (not in the eval set) plus real speech clips
from eval/speech, each cut after its voice (the last frame Silero calls speech): the room tone
after the words is not the question, and above −45 dBFS it would move the question's end.

    python benchmarks/device_loop.py                       # 8 questions, one run
    python benchmarks/device_loop.py --runs 3 --json out.json
    python benchmarks/device_loop.py --busy 1              # with one core kept busy
    python benchmarks/device_loop.py --eval-set            # the 21 English eval clips: latency and
                                                           # the word error rate of what talk heard
    python benchmarks/device_loop.py --talk-arg=--end-silence-ms --talk-arg=300

A/B in one interleaved run, question by question: each ``--variant LABEL:SETTINGS`` is a talk configuration
(``VOICECLI_*=value`` words set the environment, ``@PATH`` runs talk from another checkout,
other words are talk arguments), each ``--command LABEL:PROGRAM`` any program that listens on the default input and answers on the
default output (a peer; it prints no figures of its own, so its replies are found on the
recording alone). All of them run at once, each on its own private PulseAudio server, and
every question is asked of each in turn (A B, then B A, …); the summary gives each one's
median of run p50s, its median per-question ratio to the first, and its ratio of p50s:

    python benchmarks/device_loop.py --runs 3 --variant "silence:VOICECLI_VAD_TURN_DETECTOR=silence" \
        --variant "smart_turn:VOICECLI_VAD_TURN_DETECTOR=smart_turn"
    python benchmarks/device_loop.py --runs 3 --variant "voicecli:" \
        --command "pipecat:/tmp/pipecat-venv/bin/python benchmarks/pipecat_bot.py"

The load average is recorded at the start and end of every run (other work on the machine
inflates absolute figures; ratios from one interleaved run are what to compare).

Needs pulseaudio, pulseaudio-utils, espeak-ng, sox (`make test` installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecli.audio.decode import decode_audio, write_wav  # noqa: E402
from voicecli.audio.format import FRAME_SAMPLES, pcm16_to_float  # noqa: E402
from voicecli.bench.device_loop import TurnTiming, audible_threshold, time_turn, trim_to_voice  # noqa: E402
from voicecli.bench.machine import load_average  # noqa: E402
from voicecli.bench.rig import QUESTIONS, busy_cores, espeak_wav  # noqa: E402
from voicecli.bench.talk_process import TalkProcess, TimedEvent, split_talk_words, talk_command  # noqa: E402
from voicecli.bench.virtual_audio import RECORD_RATE_HZ, PulseAudio, start_pulseaudio  # noqa: E402
from voicecli.bench.wer import whisper_english_wer  # noqa: E402
from voicecli.config import Settings  # noqa: E402
from voicecli.engines import load_vad  # noqa: E402

RATE = RECORD_RATE_HZ
SPOKEN = QUESTIONS[:6]
REAL = ["en_timit_LDC93S1.wav", "en_goforward.wav"]


@dataclass(frozen=True)
class Variant:
    """One configuration in an interleaved comparison: talk with settings, or another program."""

    label: str
    talk_args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    """A peer program instead of talk (empty: voicecli talk)."""
    checkout: str = str(ROOT)
    """The voicecli checkout talk runs from (``@PATH``: compare against another version)."""

    @staticmethod
    def talk(spec: str, extra_args: list[str]) -> Variant:
        label, _, rest = spec.partition(":")
        env, checkout, args = split_talk_words(shlex.split(rest))
        return Variant(label or "talk", (*extra_args, *args), tuple(env.items()), checkout=checkout or str(ROOT))

    @staticmethod
    def program(spec: str) -> Variant:
        label, _, rest = spec.partition(":")
        return Variant(label or "command", command=tuple(shlex.split(rest)))


@dataclass
class Turn:
    question: str
    voice: str
    external_ms: float | None
    talk_turns: int
    talk: dict[str, float | None] = field(default_factory=dict)
    unexplained_ms: float | None = None
    user_text: str = ""
    load: float | None = None
    """1-minute load average when the question was played."""
    xruns: str = ""
    """What talk reported at exit about its audio streams (underflows, overflows), per session."""
    sound_over_end: bool = False
    """Sound went on over the question's end on the recording: no latency read (see ``TurnTiming``)."""


def make_questions(work: Path, eval_dir: Path, eval_set: bool = False) -> list[tuple[str, str, np.ndarray]]:
    """The espeak-ng questions and :data:`REAL`, or (``eval_set``) every English clip of the eval set."""
    out: list[tuple[str, str, np.ndarray]] = []
    entries = [json.loads(line) for line in (eval_dir / "manifest.jsonl").read_text().splitlines() if line.strip()]
    manifest = {e["file"]: e["text"] for e in entries}
    real = [e["file"] for e in entries if e["language"] == "en"] if eval_set else REAL
    for i, (voice, text) in enumerate(() if eval_set else SPOKEN):
        wav = espeak_wav(work, f"q{i}", voice, text, words_per_minute=165, pad_s=0.2)
        out.append((text, voice, decode_audio(wav)))
    vad = load_vad(Settings())
    for name in real:
        clip = decode_audio(eval_dir / name)
        out.append((manifest[name], "real:" + name, trim_to_voice(clip, vad.probabilities(clip), FRAME_SAMPLES)))
    return out


class SpeakerTrack:
    """Reads the speaker recording while it grows (to know when a peer's reply has ended)."""

    def __init__(self, raw: Path) -> None:
        self.raw = raw

    def samples(self) -> np.ndarray:
        return pcm16_to_float(self.raw.read_bytes() if self.raw.exists() else b"")

    def wait_reply_done(self, after: int, quiet_s: float, timeout_s: float) -> bool:
        """Until audio has been heard after sample ``after`` and then ``quiet_s`` of silence
        followed it (True), or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        threshold = audible_threshold()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            x = self.samples()
            loud = np.flatnonzero(np.abs(x[after:]) >= threshold)
            if loud.size and len(x) - (after + int(loud[-1])) >= quiet_s * RATE:
                return True
        return False


def wait_for_listener(pa: PulseAudio, proc: subprocess.Popen[str], timeout_s: float) -> None:
    """Until a program records from the default input (a PulseAudio source output exists)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the program exited with {proc.returncode}")
        out = pa.run("pactl", "list", "short", "source-outputs").stdout.decode()
        if out.strip():
            return
        time.sleep(0.5)
    raise TimeoutError("the program never opened the microphone")


class Session:
    """One variant on its own private PulseAudio server (its own microphone, speaker and
    recording), so several variants can be alive at once and asked in turn, question by
    question: load drifts on a shared machine then hit every variant alike."""

    def __init__(self, variant: Variant, work: Path) -> None:
        self.variant = variant
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.pa = start_pulseaudio()
        self.raw = work / "speaker.raw"
        self.recorder = self.pa.record_speaker(self.raw)
        self.t0 = time.monotonic()
        cmd = variant.command or talk_command("--json", "--history", str(work / "history.sqlite3"),
                                              *variant.talk_args)
        self.talk = TalkProcess(cmd, {**self.pa.env, **dict(variant.env)}, variant.checkout, work / "talk.log",
                                stop_signal=signal.SIGTERM if variant.command else signal.SIGINT)
        self.track = SpeakerTrack(self.raw)
        self.starts: list[int] = []
        self.events: list[list[TimedEvent]] = []
        self.loads: list[float] = []
        self.failure: str | None = None
        """Why the program stopped answering (it died, or a reply never came)."""

    def ready(self) -> None:
        if self.variant.command:
            wait_for_listener(self.pa, self.talk.proc, 300)
            time.sleep(3.0)
        else:
            self.talk.expect(lambda e: e.data.get("state") == "listening", 180)
            self.talk.settle(1.0, 10)

    def ask(self, samples: np.ndarray) -> None:
        """Play one question and wait until its reply has ended (a program that failed is
        asked nothing more; its remaining questions count as unanswered)."""
        if self.failure is not None:
            return
        try:
            self._ask(samples)
        except (RuntimeError, TimeoutError) as exc:
            self.failure = str(exc)[-500:]
            print(f"{self.variant.label}: {self.failure}", file=sys.stderr)
            while len(self.events) < len(self.starts):
                self.events.append([])

    def _ask(self, samples: np.ndarray) -> None:
        i = len(self.starts)
        wav = self.work / f"play{i}.wav"
        write_wav(wav, samples, RATE)
        self.loads.append(os.getloadavg()[0])
        self.starts.append(int((time.monotonic() - self.t0) * RATE))
        self.pa.play_as_user(wav).wait(timeout=60)
        if self.variant.command:
            self.track.wait_reply_done(self.starts[-1] + len(samples), quiet_s=1.5, timeout_s=60)
            self.events.append([])
            return
        seen = self.talk.expect(lambda e: e.type == "turn", 120)
        seen += self.talk.settle(1.5, 120)
        self.events.append(seen)

    def close(self) -> np.ndarray:
        """Stop the program and the server; the speaker recording."""
        try:
            self.talk.stop()
            time.sleep(0.3)
            self.recorder.terminate()
            self.recorder.wait(timeout=5)
        finally:
            self.pa.stop()
        return pcm16_to_float(self.raw.read_bytes())

    def turns(self, questions: list[tuple[str, str, np.ndarray]], recording: np.ndarray,
              keep: Path | None) -> list[Turn]:
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            write_wav(keep / "speaker.wav", recording, RATE)
            events = [[e.data for e in seen] for seen in self.events]
            (keep / "events.json").write_text(json.dumps({"starts": self.starts, "events": events}, indent=1))
            (keep / "talk.log").write_text((self.work / "talk.log").read_text(errors="replace"))
        log = (self.work / "talk.log").read_text(errors="replace")
        xruns = "; ".join(ln.strip() for ln in log.splitlines() if "underflows" in ln or "overflows" in ln)
        out: list[Turn] = []
        for i, (text, voice, samples) in enumerate(questions[: len(self.starts)]):
            nxt = self.starts[i + 1] if i + 1 < len(self.starts) else None
            try:
                timing = time_turn(recording, samples, self.starts[i], RATE, reply_before=nxt)
            except ValueError:  # the program died before the question was over
                timing = TurnTiming(0.0, None)
            done = [e.data for e in self.events[i] if e.type == "turn"]
            latency = done[0].get("latency_ms") if done else None
            talk_lat: dict[str, float | None] = dict(latency) if isinstance(latency, dict) else {}
            v2v = talk_lat.get("voice_to_voice")
            ext = timing.latency_ms
            n_turns = len(done) if not self.variant.command else -1
            out.append(Turn(text, voice, None if ext is None else round(ext, 1), n_turns, talk_lat,
                            None if ext is None or v2v is None else round(ext - v2v, 1),
                            " | ".join(str(e.get("user", "")) for e in done), round(self.loads[i], 2), xruns,
                            timing.sound_over_end))
        return out


def run_round(questions: list[tuple[str, str, np.ndarray]], variants: list[Variant], work: Path,
              keep: Path | None, round_no: int) -> list[tuple[Variant, list[Turn]]]:
    """Every variant alive at once; each question asked of each variant in turn (the order
    alternates from question to question: A B, B A, …)."""
    sessions = [Session(v, work / f"{v.label}-{round_no}") for v in variants]
    try:
        for s in sessions:
            try:
                s.ready()
            except (RuntimeError, TimeoutError) as exc:
                s.failure = f"did not start: {exc}"[-500:]
                print(f"{s.variant.label}: {s.failure}", file=sys.stderr)
        for i, (_, _, samples) in enumerate(questions):
            order = sessions if i % 2 == 0 else list(reversed(sessions))
            for s in order:
                s.ask(samples)
    finally:
        recordings = [s.close() for s in sessions]
    for s in sessions:
        if s.failure:
            failures.setdefault(s.variant.label, []).append(f"run {round_no}: {s.failure}")
    return [(s.variant, s.turns(questions, rec, keep and keep / f"{s.variant.label}-run{round_no}"))
            for s, rec in zip(sessions, recordings, strict=True)]


failures: dict[str, list[str]] = {}
"""Per variant: runs in which the program stopped answering, and why."""


def summarize(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    if not v:
        return {}
    return {"n": len(v), "p50": round(statistics.median(v), 1),
            "p95": round(v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))], 1), "max": round(v[-1], 1)}


def word_error_rate(turns: list[Turn]) -> dict[str, float] | None:
    """What talk heard against the clips' transcripts, with Whisper's English normaliser (jiwer
    and whisper-normalizer, the ``dev`` extra; None without them or without talk's transcripts)."""
    pairs = [(t.question, t.user_text.replace(" | ", " ")) for t in turns if t.talk_turns != -1]
    if not pairs:
        return None
    try:
        w = whisper_english_wer([r for r, _ in pairs], [h for _, h in pairs])
    except ImportError:
        return None
    return {"wer": round(100.0 * w.wer, 2), "errors": w.errors, "reference_words": w.reference_words}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1, help="sessions per variant (report the median of their p50s)")
    ap.add_argument("--questions", type=int, default=None, help="questions per run (default: all)")
    ap.add_argument("--busy", type=int, default=0, help="cores to keep busy with a spin loop meanwhile")
    ap.add_argument("--talk-arg", action="append", default=[], help="extra argument for voicecli talk (every variant)")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL:SETTINGS",
                    help="a talk configuration to compare: VOICECLI_*=value words and talk arguments")
    ap.add_argument("--command", action="append", default=[], metavar="LABEL:PROGRAM",
                    help="a program using the default devices instead of talk (a peer)")
    ap.add_argument("--eval-dir", type=Path, default=ROOT / "eval" / "speech")
    ap.add_argument("--eval-set", action="store_true",
                    help="ask every English clip of the eval set instead, and report the word error rate of "
                         "what talk heard (Whisper's English normaliser)")
    ap.add_argument("--json", type=Path, help="write every turn and the summary here")
    ap.add_argument("--keep", type=Path, help="keep the recordings and talk's events in this folder")
    a = ap.parse_args(argv)
    variants = [Variant.talk(v, a.talk_arg) for v in a.variant] + [Variant.program(c) for c in a.command]
    if not variants:
        variants = [Variant("talk", tuple(a.talk_arg))]
    runs: list[tuple[Variant, int, list[Turn], list[float] | None, list[float] | None]] = []
    with busy_cores(a.busy), tempfile.TemporaryDirectory(prefix="voicecli-devloop-") as tmp:
        work = Path(tmp)
        questions = make_questions(work, a.eval_dir, a.eval_set)[: a.questions]
        for r in range(1, a.runs + 1):
            load_before = load_average()
            for v, turns in run_round(questions, variants, work, a.keep, r):
                runs.append((v, r, turns, load_before, load_average()))
    rows = []
    for v, r, turns, load_before, load_after in runs:
        print(f"--- {v.label} run {r} (load {load_before} → {load_after})")
        for t in turns:
            lat = t.talk
            print(f"{t.voice:22} | external {t.external_ms!s:>7} ms | talk v2v {lat.get('voice_to_voice')!s:>6}"
                  f" | unexplained {t.unexplained_ms!s:>6} | turns {t.talk_turns} | heard: {t.user_text[:50]}"
                  + (" | SOUND OVER THE QUESTION'S END: not measured" if t.sound_over_end else ""))
            rows.append({"variant": v.label, "run": r, "load_before": load_before, "load_after": load_after,
                         **asdict(t)})
    summary: dict[str, object] = {"busy_cores": a.busy, "cpu_count": os.cpu_count(), "variants": {}}
    first_p50: float | None = None
    first_by_q = {(r, i): t.external_ms for vv, r, turns, _, _ in runs if vv == variants[0]
                  for i, t in enumerate(turns)}
    for v in variants:
        mine = [(turns, lb, la) for vv, _, turns, lb, la in runs if vv == v]
        per_run = [summarize([t.external_ms for t in turns if t.external_ms is not None]) for turns, _, _ in mine]
        every = [t.external_ms for turns, _, _ in mine for t in turns if t.external_ms is not None]
        p50s = [p["p50"] for p in per_run if p]
        median_p50 = statistics.median(p50s) if p50s else None
        if first_p50 is None:
            first_p50 = median_p50
        paired = [t.external_ms / first for vv, r, turns, _, _ in runs if vv == v for i, t in enumerate(turns)
                  if t.external_ms and (first := first_by_q.get((r, i)))]
        summary["variants"][v.label] = {  # type: ignore[index]
            "per_run": per_run, "all": summarize(every), "median_of_run_p50": median_p50,
            "ratio_to_first": round(median_p50 / first_p50, 3) if median_p50 and first_p50 else None,
            "median_paired_ratio_to_first": round(statistics.median(paired), 3) if paired else None,
            "xruns": sorted({t.xruns for turns, _, _ in mine for t in turns if t.xruns}),
            "failures": failures.get(v.label, []),
            "question_load_p50": statistics.median([t.load for turns, _, _ in mine for t in turns if t.load is not None]
                                                   or [0.0]),
            "questions_not_one_turn": sum(1 for turns, _, _ in mine for t in turns if t.talk_turns not in (1, -1)),
            "no_reply": sum(1 for turns, _, _ in mine for t in turns if t.external_ms is None and not t.sound_over_end),
            "sound_over_question_end": sum(1 for turns, _, _ in mine for t in turns if t.sound_over_end),
            "heard_wer": word_error_rate([t for turns, _, _ in mine for t in turns]),
            "load": [[lb, la] for _, lb, la in mine], "talk_args": list(v.talk_args), "env": dict(v.env),
            "command": list(v.command)}
    if len(variants) == 1:  # the single-configuration keys, as before
        only = summary["variants"][variants[0].label]  # type: ignore[index]
        summary.update({k: only[k] for k in ("per_run", "all", "median_of_run_p50", "questions_not_one_turn",
                                             "no_reply", "sound_over_question_end")})
        summary["talk_args"] = a.talk_arg
    print(json.dumps(summary, indent=1))
    if a.json:
        a.json.write_text(json.dumps({"turns": rows, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
