"""``voicecli bench``: latency, throughput and accuracy of every stage and of the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from voicecli.cli.common import (
    AllowDownloadOpt,
    ComputeTypeOpt,
    EchoCancelOpt,
    EndSilenceOpt,
    LlmMaxTokensOpt,
    LlmModelOpt,
    LlmUrlOpt,
    ModelOpt,
    SystemOpt,
    VadThresholdOpt,
    VerboseOpt,
    VoiceOpt,
    err_console,
    handle_errors,
    out_console,
    settings_from,
)
from voicecli.errors import ConfigError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def bench(
    quick: Annotated[bool, typer.Option("--quick", help="Fewer repeats and turns (about a minute).")] = False,
    only: Annotated[str | None, typer.Option(
        "--only", metavar="STAGES", help="Stages to run, comma-separated: vad,stt,llm,tts,e2e (default: all).")] = None,
    turns: Annotated[int | None, typer.Option(
        "--turns", min=1, help="Measured end-to-end turns (default 20; 3 with --quick).")] = None,
    repeats: Annotated[int | None, typer.Option(
        "--repeats", min=1, help="Timed passes for STT, LLM and TTS (default 3/5/5; 1/2/2 with --quick).")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", metavar="FILE", help="Write every figure, the machine and the models to this JSON file.")] = None,
    compare: Annotated[Path | None, typer.Option(
        "--compare", metavar="FILE", help="Print the changes against an older --json report.")] = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", metavar="FILE", help="Draw the voice-to-voice breakdown to this PNG (needs matplotlib).")] = None,
    eval_dir: Annotated[Path | None, typer.Option(
        "--eval-dir", metavar="DIR",
        help="Eval clips with manifest.jsonl (default: the repository's eval/speech or $VOICECLI_EVAL_DIR).")] = None,
    question: Annotated[list[Path] | None, typer.Option(
        "--question", metavar="FILE",
        help="Recorded question for the end-to-end run (repeatable; the first is the warm-up).")] = None,
    playback_speed: Annotated[float, typer.Option(
        "--playback-speed", min=1.0, metavar="FACTOR",
        help="Play replies this much faster than real time in the end-to-end run "
        "(1 = real time); latencies are unaffected.")] = 8.0,
    model: ModelOpt = None,
    compute_type: ComputeTypeOpt = None,
    llm_model: LlmModelOpt = None,
    llm_url: LlmUrlOpt = None,
    llm_max_tokens: LlmMaxTokensOpt = None,
    system: SystemOpt = None,
    voice: VoiceOpt = None,
    vad_threshold: VadThresholdOpt = None,
    end_silence_ms: EndSilenceOpt = None,
    echo_cancel: EchoCancelOpt = None,
    allow_download: AllowDownloadOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Measure VAD, STT (latency, RTF, WER), LLM (first token, tokens/s), TTS (first audio, RTF) and
    voice-to-voice latency through the same pipeline `talk` uses.

    The model, reply, voice and turn-taking options are talk's; they apply to the pipeline measured."""
    from voicecli.bench import report as rpt
    from voicecli.bench.runner import BenchPlan, parse_stages, run_bench

    with handle_errors(verbose):
        resolved = settings_from({
            "stt.model": model, "stt.compute_type": compute_type, "llm.model": llm_model, "llm.url": llm_url,
            "llm.max_reply_tokens": llm_max_tokens, "llm.system_prompt": system, "tts.voice": voice,
            "vad.threshold": vad_threshold, "vad.end_silence_ms": end_silence_ms,
            "audio.echo_cancel": echo_cancel, "models.allow_download": allow_download})
        plan = BenchPlan(stages=parse_stages(only), quick=quick, repeats=repeats, turns=turns,
                         eval_dir=eval_dir, questions=tuple(question or ()), playback_speed=playback_speed)
        old = rpt.read_json(compare) if compare is not None else None  # fail before measuring
        if plot is not None and "e2e" not in plan.stages:
            raise ConfigError("--plot draws the end-to-end breakdown, but e2e is not in --only", "add e2e to --only")
        with _RichReporter() as reporter:
            result = run_bench(resolved.settings, plan, reporter)
        data = result.as_json()
        out_console.print(rpt.render(data))
        if old is not None:
            deltas, warnings = rpt.compare(old, data)
            out_console.print(rpt.render_compare(deltas, warnings, str(compare)))
            data["compare"] = rpt.comparison_json(deltas, warnings, against=str(compare))
        if json_out is not None:
            rpt.write_json(data, json_out)
            err_console.print(f"wrote {json_out}")
        if plot is not None:
            rpt.plot_breakdown(data, plot)
            err_console.print(f"wrote {plot}")


_STAGE_LABELS = {"load": "loading models", "vad": "VAD frames", "stt": "STT clips", "llm": "LLM requests",
                 "tts": "TTS replies", "e2e": "voice-to-voice turns"}


class _RichReporter:
    """Progress bars on stderr, one per stage; notices as dim lines (a ``bench.runner.Reporter``)."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _RichReporter:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=err_console, transient=False)
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def stage(self, name: str, total: int) -> None:
        if self._progress is not None:
            self._tasks[name] = self._progress.add_task(_STAGE_LABELS.get(name, name), total=total)

    def advance(self, name: str, done: int, total: int) -> None:
        if self._progress is not None and name in self._tasks:
            self._progress.update(self._tasks[name], completed=done, total=total)

    def notice(self, message: str) -> None:
        (self._progress.console if self._progress is not None else err_console).print(f"[dim]note: {message}[/]")
