"""Shared CLI plumbing: the consoles, the option aliases every command reuses, config resolution
from flags, and error → exit-code mapping.

Each option that more than one command takes is declared here once, as a typer ``Annotated``
alias (``model: ModelOpt = None``); a command only adds the options that are its own."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from voicecli.errors import VoicecliError

if TYPE_CHECKING:
    from voicecli.config import ResolvedSettings


err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)

EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""
EXIT_BROKEN_PIPE = 141
"""Exit code when the reader of our output went away (128 + SIGPIPE), as shells report it."""

# ---------------------------------------------------------------- options shared by several commands

VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
HistoryPathOpt = Annotated[Path | None, typer.Option(
    "--history", metavar="PATH", help="SQLite file for the conversation history.")]
AllowDownloadOpt = Annotated[bool | None, typer.Option("--allow-download",
                                                       help="Allow model downloads from the Hugging Face hub.")]

# speech to text
ModelOpt = Annotated[str | None, typer.Option(
    "--model", "-m", metavar="NAME",
    help="Whisper model: a name from `voicecli models`, a CTranslate2 directory, or a hub id.")]
LanguageOpt = Annotated[str | None, typer.Option(
    "--language", "-l", metavar="CODE",
    help="Spoken language code (en, de, …); omit to detect it (multilingual models).")]
DeviceOpt = Annotated[str | None, typer.Option("--device", metavar="DEVICE", help="auto, cpu or cuda.")]
ComputeTypeOpt = Annotated[str | None, typer.Option(
    "--compute-type", metavar="TYPE",
    help="CTranslate2 compute type: int8, float32, float16, int8_float16, default.")]
BeamSizeOpt = Annotated[int | None, typer.Option("--beam-size", metavar="N", help="Beam size (1 = greedy, fastest).")]
SttUrlOpt = Annotated[str | None, typer.Option(
    "--stt-url", metavar="URL", help="Transcribe on an OpenAI-compatible server (…/v1); no local Whisper.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", metavar="N", help="CPU threads (0 = all cores).")]

# the reply (LLM) and the voice (TTS)
LlmModelOpt = Annotated[str | None, typer.Option(
    "--llm-model", metavar="NAME", help="GGUF model (name or path), or the model name at --llm-url.")]
LlmUrlOpt = Annotated[str | None, typer.Option(
    "--llm-url", metavar="URL", help="Use an OpenAI-compatible server (…/v1) for replies.")]
LlmMaxTokensOpt = Annotated[int | None, typer.Option("--llm-max-tokens", metavar="N", help="Longest reply, in tokens.")]
SystemOpt = Annotated[str | None, typer.Option("--system", metavar="TEXT", help="System prompt for the assistant.")]
TtsUrlOpt = Annotated[str | None, typer.Option(
    "--tts-url", metavar="URL", help="Speak through an OpenAI-compatible server (…/v1); no local voice.")]
VoiceOpt = Annotated[str | None, typer.Option("--voice", metavar="NAME", help="Piper voice (name or .onnx path).")]

# turn taking and audio
VadThresholdOpt = Annotated[float | None, typer.Option(
    "--vad-threshold", metavar="PROB", help="Speech probability threshold (0-1).")]
EndSilenceOpt = Annotated[int | None, typer.Option(
    "--end-silence-ms", metavar="MS", help="Silence that ends the user's turn.")]
EchoCancelOpt = Annotated[bool | None, typer.Option(
    "--echo-cancel/--no-echo-cancel", help="Cancel the assistant's voice from the microphone.")]


# ---------------------------------------------------------------- config and errors

def settings_from(cli: Mapping[str, Any]) -> ResolvedSettings:
    """Resolve the settings once, with the flags (dotted keys; None = not given) on top."""
    from voicecli.config import resolve  # pydantic: imported when a command runs, not for --help

    return resolve(cli)


def print_error(message: str) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def handle_errors(verbose: bool) -> Iterator[None]:
    """Turn project errors (and Ctrl-C) into one line and an exit code; tracebacks only with -v."""
    try:
        yield
    except typer.Exit:
        raise
    except VoicecliError as exc:
        if verbose:
            err_console.print_exception()
        print_error(exc.one_line())
        raise typer.Exit(exc.exit_code) from exc
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:  # the reader went away (`voicecli config | head`): stop quietly, as other tools do
        import os
        import sys

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except Exception as exc:  # noqa: BLE001 - the CLI's top-level boundary: any bug still ends in one line
        if caused_by_interrupt(exc):  # Ctrl-C inside a native module's import: "ImportError: initialization failed"
            err_console.print("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        if verbose:
            err_console.print_exception()
        else:
            print_error(f"unexpected {type(exc).__name__}: {exc} (run again with --verbose for details)")
        raise typer.Exit(1) from exc


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether a Ctrl-C is behind ``exc``: pybind11 modules (onnxruntime, ctranslate2) turn a
    KeyboardInterrupt during their import into ``ImportError: initialization failed``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
