"""``voicecli transcribe FILE…``: parse options, run a :class:`TranscribeJob`, render results.

Exit codes: 0 every input was transcribed; 1 at least one input failed (each failure is one
``error: FILE: problem`` line on stderr; the other inputs still complete) or the model could
not be loaded; 2 bad usage or configuration."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from voicecli.cli.common import (
    AllowDownloadOpt,
    BeamSizeOpt,
    ComputeTypeOpt,
    DeviceOpt,
    LanguageOpt,
    ModelOpt,
    SttUrlOpt,
    ThreadsOpt,
    VerboseOpt,
    err_console,
    handle_errors,
    print_error,
    settings_from,
)
from voicecli.errors import ConfigError, VoicecliError

MAX_AUDIO_S = 4 * 3600.0
"""Default --max-audio-s: voicecli.audio.decode.DEFAULT_MAX_AUDIO_S (not imported here: PyAV is slow to import)."""

PROGRESS_MIN_AUDIO_S = 5.0
"""Inputs shorter than this finish too fast for a progress bar to help."""


class OutputFormat(str, Enum):
    txt = "txt"
    srt = "srt"
    vtt = "vtt"
    json = "json"
    tsv = "tsv"
    all = "all"


def register(app: typer.Typer) -> None:
    app.command("transcribe")(transcribe)


def transcribe(
    files: Annotated[list[str], typer.Argument(
        metavar="FILE", help="Audio or video files (anything ffmpeg decodes: wav, flac, mp3, ogg/opus, webm, m4a, "
        "mp4). '-' reads standard input.")],
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f", help="Output format; 'all' writes every format (needs --output-dir).")] = OutputFormat.txt,
    output_dir: Annotated[Path | None, typer.Option(
        "--output-dir", "-o", help="Write <stem>.<format> here for each input instead of printing to stdout.")] = None,
    language: LanguageOpt = None,
    model: ModelOpt = None,
    stt_url: SttUrlOpt = None,
    device: DeviceOpt = None,
    compute_type: ComputeTypeOpt = None,
    beam_size: BeamSizeOpt = None,
    threads: ThreadsOpt = None,
    vad_filter: Annotated[bool | None, typer.Option(
        "--vad-filter/--no-vad-filter", show_default=False,
        help="Cut the audio into speech chunks with Silero VAD and transcribe only those. Default: on for "
        "inputs longer than 30 s (Whisper invents words in long silences), off for shorter ones.")] = None,
    word_timestamps: Annotated[bool, typer.Option(
        "--word-timestamps", help="Word-level timings (in json output).")] = False,
    batched: Annotated[bool, typer.Option(
        "--batched", help="Decode the speech chunks in batches (implies --vad-filter): faster for long files, "
        "most so on GPU.")] = False,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", min=1, help="Chunks decoded together with --batched.")] = 8,
    max_audio_s: Annotated[float, typer.Option(
        "--max-audio-s", min=1.0, help="Longest input accepted; decoding stops there (4 h: ~1 GB of samples).")
    ] = MAX_AUDIO_S,
    allow_download: AllowDownloadOpt = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bar or status lines (errors still print).")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Transcribe audio files offline to txt, srt, vtt, json or tsv."""
    from voicecli.stt.formats import FORMATS
    from voicecli.stt.jobs import TranscribeJob
    from voicecli.stt.options import transcribe_options

    with handle_errors(verbose):
        settings = settings_from({
            "stt.model": model, "stt.url": stt_url, "stt.language": language, "stt.device": device,
            "stt.compute_type": compute_type, "stt.beam_size": beam_size, "stt.threads": threads,
            "models.allow_download": allow_download}).settings
        formats = FORMATS if fmt is OutputFormat.all else (fmt.value,)
        if fmt is OutputFormat.all and output_dir is None:
            raise ConfigError("--format all writes one file per format", "add --output-dir DIR")
        if output_dir is not None:
            try:
                output_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise VoicecliError(f"cannot create output dir {output_dir}: {exc.strerror}",
                                    "pick another --output-dir") from exc
        if batched and vad_filter is False:
            raise ConfigError("--batched decodes the speech chunks that VAD finds", "drop --no-vad-filter")
        options = replace(transcribe_options(settings, purpose="file"), word_timestamps=word_timestamps,
                          batched=batched, batch_size=batch_size)
        show = not quiet and err_console.is_terminal
        job = TranscribeJob(lambda: _load(settings, show), options, _RichProgress() if show else None,
                            vad_filter=True if batched else vad_filter, max_audio_s=max_audio_s)
        sink = _ResultSink(formats, output_dir, several=len(files) > 1, quiet=quiet, verbose=verbose)
        results = job.run(files, on_result=sink)
        failed = sum(1 for r in results if not r.ok) + sink.write_failures
        if failed and len(results) > 1:
            print_error(f"{failed} of {len(results)} inputs failed")
        raise typer.Exit(1 if failed else 0)


def _load(settings: Any, show_status: bool) -> Any:
    from voicecli.engines import load_transcriber

    if not show_status:
        return load_transcriber(settings)
    with err_console.status(f"loading model {escape(settings.stt.model)}…"):
        return load_transcriber(settings)


class _ResultSink:
    """Prints or writes each result as soon as it is known."""

    def __init__(self, formats: tuple[str, ...], output_dir: Path | None, several: bool, quiet: bool,
                 verbose: bool) -> None:
        self.formats = formats
        self.output_dir = output_dir
        self.several = several
        self.quiet = quiet
        self.verbose = verbose
        self._stems: set[str] = set()
        self.write_failures = 0

    def __call__(self, result: Any) -> None:
        if result.error is not None:
            self._report(result.error)
            return
        try:
            if self.output_dir is None:
                self._to_stdout(result)
            else:
                self._to_files(result)
        except OSError as exc:
            self._report(VoicecliError(f"{result.label}: cannot write output: {exc}", "check --output-dir"))
            self.write_failures += 1

    def _report(self, error: BaseException) -> None:
        if self.verbose and error.__cause__ is not None:
            from rich.traceback import Traceback

            cause = error.__cause__
            err_console.print(Traceback.from_exception(type(cause), cause, cause.__traceback__))
        text = error.one_line() if isinstance(error, VoicecliError) else str(error)
        print_error(escape(text))

    def _to_stdout(self, result: Any) -> None:
        from voicecli.stt.formats import render, to_dict

        fmt = self.formats[0]
        if self.several and fmt == "json":
            text = json.dumps({"file": result.label, **to_dict(result.transcription)}, ensure_ascii=False) + "\n"
        elif self.several:
            text = f"==> {result.label} <==\n{render(result.transcription, fmt)}\n"
        else:
            text = render(result.transcription, fmt)
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:  # `voicecli transcribe … | head`: the reader is gone; stop quietly
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None

    def _to_files(self, result: Any) -> None:
        from voicecli.stt.formats import render
        from voicecli.stt.jobs import output_stem

        assert self.output_dir is not None
        stem = base = output_stem(result.source)
        n = 1
        while stem in self._stems:  # two inputs with one stem (a/x.wav, b/x.mp3): x, x-2, …
            n += 1
            stem = f"{base}-{n}"
        self._stems.add(stem)
        written = []
        for fmt in self.formats:
            path = self.output_dir / f"{stem}.{fmt}"
            path.write_text(render(result.transcription, fmt), encoding="utf-8")
            written.append(path)
        if not self.quiet:
            t = result.transcription
            names = ", ".join(str(p) for p in written)
            err_console.print(f"{escape(result.label)} → {escape(names)} ({t.language}, "
                              f"{t.duration_s:.1f} s of audio in {result.elapsed_s:.2f} s)",
                              highlight=False, soft_wrap=True)


class _RichProgress:
    """A bar over audio seconds on stderr, for inputs longer than a few seconds."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    def started(self, label: str, duration_s: float) -> None:
        if duration_s < PROGRESS_MIN_AUDIO_S:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                  TextColumn("{task.completed:.0f}/{task.total:.0f} s of audio"),
                                  TimeRemainingColumn(), console=err_console, transient=True)
        self._task = self._progress.add_task(escape(label), total=duration_s)
        self._progress.start()

    def advanced(self, position_s: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=min(position_s, self._progress.tasks[0].total or 0))

    def finished(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
