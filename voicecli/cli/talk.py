"""``voicecli talk``: the live conversation (its screen and keys: :mod:`voicecli.cli.talk_screen`)."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from voicecli.cli.common import (
    AllowDownloadOpt,
    EchoCancelOpt,
    EndSilenceOpt,
    HistoryPathOpt,
    LanguageOpt,
    LlmMaxTokensOpt,
    LlmModelOpt,
    LlmUrlOpt,
    ModelOpt,
    SttUrlOpt,
    SystemOpt,
    TtsUrlOpt,
    VadThresholdOpt,
    VerboseOpt,
    VoiceOpt,
    err_console,
    handle_errors,
    settings_from,
)
from voicecli.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("talk")(talk)


def talk(
    input: Annotated[Path | None, typer.Option(
        "--input", "-i", metavar="FILE",
        help="Play this recording into the pipeline in real time instead of using a microphone.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write what the assistant says to this WAV (true timeline) instead of a speaker.")] = None,
    input_device: Annotated[str | None, typer.Option(
        "--input-device", metavar="DEVICE", help="Microphone by index or name (see `voicecli devices`).")] = None,
    output_device: Annotated[str | None, typer.Option(
        "--output-device", metavar="DEVICE", help="Speaker by index or name.")] = None,
    system: SystemOpt = None,
    ptt: Annotated[bool, typer.Option(
        "--ptt", help="Push-to-talk: space starts listening, space again sends.")] = False,
    text: Annotated[bool, typer.Option("--text", help="Type instead of speaking; replies are still spoken.")] = False,
    plain: Annotated[bool, typer.Option("--plain", help="Readable lines instead of the live screen.")] = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="One JSON object per line (see README for the schema).")] = False,
    history: HistoryPathOpt = None,
    no_history: Annotated[bool, typer.Option("--no-history", help="Do not save the conversation.")] = False,
    model: ModelOpt = None,
    language: LanguageOpt = None,
    llm_model: LlmModelOpt = None,
    llm_url: LlmUrlOpt = None,
    stt_url: SttUrlOpt = None,
    tts_url: TtsUrlOpt = None,
    llm_max_tokens: LlmMaxTokensOpt = None,
    voice: VoiceOpt = None,
    speed: Annotated[float | None, typer.Option(
        "--speed", metavar="FACTOR", help="Speaking speed (1.0 = normal).")] = None,
    vad_threshold: VadThresholdOpt = None,
    end_silence_ms: EndSilenceOpt = None,
    min_speech_ms: Annotated[int | None, typer.Option("--min-speech-ms", help="Shorter sounds are ignored.")] = None,
    echo_cancel: EchoCancelOpt = None,
    simulate_echo: Annotated[float, typer.Option(
        "--simulate-echo", hidden=True, help="Test aid: mix this much of the output back into --input.")] = 0.0,
    wake_word: Annotated[str | None, typer.Option(
        "--wake-word", metavar="NAME",
        help="Stay asleep until this wake word: hey_jarvis, alexa, hey_mycroft, hey_rhasspy (openWakeWord, "
             "non-commercial licence), a .onnx wake model, or phrase:\"WORDS\".")] = None,
    wake_phrase: Annotated[str | None, typer.Option(
        "--wake-phrase", metavar="WORDS",
        help="Stay asleep until these words are heard (matched on the transcript; no model needed).")] = None,
    allow_download: AllowDownloadOpt = None,
    tools: Annotated[bool | None, typer.Option(
        "--tools/--no-tools", help="Let the assistant use tools: built-ins, MCP servers (`voicecli tools`).")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Talk with the assistant: microphone → VAD → Whisper → llama.cpp → Piper, with barge-in."""
    with handle_errors(verbose):
        if wake_word and wake_phrase:
            raise ConfigError("--wake-word and --wake-phrase both given", "use one of them")
        if wake_phrase is not None:
            wake_word = f"phrase:{wake_phrase}"
        resolved = settings_from({
            "wake.word": wake_word,
            "stt.model": model, "stt.language": language, "llm.model": llm_model, "llm.url": llm_url,
            "stt.url": stt_url, "tts.url": tts_url,
            "llm.max_reply_tokens": llm_max_tokens,
            "llm.system_prompt": system, "tts.voice": voice, "tts.speed": speed, "vad.threshold": vad_threshold,
            "vad.end_silence_ms": end_silence_ms, "vad.min_speech_ms": min_speech_ms,
            "audio.input_device": input_device, "audio.output_device": output_device,
            "audio.echo_cancel": echo_cancel, "models.allow_download": allow_download, "tools.use": tools,
            "history.enabled": False if no_history else None, "history.path": str(history) if history else None})
        if resolved.settings.wake.word and (ptt or text):
            raise ConfigError("a wake word needs hands-free speech", "drop --ptt/--text or the wake word")
        lines = plain or (text and not _typing_on_screen())
        code = run_talk(resolved.settings, input, output, ptt=ptt, text_mode=text,
                        mode="json" if json_out else "plain" if lines else "tui", simulate_echo=simulate_echo)
        raise typer.Exit(code)


def run_talk(settings: Any, input_file: Path | None, output_file: Path | None, *, ptt: bool, text_mode: bool,
             mode: str, simulate_echo: float = 0.0) -> int:
    from voicecli.audio.decode import decode_audio
    from voicecli.audio.devices import resolve_device
    from voicecli.audio.io import FileSource, MicrophoneSource, SimulatedEcho, SpeakerOutput, WavOutput
    from voicecli.config import data_dir
    from voicecli.engines import Engines
    from voicecli.pipeline.events import SessionStarted
    from voicecli.pipeline.history import HistoryStore
    from voicecli.pipeline.options import conversation_options, wake_options
    from voicecli.pipeline.session import build_conversation, load_echo_canceller
    from voicecli.tui.printers import JsonPrinter, PlainPrinter

    # Cheap checks first: a bad device or file fails before any model loads.
    samples = decode_audio(input_file) if input_file is not None else None
    in_idx = resolve_device(settings.audio.input_device, "input") if samples is None and not text_mode else None
    out_idx = resolve_device(settings.audio.output_device, "output") if output_file is None else None
    wake = wake_options(settings) if not (ptt or text_mode) else None
    detector = None
    if wake is not None and wake.model is not None:
        from voicecli.vad.wake import OpenWakeWordDetector

        detector = OpenWakeWordDetector(wake.model)

    from voicecli.cli.talk_screen import load_quittable, run_live
    from voicecli.cli.talk_tools import TalkTools
    from voicecli.stt.jobs import check_language

    talk_tools = TalkTools.start(settings.tools) if settings.tools.use else None  # a bad tool_choice fails here
    spinner = "loading models… (q quits)" if mode == "tui" and sys.stderr.isatty() else None
    try:
        engines = load_quittable(lambda: Engines.load(settings), spinner)
        check_language(settings.stt.language, engines.transcriber)  # tiny.en with --language de: refused
    except BaseException:
        if talk_tools is not None:
            talk_tools.close()
        raise

    store = None
    session_id = None
    models = {"stt": engines.transcriber.name, "llm": engines.chat.name, "tts": engines.speaker.name}
    if settings.history.enabled:
        store = HistoryStore(settings.history.path or data_dir() / "history.sqlite3")
        session_id = store.new_session(models)

    def source(player: Any) -> Any:
        if text_mode:
            return _TextSource(reads_stdin=mode != "tui")
        if samples is not None:
            return FileSource(samples, echo=SimulatedEcho(player, gain=simulate_echo) if simulate_echo > 0 else None)
        return MicrophoneSource(in_idx)

    def out_dev(player: Any) -> Any:
        return WavOutput(player, output_file) if output_file is not None else SpeakerOutput(player, out_idx)

    def no_aec(why: str) -> None:
        err_console.print(f"note: echo cancellation unavailable ({why}); use headphones")

    aec = load_echo_canceller(no_aec) if settings.audio.echo_cancel and not text_mode else None

    options = dataclasses.replace(conversation_options(settings, push_to_talk=ptt), wake=wake)
    emitters: list[Any] = []
    on_turn = (lambda rec: store.add_turn(session_id, rec)) if store is not None and session_id else None
    view = None
    if mode == "json":
        emitters.append(JsonPrinter())
    elif mode == "plain":
        emitters.append(PlainPrinter())
    else:
        from voicecli.tui.text_input import LineEditor
        from voicecli.tui.view import TalkView

        view = TalkView(ptt_open=False if ptt else None, input=LineEditor() if text_mode else None)
        if ptt:
            view.keys_help = "space: talk/send  m: mute  ↑↓: scroll  q: quit"
        elif text_mode:
            view.keys_help = "Enter: send  ↑↓ PgUp PgDn: scroll  Ctrl-D: quit"
        emitters.append(view.apply)

    def emit(ev: Any) -> None:
        for e in emitters:
            e(ev)

    convo = build_conversation(engines, source=source, output=out_dev, emit=emit, options=options,
                               echo_canceller=aec, on_turn=on_turn, wake_detector=detector,
                               tools=talk_tools.runner if talk_tools is not None else None)
    if isinstance(convo.source, _TextSource):
        convo.source.conversation = convo
    emit(SessionStarted(session_id, models))
    if talk_tools is not None:
        talk_tools.attach(convo, emit)
    watchdog = 3.0 if isinstance(convo.source, MicrophoneSource) else None

    def on_key(ch: str) -> None:
        if view is not None and view.input is not None:  # --text on the live screen: keys are typing
            if ch == "\x04" and not view.input.text:  # Ctrl-D on an empty line
                convo.stop()
            elif line := view.input.feed(ch):
                convo.interrupt("typed")
                convo.submit_text(line)
        elif ch in ("q", "Q"):
            convo.stop()
        elif ch == " " and ptt:
            if view is not None:
                view.ptt_open = not view.ptt_open
            convo.push_to_talk()
        elif ch == " ":
            convo.interrupt("key")
        elif ch in ("m", "M"):
            convo.toggle_mute()
        elif ch in ("\r", "\n", "i", "I") and not ptt:
            convo.interrupt("key")

    quiet_c_stderr = _silence_native_stderr() if (in_idx is not None or out_idx is not None) else None
    try:
        if view is not None:
            run_live(convo, view, on_key, watchdog)
        else:
            from voicecli.tui.keys import KeyReader

            with (KeyReader(on_key) if not text_mode and sys.stdin.isatty() else _nullcontext()):
                asyncio.run(convo.run(watchdog))
    finally:
        if quiet_c_stderr is not None:
            quiet_c_stderr()
        if store is not None:
            store.close()
        if talk_tools is not None:
            talk_tools.close()
    return 0


def _silence_native_stderr() -> Any:
    """PortAudio/ALSA print C-level diagnostics straight to fd 2 when a device fails (dozens of
    "Expression ... failed" lines). Send fd 2 to /dev/null for the session and keep Python's
    own stderr (our one-line errors, tracebacks with --verbose) on the real terminal."""
    import os

    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        return None
    original = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=getattr(original, "encoding", None) or "utf-8")
    err_console.file = sys.stderr

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr = original
        err_console.file = original

    return restore


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _TextSource:
    """--text: typed lines become turns; no microphone. A line typed at a terminal interrupts the
    reply being spoken; piped lines are a script, each sent once the previous reply has finished.
    On the live screen the screen reads the keys (``reads_stdin=False``)."""

    conversation: Any = None

    def __init__(self, reads_stdin: bool = True) -> None:
        self.reads_stdin = reads_stdin
        self._stop = threading.Event()

    def start(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any]) -> None:
        if self.reads_stdin:
            threading.Thread(target=self._read, args=(loop, queue), daemon=True).start()

    def _read(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any]) -> None:
        import time

        from voicecli.audio.io import END_OF_INPUT, post

        typed = sys.stdin.isatty()
        for line in sys.stdin:
            if self._stop.is_set():
                break
            if not line.strip():
                continue
            if typed:
                self.conversation.interrupt("typed")
                self.conversation.submit_text(line)
                continue
            self.conversation.submit_text(line)
            time.sleep(0.2)
            while self.conversation._reply is not None:  # wait for the spoken reply
                time.sleep(0.05)
        post(loop, queue.put_nowait, END_OF_INPUT)

    def stop(self) -> None:
        self._stop.set()


def _typing_on_screen() -> bool:
    """``--text`` at a terminal: type on the live screen (piped input stays a plain script)."""
    return sys.stdin.isatty() and sys.stdout.isatty()

