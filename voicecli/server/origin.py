"""Cross-site protection, as plain ASGI middleware so that it covers every HTTP route and the
realtime WebSocket alike (without the routes knowing).

- **Host** (DNS rebinding): a web page on ``evil.example`` can make its name resolve to
  127.0.0.1 and then talk to this server as if it were its own origin. Every request's ``Host``
  must therefore name this server: an IP address (a rebinding attack needs a name the attacker
  controls), ``localhost`` or ``*.localhost``, the name the server listens on, or a name the
  operator allowed (``--allow-host``). A server listening on every interface without any
  ``--allow-host`` accepts any name (an API key is required there anyway).
- **Origin** (cross-site requests): browsers send ``Origin`` with every WebSocket handshake and
  every non-GET request, and any page the user visits may open ``ws://127.0.0.1:8000/v1/realtime``.
  A request with an ``Origin`` must come from this server's own page (the Origin names the host
  and port the request was sent to) or from an origin the operator allowed (``--allow-origin``).
  Clients that are not browsers send no ``Origin`` and are not affected.

``*`` in either list turns that check off. A refused request gets HTTP 403 with an OpenAI error
body; a refused WebSocket handshake gets HTTP 403."""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from voicecli.server.http_errors import error_body
from voicecli.server.limits import ASGIApp, Receive, Scope, Send, send_json

log = logging.getLogger("voicecli.server")

ANY = "*"
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


@dataclass(frozen=True)
class OriginPolicy:
    """Which ``Host`` names and browser ``Origin`` values the server answers."""

    host_names: frozenset[str]
    """Lower-case DNS names accepted besides IP addresses and localhost (``*``: any)."""
    origins: frozenset[str]
    """Normalised ``scheme://host:port`` origins accepted besides the server's own (``*``: any)."""

    @classmethod
    def for_server(cls, bind_host: str, allow_hosts: tuple[str, ...] = (),
                   allow_origins: tuple[str, ...] = ()) -> OriginPolicy:
        names = {h.strip().lower().rstrip(".") for h in allow_hosts if h.strip()}
        bind = bind_host.strip("[]").lower()
        if bind in WILDCARD_BINDS and not names:
            names.add(ANY)
        elif not _is_ip(bind):
            names.add(bind)
        if bind not in ("127.0.0.1", "::1", "localhost") and ANY not in names:
            hostname = socket.gethostname().lower()
            names.update({hostname, f"{hostname}.local"})
        origins = {ANY if o.strip() == ANY else normalise_origin(o) or o.strip().lower() for o in allow_origins}
        return cls(frozenset(names), frozenset(origins))

    def host_allowed(self, host: str | None) -> bool:
        """Whether a ``Host`` header (name[:port]) names this server; a request without one is not
        from a browser."""
        if host is None or ANY in self.host_names:
            return True
        name, _ = split_host(host)
        return (_is_ip(name) or name == "localhost" or name.endswith(".localhost")
                or name in self.host_names)

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """Whether a browser ``Origin`` may use this server: its own page, or an allowed origin."""
        if origin is None or ANY in self.origins:
            return True
        normalised = normalise_origin(origin)
        if normalised is None:
            return origin.strip().lower() in self.origins  # e.g. "null" (a sandboxed page, a file)
        if normalised in self.origins:
            return True
        if host is None:
            return False
        scheme = normalised.split("://", 1)[0]
        name, port = split_host(host)
        return normalised == f"{scheme}://{_bracketed(name)}:{port or _DEFAULT_PORTS[scheme]}"


def split_host(host: str) -> tuple[str, int | None]:
    """``"Example.COM:80"`` → ``("example.com", 80)``; ``"[::1]:8000"`` → ``("::1", 8000)``."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif host.count(":") == 1:
        name, _, port_text = host.partition(":")
    else:
        name, port_text = host, ""
    port = int(port_text) if port_text.isdigit() and len(port_text) <= 5 else None
    return name.rstrip("."), port


def normalise_origin(origin: str) -> str | None:
    """``"HTTP://LocalHost"`` → ``"http://localhost:80"``; None for what is no http(s) origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return f"{parts.scheme}://{_bracketed(parts.hostname.rstrip('.'))}:{port or _DEFAULT_PORTS[parts.scheme]}"


def _bracketed(name: str) -> str:
    return f"[{name}]" if ":" in name else name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


class OriginMiddleware:
    """403 for a request whose ``Host`` or browser ``Origin`` the :class:`OriginPolicy` refuses."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host, origin = _header(scope, b"host"), _header(scope, b"origin")
        if not self.policy.host_allowed(host):
            problem = (f"Host {str(host)[:100]!r} does not name this server", "host_not_allowed",
                       "open it by its address or as localhost, or start the server with --allow-host NAME")
        elif not self.policy.origin_allowed(origin, host):
            problem = (f"cross-origin request from {str(origin)[:100]!r} refused", "origin_not_allowed",
                       "use the server's own page, or start it with --allow-origin ORIGIN")
        else:
            await self.app(scope, receive, send)
            return
        message, code, fix = problem
        log.info("refused %s %s: %s", scope["type"], scope.get("path", "")[:100], message)
        if scope["type"] == "websocket":
            await _refuse_handshake(receive, send, message)
        else:
            body: dict[str, Any] = error_body(f"{message} ({fix})", code=code)
            await send_json(send, 403, body)


async def _refuse_handshake(receive: Receive, send: Send, reason: str) -> None:
    """Close before accepting: the server answers the handshake with HTTP 403 (a browser shows a
    page script no body either way). Unlike an HTTP response through the websocket.http.response
    extension, uvicorn does not log this as an application error, so refusals cannot fill the log."""
    if (await receive())["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
