"""Plan → load only the engines the selected stages need → run the stages → one report."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from voicecli.bench.e2e import E2eResult
from voicecli.bench.stages import LlmResult, SttResult, TtsResult, VadResult
from voicecli.config import Settings
from voicecli.errors import ConfigError, VoicecliError

ALL_STAGES: tuple[str, ...] = ("vad", "stt", "llm", "tts", "e2e")
SCHEMA_VERSION = 1
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
E2E_QUESTIONS = ("question.wav", "en_goforward.wav", "en_timit_LDC93S1.wav", "en_librivox_austen_0930.wav",
                 "question2.wav", "en_cards_005.wav", "en_librivox_austen_0880.wav", "en_ljspeech_LJ001-0002.wav")
"""Default end-to-end questions (examples/ first, then the eval set); the first is the warm-up."""


@dataclass(frozen=True)
class BenchPlan:
    """What to measure and how often. ``None`` means the mode's default (quick or full)."""

    stages: tuple[str, ...] = ALL_STAGES
    quick: bool = False
    repeats: int | None = None
    """Timed passes for STT (over every clip), LLM and TTS."""
    turns: int | None = None
    """Measured end-to-end turns (after ``warmup_turns``)."""
    warmup_turns: int = 1
    eval_dir: Path | None = None
    questions: tuple[Path, ...] = ()
    """End-to-end questions; empty = examples/question*.wav and short eval clips."""
    playback_speed: float = 8.0
    """How much faster than real time the virtual output device plays replies (1 = real time)."""

    @property
    def stt_repeats(self) -> int:
        return self.repeats or (1 if self.quick else 3)

    @property
    def llm_repeats(self) -> int:
        return self.repeats or (2 if self.quick else 5)

    @property
    def tts_repeats(self) -> int:
        return self.repeats or (2 if self.quick else 5)

    @property
    def llm_speed_runs(self) -> int:
        return 1 if self.quick else 3

    @property
    def llm_speed_tokens(self) -> int:
        return 32 if self.quick else 128

    @property
    def vad_frames(self) -> int:
        return 500 if self.quick else 3000

    @property
    def e2e_turns(self) -> int:
        return self.turns or (3 if self.quick else 20)

    def as_json(self) -> dict[str, Any]:
        return {"stages": list(self.stages), "quick": self.quick, "stt_repeats": self.stt_repeats,
                "llm_repeats": self.llm_repeats, "llm_speed_runs": self.llm_speed_runs,
                "llm_speed_tokens": self.llm_speed_tokens, "tts_repeats": self.tts_repeats,
                "vad_frames": self.vad_frames, "e2e_turns": self.e2e_turns, "e2e_warmup_turns": self.warmup_turns,
                "playback_speed": self.playback_speed,
                "eval_dir": str(self.eval_dir) if self.eval_dir else None,
                "questions": [str(q) for q in self.questions]}


def parse_stages(text: str | None) -> tuple[str, ...]:
    if not text:
        return ALL_STAGES
    wanted = [s.strip().lower() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in ALL_STAGES]
    if unknown or not wanted:
        raise ConfigError(f"unknown bench stage(s): {', '.join(unknown) or '(none)'}",
                            f"choose from {','.join(ALL_STAGES)}")
    return tuple(s for s in ALL_STAGES if s in wanted)


class Reporter(Protocol):
    """Progress sink (the CLI draws it with Rich)."""

    def stage(self, name: str, total: int) -> None: ...
    def advance(self, name: str, done: int, total: int) -> None: ...
    def notice(self, message: str) -> None: ...


class SilentReporter:
    def stage(self, name: str, total: int) -> None:
        return None

    def advance(self, name: str, done: int, total: int) -> None:
        return None

    def notice(self, message: str) -> None:
        return None


@dataclass
class BenchReport:
    plan: BenchPlan
    machine: dict[str, Any]
    models: dict[str, Any]
    settings: dict[str, Any]
    load_ms: dict[str, float] = field(default_factory=dict)
    stage_wall_s: dict[str, float] = field(default_factory=dict)
    vad: VadResult | None = None
    stt: SttResult | None = None
    llm: LlmResult | None = None
    tts: TtsResult | None = None
    e2e: E2eResult | None = None
    wall_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": SCHEMA_VERSION, "mode": "quick" if self.plan.quick else "full",
                               "stages": list(self.plan.stages)}
        if self.e2e is not None:
            out["voice_to_voice_ms"] = self.e2e.voice_to_voice().as_json(1)
            out["stages_ms"] = {k: v.as_json(1) for k, v in self.e2e.stages().items()}
        for name in ("vad", "stt", "llm", "tts", "e2e"):
            result = getattr(self, name)
            if result is not None:
                out[name] = result.as_json()
        out["load_ms"] = {k: round(v, 1) for k, v in self.load_ms.items()}
        out["stage_wall_s"] = {k: round(v, 2) for k, v in self.stage_wall_s.items()}
        out["wall_s"] = round(self.wall_s, 2)
        out["plan"] = self.plan.as_json()
        out["machine"] = self.machine
        out["models"] = self.models
        out["settings"] = self.settings
        return out


def _timed(load_ms: dict[str, float], key: str, fn: Any, *args: Any) -> Any:
    t0 = time.perf_counter()
    value = fn(*args)
    load_ms[key] = (time.perf_counter() - t0) * 1000
    return value


def settings_json(settings: Settings) -> dict[str, Any]:
    data = settings.model_dump(mode="json")
    if data.get("llm", {}).get("api_key"):
        data["llm"]["api_key"] = "***"
    return data


def default_questions(eval_dir: Path | None) -> list[Path]:
    out: list[Path] = []
    for name in E2E_QUESTIONS:
        for folder in (EXAMPLES_DIR, eval_dir):
            if folder is not None and (folder / name).exists():
                out.append(folder / name)
                break
    return out


def run_bench(settings: Settings, plan: BenchPlan, reporter: Reporter | None = None) -> BenchReport:
    from voicecli import engines as eng
    from voicecli.bench import stages
    from voicecli.bench.evalset import default_eval_dir, english_speech, load_clips
    from voicecli.bench.machine import load_average, machine_facts
    from voicecli.pipeline.options import conversation_options
    from voicecli.stt.options import transcribe_options

    rep = reporter or SilentReporter()
    t_start = time.perf_counter()
    eval_dir = plan.eval_dir or default_eval_dir()
    wanted = set(plan.stages)
    options = conversation_options(settings)
    report = BenchReport(plan, machine_facts(), {}, settings_json(settings))

    # Cheap checks before any model loads.
    clips = []
    if "stt" in wanted:
        clips = english_speech(load_clips(eval_dir))
        if not clips:
            raise VoicecliError(f"no English speech clips in {eval_dir}/manifest.jsonl",
                                "WER is computed over clips with language \"en\"")
    question_paths = list(plan.questions) or default_questions(eval_dir if eval_dir.exists() else None)
    if "e2e" in wanted:
        missing = [str(q) for q in question_paths if not q.exists()]
        if missing or not question_paths:
            raise VoicecliError(f"end-to-end question not found: {', '.join(missing) or '(none)'}",
                                "pass recorded questions with --question FILE.wav")

    resolver = eng.resolver(settings)
    n_load = sum(bool(wanted & kinds) for kinds in ({"stt", "e2e"}, {"llm", "e2e"}, {"tts", "e2e"}))
    rep.stage("load", n_load)
    transcriber = chat = speaker = None
    vad_path = None
    if wanted & {"stt", "e2e"}:
        transcriber = _timed(report.load_ms, "stt", eng.load_transcriber, settings)
        rep.advance("load", len(report.load_ms), n_load)
        report.models["stt"] = {"name": transcriber.name, "backend": type(transcriber).__name__,
                                "compute_type": settings.stt.compute_type, "beam_size": settings.stt.beam_size,
                                "threads": eng.stt_threads(settings),
                                "path": str(resolver.resolve("stt", settings.stt.model).path)}
    if wanted & {"llm", "e2e"}:
        chat = _timed(report.load_ms, "llm", eng.load_chat, settings)
        rep.advance("load", len(report.load_ms), n_load)
        report.models["llm"] = {"name": chat.name, "backend": type(chat).__name__,
                                "threads": settings.llm.threads, "context_tokens": settings.llm.context_tokens,
                                "url": settings.llm.url,
                                "path": None if settings.llm.url
                                else str(resolver.resolve("llm", settings.llm.model).path)}
    if wanted & {"tts", "e2e"}:
        speaker = _timed(report.load_ms, "tts", eng.load_speaker, settings)
        rep.advance("load", len(report.load_ms), n_load)
        report.models["tts"] = {"name": speaker.name, "sample_rate_hz": speaker.sample_rate_hz,
                                "path": str(resolver.resolve("tts", settings.tts.voice).path)}
    if wanted & {"vad", "e2e"}:
        vad_path = resolver.resolve("vad", None).path
        report.models["vad"] = {"name": "silero-vad", "path": str(vad_path)}

    def ticker(name: str) -> Any:
        return lambda done, total: rep.advance(name, done, total)

    @contextlib.contextmanager
    def stage(name: str, total: int) -> Iterator[None]:
        rep.stage(name, total)
        t0 = time.perf_counter()
        yield
        report.stage_wall_s[name] = time.perf_counter() - t0
        rep.advance(name, total, total)

    if "vad" in wanted:
        from voicecli.vad.silero import SileroVad

        with stage("vad", plan.vad_frames):
            vad = _timed(report.load_ms, "vad", SileroVad, vad_path)
            report.vad = stages.bench_vad(vad, _speech_for_vad(eval_dir), plan.vad_frames, tick=ticker("vad"))
    if "stt" in wanted:
        with stage("stt", len(clips) * plan.stt_repeats):
            stt_options = transcribe_options(settings, purpose="file", language="en")
            report.stt = stages.bench_stt(transcriber, clips, stt_options, plan.stt_repeats, tick=ticker("stt"))
    if "llm" in wanted:
        with stage("llm", 1 + 2 * plan.llm_repeats + plan.llm_speed_runs):
            report.llm = stages.bench_llm(chat, settings.llm.system_prompt, plan.llm_repeats,
                                          plan.llm_speed_runs, plan.llm_speed_tokens,
                                          speed_budget_s=5.0 if plan.quick else 20.0, tick=ticker("llm"))
    if "tts" in wanted:
        with stage("tts", 3 * plan.tts_repeats):
            report.tts = stages.bench_tts(speaker, options.chunker, options.speed, plan.tts_repeats,
                                          tick=ticker("tts"))
    if "e2e" in wanted:
        from voicecli.bench.e2e import bench_e2e, load_questions

        assert vad_path is not None and transcriber is not None and chat is not None and speaker is not None
        with stage("e2e", plan.warmup_turns + plan.e2e_turns):
            engines = eng.Engines(settings, transcriber, chat, speaker, vad_path)
            engines.warm_up()
            report.e2e = bench_e2e(engines, settings, load_questions(question_paths), plan.e2e_turns,
                                   plan.warmup_turns, plan.playback_speed, tick=ticker("e2e"), notice=rep.notice)
        for miss in report.e2e.missed:
            rep.notice(f"e2e: no turn for {miss}")
        for drop in report.e2e.dropped:
            rep.notice(f"e2e: not counted: {drop}")
    report.machine["load_average_end"] = load_average()
    report.wall_s = time.perf_counter() - t_start
    return report


def _speech_for_vad(eval_dir: Path) -> Any:
    """Real speech for the VAD bench: examples/jfk.wav, else the first eval clip, else noise."""
    import numpy as np

    from voicecli.audio.decode import decode_audio
    from voicecli.bench.evalset import load_clips

    if (EXAMPLES_DIR / "jfk.wav").exists():
        return decode_audio(EXAMPLES_DIR / "jfk.wav")
    if (eval_dir / "manifest.jsonl").exists():
        clips = load_clips(eval_dir)
        if clips:
            return clips[0].samples()
    return np.random.default_rng(0).normal(0, 0.1, 16000 * 5).astype(np.float32)
