"""Shared pieces of the hostile realtime tests (imported explicitly; no conftest): a real server on
fake engines in a subprocess on a loopback port, its log and memory, raw WebSocket helpers, and
the timings the tests compare (``/health`` and another session's text turn)."""

from __future__ import annotations

import json
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from tests.conftest import ROOT

BAD_LOG_LINE = re.compile(r"Traceback|^ERROR|Exception in ASGI", re.MULTILINE)


@dataclass
class RealtimeServer:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    api_key: str | None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def headers(self) -> dict[bytes, bytes]:
        """For httpx: the key's UTF-8 bytes."""
        return {b"Authorization": f"Bearer {self.api_key}".encode()} if self.api_key else {}

    def ws_headers(self) -> dict[str, str]:
        """For websockets, which sends header strings as latin-1: the same bytes."""
        return {"Authorization": f"Bearer {self.api_key}".encode().decode("latin-1")} if self.api_key else {}

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def connect(self, path: str = "", **kwargs: Any) -> ClientConnection:
        kwargs.setdefault("additional_headers", self.ws_headers())
        kwargs.setdefault("max_size", None)
        ws = ws_connect(self.ws_url + path, open_timeout=10, **kwargs)
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        return ws

    def active_sessions(self) -> int:
        return int(httpx.get(f"{self.http}/health", headers=self.headers(), timeout=10).json()["active_sessions"])

    def wait_idle(self, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while self.active_sessions():
            assert time.monotonic() < deadline, "sessions did not end"
            time.sleep(0.1)

    def assert_clean_log(self) -> None:
        text = self.log_text()
        assert not BAD_LOG_LINE.search(text), text[-4000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def realtime_server(tmp: Path, limits: dict[str, Any] | None = None, fakes: dict[str, Any] | None = None,
                    api_key: str | None = None) -> Iterator[RealtimeServer]:
    """The real app under uvicorn (as ``voicecli serve`` runs it) on fake engines."""
    port = free_port()
    log = tmp / f"rt-server-{port}.log"
    spec = {"port": port, "api_key": api_key, "limits": limits or {}, "fakes": fakes or {}}
    proc = subprocess.Popen([sys.executable, "-m", "tests.hostile.realtime_server", json.dumps(spec)], cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = RealtimeServer(port, proc, log, api_key)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, server.log_text()
            try:
                if httpx.get(f"{server.http}/health", headers=server.headers(), timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, server.log_text()
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- what the tests time ---------------------------------------------------------------------------
def user_text(text: str) -> str:
    return json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})


def until(ws: ClientConnection, kind: str, timeout_s: float = 30) -> list[dict[str, Any]]:
    """Events up to and including the first of type ``kind``."""
    out = []
    deadline = time.monotonic() + timeout_s
    while True:
        event = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        out.append(event)
        if event["type"] == kind:
            return out


def text_turn_s(ws: ClientConnection) -> float:
    """One text turn on an open text-only session: item, response.create → response.done."""
    t0 = time.monotonic()
    ws.send(user_text("What is two plus two?"))
    ws.send(json.dumps({"type": "response.create"}))
    done = until(ws, "response.done")[-1]
    assert done["response"]["status"] == "completed", done
    return time.monotonic() - t0


def text_session(server: RealtimeServer) -> ClientConnection:
    ws = server.connect()
    ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}))
    until(ws, "session.updated")
    return ws


def health_s(server: RealtimeServer, client: httpx.Client) -> float:
    t0 = time.monotonic()
    r = client.get(f"{server.http}/health", headers=server.headers(), timeout=60)
    assert r.status_code == 200, r.text
    return time.monotonic() - t0


@dataclass(frozen=True)
class Timings:
    health_s: list[float]
    turn_s: list[float]

    @property
    def health_median_s(self) -> float:
        return statistics.median(self.health_s)

    @property
    def turn_median_s(self) -> float:
        return statistics.median(self.turn_s)

    def __str__(self) -> str:
        return (f"/health median {self.health_median_s * 1000:.1f} ms max {max(self.health_s) * 1000:.1f} ms; "
                f"turn median {self.turn_median_s * 1000:.0f} ms max {max(self.turn_s) * 1000:.0f} ms")


def measure(server: RealtimeServer, ws: ClientConnection, duration_s: float) -> Timings:
    """/health probes and text turns on ``ws``, alternating, for ``duration_s``."""
    healths: list[float] = []
    turns: list[float] = []
    deadline = time.monotonic() + duration_s
    with httpx.Client() as client:
        while time.monotonic() < deadline or len(turns) < 3:
            for _ in range(5):
                healths.append(health_s(server, client))
                time.sleep(0.02)
            turns.append(text_turn_s(ws))
    return Timings(healths, turns)
