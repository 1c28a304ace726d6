"""``voicecli serve``: the OpenAI-compatible HTTP API and realtime WebSocket (and, with
``--wyoming``, the Wyoming protocol) on one event loop, with the models loaded once."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from voicecli.cli.common import (
    AllowDownloadOpt,
    LanguageOpt,
    LlmMaxTokensOpt,
    LlmModelOpt,
    LlmUrlOpt,
    ModelOpt,
    SttUrlOpt,
    TtsUrlOpt,
    VoiceOpt,
    err_console,
    handle_errors,
    settings_from,
)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="HTTP/WebSocket port.")] = 8000,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="VOICECLI_API_KEY", show_envvar=False, metavar="KEY",
        help="Require 'Authorization: Bearer KEY' on every route. Other users see command lines (ps): prefer "
        "VOICECLI_API_KEY or --api-key-file.")] = None,
    api_key_file: Annotated[Path | None, typer.Option(
        "--api-key-file", metavar="PATH", help="Read the API key from this file (its first line; UTF-8).")] = None,
    allow_origin: Annotated[list[str] | None, typer.Option(
        "--allow-origin", metavar="ORIGIN", help="Also accept browser requests and WebSockets from this origin, e.g. "
        "https://app.example (repeatable; '*': any web page, no check).")] = None,
    allow_host: Annotated[list[str] | None, typer.Option(
        "--allow-host", metavar="NAME", help="Also accept this name in the Host header besides IP addresses and "
        "localhost (repeatable; '*': any, no DNS-rebinding check).")] = None,
    max_sessions: Annotated[int, typer.Option("--max-sessions", min=1, help="Concurrent realtime sessions.")] = 8,
    llm_url: LlmUrlOpt = None,
    stt_url: SttUrlOpt = None,
    tts_url: TtsUrlOpt = None,
    llm_model: LlmModelOpt = None,
    llm_max_tokens: LlmMaxTokensOpt = None,
    model: ModelOpt = None,
    language: LanguageOpt = None,
    voice: VoiceOpt = None,
    wyoming: Annotated[str | None, typer.Option(
        "--wyoming", help="Also serve Wyoming (Home Assistant) at this URI, e.g. tcp://0.0.0.0:10300.")] = None,
    no_http: Annotated[bool, typer.Option("--no-http", help="Serve only Wyoming (needs --wyoming).")] = False,
    zeroconf: Annotated[bool, typer.Option(
        "--zeroconf",
        help="Announce the Wyoming server to Home Assistant on the LAN (needs the zeroconf package).")] = False,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", min=0.001, help="Largest request body.")] = 25.0,
    max_audio_s: Annotated[float, typer.Option(
        "--max-audio-s", min=1.0, help="Longest audio accepted for transcription.")] = 600.0,
    idle_timeout_s: Annotated[float, typer.Option(
        "--idle-timeout-s", min=1.0, help="Close realtime sessions idle this long.")] = 300.0,
    tls_cert: Annotated[Path | None, typer.Option(
        "--tls-cert", metavar="PATH", help="Serve HTTPS/WSS with this PEM certificate (chain); needs --tls-key.",
    )] = None,
    tls_key: Annotated[Path | None, typer.Option(
        "--tls-key", metavar="PATH", help="The certificate's PEM key.")] = None,
    tls_self_signed: Annotated[bool, typer.Option(
        "--tls-self-signed", help="Serve HTTPS/WSS with a self-signed certificate for this machine, made once in "
        "the data dir (its path and fingerprint are printed).")] = False,
    allow_download: AllowDownloadOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks and access logs.")] = False,
) -> None:
    """Serve the OpenAI-compatible API: /v1/audio/transcriptions, /v1/audio/speech,
    /v1/chat/completions, /v1/models, the realtime WebSocket /v1/realtime, /health, /metrics.

    --model, --language, --voice and --llm-max-tokens are the defaults; a request may ask for others."""
    from voicecli.errors import ConfigError
    from voicecli.server.config import Limits, ServerConfig, check_bind, is_loopback

    with handle_errors(verbose):
        source = ctx.get_parameter_source("api_key")  # typer vendors click: compare the enum by name
        api_key = resolve_api_key(api_key, api_key_file, from_command_line=getattr(source, "name", "") == "COMMANDLINE")
        if no_http and not wyoming:
            raise ConfigError("--no-http leaves nothing to serve", "add --wyoming tcp://HOST:PORT")
        tls = _tls(tls_cert, tls_key, tls_self_signed, host) if not no_http else None
        if not no_http:
            check_bind(host, api_key)
            _check_port_free(host, port)
        if zeroconf and not wyoming:
            raise ConfigError("--zeroconf announces the Wyoming server", "add --wyoming tcp://0.0.0.0:10300")
        if wyoming:
            module = _wyoming_module()  # fail before loading models if Wyoming is unavailable
            if zeroconf:
                module.check_zeroconf(wyoming)
        resolved = settings_from({"stt.model": model, "stt.language": language, "llm.url": llm_url,
                                  "stt.url": stt_url, "tts.url": tts_url,
                                  "llm.model": llm_model, "llm.max_reply_tokens": llm_max_tokens,
                                  "tts.voice": voice, "models.allow_download": allow_download})
        limits = Limits(max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_audio_s=max_audio_s,
                        max_sessions=max_sessions, idle_timeout_s=idle_timeout_s)
        config = ServerConfig(host=host, port=port, api_key=api_key, limits=limits,
                              allow_origins=tuple(allow_origin or ()), allow_hosts=tuple(allow_host or ()))
        logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        with err_console.status("loading models…") if err_console.is_terminal else _nothing():
            from voicecli.engines import Engines

            engines = Engines.load(resolved.settings)
        if not no_http:
            scheme_host = f"[{host}]" if ":" in host else host
            note = "" if is_loopback(host) else " (API key required)"
            http, ws = ("https", "wss") if tls else ("http", "ws")
            err_console.print(f"voicecli serve: {http}://{scheme_host}:{port}/v1 and {ws}://{scheme_host}:{port}/v1/realtime"
                              f"{note} — stt {engines.transcriber.name}, llm {engines.chat.name}, "
                              f"tts {engines.speaker.name}", highlight=False)
            page_host = "localhost" if host in ("127.0.0.1", "::1", "0.0.0.0", "::") else scheme_host
            err_console.print(f"voicecli serve: the voice page is at {http}://{page_host}:{port}/", highlight=False)
        if wyoming:
            err_console.print(f"voicecli serve: Wyoming at {wyoming}", highlight=False)
        asyncio.run(_run(engines, config, wyoming, no_http, verbose, zeroconf, tls))


def _tls(cert: Path | None, key: Path | None, self_signed: bool, host: str) -> Any:
    """The TLS files to serve with (None: plain HTTP); a self-signed certificate is made (or
    reused) now and its path and fingerprint printed for clients to trust."""
    from voicecli.config import data_dir
    from voicecli.errors import ConfigError
    from voicecli.server import tls

    if self_signed:
        if cert or key:
            raise ConfigError("--tls-self-signed and --tls-cert/--tls-key were both given", "choose one")
        files, made = tls.self_signed(data_dir() / "tls", tls.host_names(host))
        err_console.print(f"voicecli serve: {'made a' if made else 'using the'} self-signed TLS certificate "
                          f"{files.cert} (SHA-256 {tls.fingerprint(files.cert)}); trust it in clients, e.g. "
                          f"NODE_EXTRA_CA_CERTS={files.cert} or SSL_CERT_FILE={files.cert}",
                          highlight=False, soft_wrap=True, emoji=False, markup=False)  # ":AB:" is no emoji
        return files
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("TLS needs both --tls-cert and --tls-key", "give both, or --tls-self-signed")
    return tls.checked(cert, key)


def resolve_api_key(api_key: str | None, key_file: Path | None, *, from_command_line: bool) -> str | None:
    """The API key from --api-key, VOICECLI_API_KEY or --api-key-file (None: no key). Warns (one
    line) when it was typed on the command line, where every local user can read it."""
    from voicecli.errors import ConfigError

    if key_file is not None:
        if api_key:
            raise ConfigError("both an API key and --api-key-file were given", "give the key once")
        try:
            lines = key_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read --api-key-file {key_file}: {exc}",
                              "check the path and its encoding") from exc
        api_key = lines[0].strip() if lines else ""
        if not api_key:
            raise ConfigError(f"--api-key-file {key_file} is empty", "write the key on its first line")
        if key_file.stat().st_mode & 0o077:
            print_warning(f"{key_file} can be read by other users; chmod 600 {key_file}")
    elif api_key and from_command_line:
        print_warning("--api-key is visible to every user of this machine (ps); "
                      "use --api-key-file PATH or VOICECLI_API_KEY")
    if api_key and any(ch.isspace() or not ch.isprintable() for ch in api_key):
        raise ConfigError("the API key contains spaces or control characters", "use printable characters only")
    return api_key or None


def print_warning(message: str) -> None:
    err_console.print(f"warning: {escape(message)}", highlight=False, soft_wrap=True)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _wyoming_module() -> Any:
    from voicecli.errors import ConfigError

    try:
        from voicecli.server import wyoming as module
    except ImportError as exc:
        raise ConfigError(f"Wyoming support is not available: {exc}",
                          "install the serve extra: pip install 'voicecli[serve]'") from exc
    return module


def _check_port_free(host: str, port: int) -> None:
    from voicecli.errors import ConfigError

    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}",
                              "pick another --port or stop the program using it") from exc


async def _run(engines: Any, config: Any, wyoming: str | None, no_http: bool, verbose: bool,
               zeroconf: bool = False, tls: Any = None) -> None:
    wyoming_task: asyncio.Task[Any] | None = None
    if wyoming:
        serve_wyoming = _wyoming_module().serve_wyoming
        wyoming_task = asyncio.create_task(serve_wyoming(wyoming, engines, zeroconf=zeroconf), name="wyoming")
    if no_http:
        assert wyoming_task is not None
        await wyoming_task
        return
    import uvicorn

    from voicecli.server.app import create_app

    app = create_app(engines, config)
    uv = uvicorn.Config(app, host=config.host, port=config.port, log_level="info" if verbose else "warning",
                        access_log=verbose, ws_max_size=config.limits.max_ws_message_bytes + 1024 * 1024,
                        ws_ping_interval=20.0, ws_ping_timeout=20.0, timeout_graceful_shutdown=3,
                        lifespan="on", server_header=False,
                        ssl_certfile=tls and str(tls.cert), ssl_keyfile=tls and str(tls.key))
    server = uvicorn.Server(uv)
    try:
        if wyoming_task is None:
            await server.serve()
        else:
            http_task = asyncio.create_task(server.serve(), name="http")
            done, _ = await asyncio.wait({http_task, wyoming_task}, return_when=asyncio.FIRST_COMPLETED)
            if wyoming_task in done and not http_task.done():
                server.should_exit = True
                await http_task
            for t in done:
                t.result()  # surface a failure of either server
    finally:
        if wyoming_task is not None and not wyoming_task.done():
            wyoming_task.cancel()
            await asyncio.gather(wyoming_task, return_exceptions=True)
