"""``python -m voicecli.server.wyoming``: the Wyoming server on its own (argparse, like the
wyoming-* servers Home Assistant users run), until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from voicecli.errors import VoicecliError
from voicecli.server.wyoming.catalog import WyomingEngines
from voicecli.server.wyoming.server import check_zeroconf, make_server, serve_wyoming


async def _serve_until_signal(uri: str, engines: WyomingEngines, zeroconf: bool, zeroconf_name: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await serve_wyoming(uri, engines, zeroconf=zeroconf, zeroconf_name=zeroconf_name, stop=stop,
                        on_ready=lambda u: print(f"voicecli Wyoming server ready on {u}", file=sys.stderr, flush=True))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m voicecli.server.wyoming",
                                     description="Serve voicecli speech-to-text and text-to-speech over the "
                                                 "Wyoming protocol (Home Assistant).")
    parser.add_argument("--uri", default="tcp://127.0.0.1:10300",
                        help="tcp://HOST:PORT (0.0.0.0 for the LAN), unix:///path or stdio:// (default: %(default)s)")
    parser.add_argument("--model", help="default Whisper model (default: stt.model from the config)")
    parser.add_argument("--voice", help="default Piper voice (default: tts.voice from the config)")
    parser.add_argument("--zeroconf", nargs="?", const="", default=None, metavar="NAME",
                        help="announce the server to Home Assistant by mDNS (needs the zeroconf package)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, resolve the config, load the default models, serve; errors are one line and an exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from voicecli.config import resolve

    engines: WyomingEngines | None = None
    try:
        make_server(args.uri)
        if args.zeroconf is not None:
            check_zeroconf(args.uri)
        settings = resolve({"stt.model": args.model, "tts.voice": args.voice}).settings
        engines = WyomingEngines.from_settings(settings)
        asyncio.run(_serve_until_signal(args.uri, engines, args.zeroconf is not None, args.zeroconf or None))
    except VoicecliError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        if engines is not None:
            engines.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
