"""One remote OpenAI-compatible endpoint for an engine tier (``--stt-url``, ``--tts-url``): a
POST with a deadline on the whole exchange (not only on each read), a bound on the body it
accepts, and every failure — refused, slow, HTTP error, oversized — as one
:class:`~voicecli.errors.RemoteEngineError` line naming the server and the flag to check."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from voicecli.errors import RemoteEngineError

CONNECT_TIMEOUT_S = 5.0
"""Connecting takes milliseconds on a LAN; a server that does not accept in this long is down."""


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


def error_detail(body: bytes) -> str:
    """What an error body says: OpenAI's ``{"error": {"message": …}}`` (FastAPI's ``detail``), or its text."""
    try:
        data = json.loads(body)
    except ValueError:
        return _one_line(body.decode("utf-8", "replace"))
    if isinstance(data, dict):
        err = data.get("error", data.get("detail"))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err is not None:
            return _one_line(str(err))
    return _one_line(str(data))


class RemoteEndpoint:
    """``what`` ("STT server") and ``flag`` ("--stt-url") name the tier in error messages.
    Thread-safe (one pooled httpx client)."""

    def __init__(self, base_url: str, what: str, flag: str, api_key: str | None = None,
                 timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.what = what
        self.flag = flag
        self.timeout_s = timeout_s
        self.host = urlsplit(self.base_url).netloc or self.base_url
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers,
                                    timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)))

    def _error(self, message: str, hint: str | None = None) -> RemoteEngineError:
        return RemoteEngineError(f"{self.what} at {self.base_url} {message}",
                                 hint or f"check that it is running and that {self.flag} ends in /v1")

    def post(self, path: str, *, max_bytes: int, **request: Any) -> tuple[bytes, str]:
        """POST and return (body, content type) of a 2xx answer; ``request``: httpx's ``json``,
        ``data``, ``files``."""
        deadline = time.monotonic() + self.timeout_s
        body = bytearray()
        try:
            with self._client.stream("POST", path, **request) as r:
                for part in r.iter_bytes():
                    body += part
                    if len(body) > max_bytes:
                        raise self._error(f"sent more than {max_bytes // 1_000_000} MB for {path}",
                                          f"is {self.flag} an OpenAI-compatible server?")
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("deadline")
                status, content_type = r.status_code, r.headers.get("content-type", "")
        except httpx.TimeoutException:
            setting = f"{self.flag[2:5]}.url_timeout_s"  # --stt-url → stt.url_timeout_s
            raise self._error(f"did not answer within {self.timeout_s:g} s",
                              f"is it overloaded? to wait longer, set {setting}") from None
        except httpx.ConnectError as exc:
            raise self._error(f"cannot be reached ({_one_line(str(exc), 80) or 'connection refused'})") from None
        except httpx.HTTPError as exc:
            raise self._error(f"failed: {type(exc).__name__}: {_one_line(str(exc), 120)}") from None
        if status >= 400:
            raise self._error(f"answered HTTP {status}: {error_detail(bytes(body))}",
                              f"check {self.flag} and the server's log" if status >= 500 else None)
        return bytes(body), content_type

    def check(self) -> None:
        """Fail now, with one line, if nothing OpenAI-like answers at the URL (``GET /models``)."""
        try:
            r = self._client.get("/models", timeout=min(CONNECT_TIMEOUT_S, self.timeout_s))
        except httpx.HTTPError as exc:
            raise self._error(f"cannot be reached ({type(exc).__name__})") from None
        if r.status_code in (401, 403):
            raise self._error(f"refused the API key (HTTP {r.status_code})",
                              "set stt.api_key / tts.api_key (VOICECLI_STT_API_KEY, VOICECLI_TTS_API_KEY)")
        if r.status_code >= 400:
            raise self._error(f"answered HTTP {r.status_code} for /models")
