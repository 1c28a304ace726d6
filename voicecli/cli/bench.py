"""``voicecli bench``: latency, throughput and accuracy of every stage and of the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from voicecli.cli.common import err_console, handle_errors, out_console, settings_from
from voicecli.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def bench(
    quick: bool = typer.Option(False, "--quick", help="Fewer repeats and turns (about a minute)."),
    only: str | None = typer.Option(None, "--only", help="Stages to run, comma-separated: vad,stt,llm,tts,e2e (default: all)."),
    turns: int | None = typer.Option(None, "--turns", min=1, help="Measured end-to-end turns (default 20; 3 with --quick)."),
    repeats: int | None = typer.Option(None, "--repeats", min=1, help="Timed passes for STT, LLM and TTS (default 3/5/5; 1/2/2 with --quick)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write every figure, the machine and the models to this JSON file."),
    compare: Path | None = typer.Option(None, "--compare", help="Print the changes against an older --json report."),
    plot: Path | None = typer.Option(None, "--plot", help="Draw the voice-to-voice breakdown to this PNG (needs matplotlib)."),
    eval_dir: Path | None = typer.Option(None, "--eval-dir", help="Eval clips with manifest.jsonl (default: the repository's eval/speech or $VOICECLI_EVAL_DIR)."),
    question: list[Path] | None = typer.Option(None, "--question", help="Recorded question for the end-to-end run (repeatable; the first is the warm-up)."),
    playback_speed: float = typer.Option(8.0, "--playback-speed", min=1.0, help="Play replies this much faster than real time in the end-to-end run (1 = real time); latencies are unaffected."),
    model: str | None = typer.Option(None, "--model", "-m", help="Whisper model (name or path)."),
    compute_type: str | None = typer.Option(None, "--compute-type", help="CTranslate2 compute type (int8, float32, ...)."),
    llm_model: str | None = typer.Option(None, "--llm-model", help="GGUF model (name or path)."),
    llm_url: str | None = typer.Option(None, "--llm-url", help="Benchmark an OpenAI-compatible server (…/v1) instead."),
    llm_max_tokens: int | None = typer.Option(None, "--llm-max-tokens", help="Longest reply in the end-to-end run, in tokens."),
    system: str | None = typer.Option(None, "--system", help="System prompt."),
    voice: str | None = typer.Option(None, "--voice", help="Piper voice (name or .onnx path)."),
    vad_threshold: float | None = typer.Option(None, "--vad-threshold", help="Speech probability threshold (0-1)."),
    end_silence_ms: int | None = typer.Option(None, "--end-silence-ms", help="Silence that ends a turn."),
    echo_cancel: bool | None = typer.Option(None, "--echo-cancel/--no-echo-cancel", help="Run the echo canceller in the end-to-end run (as talk does)."),
    allow_download: bool | None = typer.Option(None, "--allow-download", help="Allow model downloads from the hub."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks."),
) -> None:
    """Measure VAD, STT (latency, RTF, WER), LLM (first token, tokens/s), TTS (first audio, RTF) and
    voice-to-voice latency through the same pipeline `talk` uses."""
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
        if old is not None and compare is not None:
            deltas, warnings = rpt.compare(old, data)
            out_console.print(rpt.render_compare(deltas, warnings, str(compare)))
            data["compare"] = {"against": str(compare), "warnings": warnings,
                               "figures": {d.figure.key: d.as_json() for d in deltas}}
        if json_out is not None:
            rpt.write_json(data, json_out)
            err_console.print(f"wrote {json_out}")
        if plot is not None:
            rpt.plot_breakdown(data, plot)
            err_console.print(f"wrote {plot}")


_STAGE_LABELS = {"load": "loading models", "vad": "VAD frames", "stt": "STT clips", "llm": "LLM requests",
                 "tts": "TTS replies", "e2e": "voice-to-voice turns"}


class _RichReporter:
    """Progress bars on stderr (transient), one per stage; notices as dim lines."""


    def __enter__(self) -> _RichReporter:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=err_console, transient=False)
        self._tasks: dict[str, Any] = {}
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def stage(self, name: str, total: int) -> None:
        self._tasks[name] = self._progress.add_task(_STAGE_LABELS.get(name, name), total=total)

    def advance(self, name: str, done: int, total: int) -> None:
        if name in self._tasks:
            self._progress.update(self._tasks[name], completed=done, total=total)

    def notice(self, message: str) -> None:
        self._progress.console.print(f"[dim]note: {message}[/]")
