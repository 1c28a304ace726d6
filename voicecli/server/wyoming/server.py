"""Serving Wyoming: a listener on ``tcp://``, ``unix://`` or ``stdio://`` with one
:class:`WyomingHandler` per connection, optionally announced to Home Assistant by zeroconf."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import ipaddress
import logging
import socket
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from wyoming.server import AsyncServer, AsyncStdioServer

from voicecli.errors import ConfigError, VoicecliError
from voicecli.server.wyoming.catalog import WyomingEngines
from voicecli.server.wyoming.handler import WyomingHandler

if TYPE_CHECKING:
    from voicecli.engines import Engines

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = 10300


def check_zeroconf(uri: str) -> None:
    """Raise :class:`ConfigError` unless ``--zeroconf`` can work for ``uri``."""
    parsed = urlparse(uri)
    if parsed.scheme != "tcp":
        raise ConfigError("--zeroconf needs a tcp:// URI", "e.g. --wyoming tcp://0.0.0.0:10300 --zeroconf")
    host = parsed.hostname or ""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            raise ConfigError(f"--zeroconf would announce {host}, which Home Assistant cannot reach",
                              "listen on tcp://0.0.0.0:PORT or a LAN address")
    if importlib.util.find_spec("zeroconf") is None:
        raise ConfigError("--zeroconf needs the 'zeroconf' package, which is not installed",
                          "pip install zeroconf, or add the server in Home Assistant by host and port")


def _zeroconf_service(uri: str, name: str | None) -> Any:
    """A ``wyoming.zeroconf.HomeAssistantZeroconf`` for ``uri`` (call ``register_server()``)."""
    check_zeroconf(uri)
    from wyoming.zeroconf import HomeAssistantZeroconf

    parsed = urlparse(uri)
    host: str | None = parsed.hostname
    if host in (None, "", "0.0.0.0", "::"):
        host = None  # the library finds the LAN address
    else:
        host = socket.gethostbyname(host)
    return HomeAssistantZeroconf(port=parsed.port or DEFAULT_PORT, name=name or f"voicecli-{socket.gethostname()}",
                                 host=host)


def make_server(uri: str) -> AsyncServer:
    """The listener for ``uri``; a bad URI is a :class:`ConfigError`."""
    try:
        return AsyncServer.from_uri(uri)
    except ValueError as exc:
        raise ConfigError(f"bad Wyoming URI '{uri}': {exc}", "use tcp://HOST:PORT, unix:///path or stdio://") from exc


async def serve_wyoming(uri: str, engines: WyomingEngines | Engines, *, zeroconf: bool = False,
                        zeroconf_name: str | None = None, stop: asyncio.Event | None = None,
                        on_ready: Callable[[str], None] | None = None) -> None:
    """Serve Wyoming on ``uri`` (``tcp://HOST:PORT``, ``unix://PATH``, ``stdio://``) until ``stop``
    is set or the task is cancelled. ``engines``: a :class:`WyomingEngines`, or anything with
    ``settings``, ``transcriber`` and ``speaker`` (:class:`voicecli.engines.Engines`).
    ``zeroconf`` announces the server to Home Assistant (needs the ``zeroconf`` package)."""
    server = make_server(uri)
    announcer = _zeroconf_service(uri, zeroconf_name) if zeroconf else None
    if not isinstance(engines, WyomingEngines):
        engines = await asyncio.to_thread(WyomingEngines.from_engines, engines)
    info_event = engines.info().event()
    factory = partial(WyomingHandler, engines, info_event)
    if isinstance(server, AsyncStdioServer):
        await server.run(factory)
        return
    try:
        await server.start(factory)
    except OSError as exc:
        raise VoicecliError(f"cannot listen on {uri}: {exc.strerror or exc}",
                            "pick another port, or stop the program using it") from exc
    try:
        if announcer is not None:
            await announcer.register_server()
        _LOGGER.info("Wyoming server on %s (stt: %s; tts: %s)", uri,
                     ", ".join(s.card.name for s in engines.stt) or "none",
                     ", ".join(s.card.name for s in engines.tts) or "none")
        if on_ready is not None:
            on_ready(uri)
        await (stop.wait() if stop is not None else asyncio.get_running_loop().create_future())
    finally:
        await server.stop()
