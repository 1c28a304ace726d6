"""End of turn on recorded turns: does the turn detector cut anyone off, and how soon does it
end a finished turn? Offline, frame by frame, with the models talk uses (Silero VAD → the
endpointer → at each checkpoint the speculative transcript of the pause (tiny.en, as talk
transcribes it) and Smart Turn, answered at once), so the decisions are exactly talk's and the
timing is the silence waited, not compute.

Turns: complete questions (espeak-ng, several voices, and real speech from eval/speech) and
turns with mid-sentence pauses of 500–900 ms (lists, "um…", a sentence broken in two; espeak-ng
phrases joined with silence) plus the JFK clip, whose pauses are up to ~1 s long.

    python benchmarks/turn_detector.py                       # silence vs smart_turn (model only, + words)
    python benchmarks/turn_detector.py --check-ms 200,600 --max-silence-ms 1000,1500 --threshold 0.3,0.5
    python benchmarks/turn_detector.py --json out.json

A false cut-off: a turn ended at a pause inside one of the paused turns. A late end: a complete
question the detector judged unfinished (it then waited for the fallback silence).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecli.audio.decode import decode_audio  # noqa: E402
from voicecli.audio.format import FRAME_MS, FRAME_SAMPLES, PIPELINE_RATE_HZ  # noqa: E402
from voicecli.bench.rig import QUESTIONS, espeak_wav  # noqa: E402
from voicecli.config import Settings  # noqa: E402
from voicecli.engines import load_transcriber, resolver  # noqa: E402
from voicecli.stt.options import transcribe_options  # noqa: E402
from voicecli.vad.endpointer import (  # noqa: E402
    Endpointer,
    EndpointerParams,
    PauseCheckpointReached,
    SpeechStarted,
    UtteranceEnded,
)
from voicecli.vad.silero import SileroVad  # noqa: E402
from voicecli.vad.smart_turn import SmartTurnModel, bundled_model_path  # noqa: E402
from voicecli.vad.turn import SemanticTurnParams  # noqa: E402

COMPLETE = QUESTIONS
REAL_COMPLETE = ["en_timit_LDC93S1.wav", "en_goforward.wav", "en_librivox_austen_0880.wav", "en_cards_001.wav"]
# (voice, SSML): one turn with pauses inside, spoken in one go (espeak-ng's <break>), so the
# words before a pause carry the intonation of an unfinished sentence.
PAUSED = [
    ("en-us+m3", "I'd like to book a table <break time='700ms'/> for two people tomorrow night."),
    ("en-gb+f3", "My favourite colours are red, <break time='600ms'/> green, <break time='800ms'/> and blue."),
    ("en-gb-scotland", "Um, <break time='900ms'/> what time is it in Tokyo?"),
    ("en-029+m1", "Can you remind me to <break time='750ms'/> call my mother tomorrow?"),
    ("en-us+f4", "I need eggs, milk, <break time='650ms'/> bread, <break time='850ms'/> and some butter."),
    ("en-gb-x-rp+m7", "So the thing is, <break time='900ms'/> uh, <break time='700ms'/> my laptop will not turn on."),
    ("en-us+m1", "What is the weather like in <break time='600ms'/> Paris today?"),
    ("en-gb+m2", "Tell me about <break time='800ms'/> um, <break time='600ms'/> the history of Rome."),
    ("en-us+f2", "If it rains tomorrow, <break time='700ms'/> should I take the bus?"),
    ("en-gb-x-rp+f1", "The first thing I need is <break time='800ms'/> a new pair of shoes."),
]
REAL_PAUSED = ["en_jfk_inaugural.wav"]


@dataclass
class Clip:
    name: str
    kind: str
    """"complete" (one finished turn, no long pause) or "paused" (one turn with pauses)."""
    audio: np.ndarray


@dataclass
class Outcome:
    clip: str
    kind: str
    turns: int
    """Turns the detector made of the clip (1 is right)."""
    end_silence_ms: list[float] = field(default_factory=list)
    """For each turn: silence waited after its last voiced frame before it ended."""
    checks: list[str] = field(default_factory=list)
    """At each checkpoint: Smart Turn's probability and the transcript's verdict."""


def _espeak(voice: str, text: str, work: Path, name: str, ssml: bool = False) -> np.ndarray:
    audio = decode_audio(espeak_wav(work, name, voice, text, words_per_minute=165, ssml=ssml))
    loud = np.flatnonzero(np.abs(audio) > 0.003)
    return audio[loud[0]: loud[-1] + 1] if loud.size else audio


def make_clips(work: Path, eval_dir: Path) -> list[Clip]:
    lead = np.zeros(int(0.3 * PIPELINE_RATE_HZ), np.float32)
    clips = []
    for i, (voice, text) in enumerate(COMPLETE):
        clips.append(Clip(text, "complete", np.concatenate([lead, _espeak(voice, text, work, f"c{i}")])))
    for name in REAL_COMPLETE:
        clips.append(Clip("real:" + name, "complete", decode_audio(eval_dir / name)))
    for i, (voice, ssml) in enumerate(PAUSED):
        text = re.sub(r"\s*<break[^>]*>\s*", " … ", ssml)
        clips.append(Clip(text, "paused", np.concatenate([lead, _espeak(voice, ssml, work, f"p{i}", ssml=True)])))
    for name in REAL_PAUSED:
        clips.append(Clip("real:" + name, "paused", decode_audio(eval_dir / name)))
    return clips


def simulate(clip: Clip, probs: list[float], endpointer: EndpointerParams, semantic: SemanticTurnParams | None,
             model: SmartTurnModel | None, cache: dict[tuple[str, int], float],
             transcripts: dict[tuple[str, int, int], str], transcribe: Callable[[np.ndarray], str]) -> Outcome:
    """The clip through the endpointer (+ the detector at each checkpoint), then 3 s of silence."""
    params = semantic.endpointer(endpointer) if semantic is not None and model is not None else endpointer
    ep = Endpointer(params)
    tail = int(3000 / FRAME_MS)
    out = Outcome(clip.name, clip.kind, 0)
    start = 0
    for i, p in enumerate(probs + [0.0] * tail):
        events = ep.step(p)
        while events:
            ev = events.pop(0)
            if isinstance(ev, SpeechStarted):
                start = ev.frame
            if isinstance(ev, PauseCheckpointReached) and semantic is not None and model is not None:
                key = (clip.name, ev.frame - start)
                if key not in cache:
                    audio = clip.audio[start * FRAME_SAMPLES:(ev.frame + 1) * FRAME_SAMPLES]
                    cache[key] = model.probability(audio)
                tkey = (clip.name, start, ev.last_voiced_frame)
                if tkey not in transcripts:
                    transcripts[tkey] = transcribe(clip.audio[start * FRAME_SAMPLES:(ev.last_voiced_frame + 1) * FRAME_SAMPLES])
                silence_ms = (ev.frame - ev.last_voiced_frame) * FRAME_MS
                words = semantic.verdict_from_words(transcripts[tkey], silence_ms)
                out.checks.append(f"{cache[key]:.2f}{'' if words is None else ' words:' + ('end' if words else 'wait')}"
                                  f" {transcripts[tkey]!r}")
                if semantic.complete(cache[key], transcripts[tkey], silence_ms):
                    events += ep.end_turn(ev.last_voiced_frame)
            if isinstance(ev, UtteranceEnded):
                out.turns += 1
                out.end_silence_ms.append((ev.end_frame - ev.last_voiced_frame) * FRAME_MS)
        del i
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-ms", default="200,600", help="the checkpoint silences, comma-separated")
    ap.add_argument("--threshold", default="0.5", help="probabilities of 'complete' to try, comma-separated")
    ap.add_argument("--max-silence-ms", default="1500", help="fallback silences to try, comma-separated")
    ap.add_argument("--words-end-ms", default="800,0",
                    help="silences after which words that do not trail off end the turn (0: never), comma-separated")
    ap.add_argument("--silence-ms", type=int, default=400, help="the silence-only endpointer's end silence")
    ap.add_argument("--eval-dir", type=Path, default=ROOT / "eval" / "speech")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    settings = Settings()
    vad = SileroVad(resolver(settings).resolve("vad", None).path)
    path = bundled_model_path()
    if path is None:
        print("Smart Turn is not installed (pip install --no-deps pipecat-ai)", file=sys.stderr)
        return 2
    model = SmartTurnModel(path)
    model.warm_up()
    with tempfile.TemporaryDirectory(prefix="voicecli-turns-") as tmp:
        clips = make_clips(Path(tmp), a.eval_dir)
    probs = {c.name: vad.probabilities(c.audio) for c in clips}
    base = EndpointerParams(end_silence_ms=a.silence_ms, frame_ms=FRAME_MS)
    configs: list[tuple[str, SemanticTurnParams | None]] = [(f"silence {a.silence_ms} ms", None)]
    checks = tuple(int(x) for x in a.check_ms.split(","))
    for thr in (float(x) for x in a.threshold.split(",")):
        for fallback in (int(x) for x in a.max_silence_ms.split(",")):
            configs.append((f"smart_turn at {checks} ms, p≥{thr}, fallback {fallback} ms, model only",
                            SemanticTurnParams(checks, thr, fallback, use_transcript=False)))
            for end in (int(x) for x in a.words_end_ms.split(",")):
                configs.append((f"smart_turn at {checks} ms, p≥{thr}, fallback {fallback} ms, + words"
                                f"{f' (end after {end} ms)' if end else ''}",
                                SemanticTurnParams(checks, thr, fallback, words_end_ms=end or None)))
    cache: dict[tuple[str, int], float] = {}
    transcripts: dict[tuple[str, int, int], str] = {}
    transcriber = load_transcriber(settings)
    stt_options = transcribe_options(settings, purpose="conversation", language="en")

    def transcribe(audio: np.ndarray) -> str:
        return transcriber.transcribe(audio, stt_options).text

    t0 = time.perf_counter()
    report = []
    for label, semantic in configs:
        outcomes = [simulate(c, probs[c.name], base, semantic, model, cache, transcripts, transcribe) for c in clips]
        complete = [o for o in outcomes if o.kind == "complete"]
        paused = [o for o in outcomes if o.kind == "paused"]
        cut = [o.clip for o in paused if o.turns > 1]
        waits = [o.end_silence_ms[-1] for o in complete if o.end_silence_ms]
        late = [o.clip for o in complete if o.end_silence_ms and semantic is not None
                and o.end_silence_ms[-1] > semantic.checks_ms[0] + 2 * FRAME_MS]
        row = {"config": label, "paused_turns_cut": len(cut), "paused_turns": len(paused), "cut": cut,
               "complete_ended_late": len(late), "complete": len(complete), "late": late,
               "complete_end_silence_ms_p50": float(np.median(waits)) if waits else None,
               "complete_end_silence_ms_max": max(waits) if waits else None,
               "outcomes": [asdict(o) for o in outcomes]}
        report.append(row)
        print(f"{label:55} | paused turns cut off {len(cut)}/{len(paused)} | complete turns ended late "
              f"{len(late)}/{len(complete)} | silence waited p50 {row['complete_end_silence_ms_p50']} "
              f"max {row['complete_end_silence_ms_max']} ms")
    for o in report[-1]["outcomes"]:
        print(f"  {o['kind']:8} turns {o['turns']} ended after {o['end_silence_ms']} | {o['clip'][:60]}")
        for c in o["checks"]:
            print(f"      {c}")
    print(f"({len(cache)} Smart Turn calls, {time.perf_counter() - t0:.1f} s)")
    if a.json:
        a.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
