"""One real ``voicecli serve`` for the hostile suite: keyless on loopback (the setting the attacks
target: any web page, any local user), with Wyoming on a second loopback port, started once.
Its memory is read from /proc (peak resident size reset before each attack), and its log is
checked for tracebacks when the suite ends."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.serve.conftest import Server, free_port, server_env, start_server, stop_server

ALLOWED_ORIGIN = "http://localhost:5555"
"""Configured with --allow-origin: a page the operator trusts."""


@dataclass
class HostileServer:
    server: Server
    wyoming_port: int

    @property
    def pid(self) -> int:
        return self.server.proc.pid

    def rss_mb(self) -> float:
        return _status_kb(self.pid, "VmRSS") / 1024

    def peak_mb(self) -> float:
        return _status_kb(self.pid, "VmHWM") / 1024

    def reset_peak(self) -> None:
        """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def server_errors(self) -> list[str]:
        """Metrics lines of responses with status 5xx."""
        text = httpx.get(f"{self.server.http}/metrics", timeout=30).text
        return [line for line in text.splitlines() if re.search(r'status="5\d\d"', line)]


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


@pytest.fixture(scope="session")
def hostile(tmp_path_factory) -> HostileServer:
    tmp = tmp_path_factory.mktemp("hostile")
    wyoming_port = free_port()
    server = start_server(tmp, "--max-sessions", "4", "--allow-origin", ALLOWED_ORIGIN,
                          "--wyoming", f"tcp://127.0.0.1:{wyoming_port}", env=server_env(tmp))
    started = HostileServer(server, wyoming_port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the Wyoming listener starts with the HTTP one
        try:
            with socket.create_connection(("127.0.0.1", wyoming_port), timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    yield started
    stop_server(server)
    log = server.log_text()
    assert "Traceback" not in log, log[-4000:]
    assert "ERROR" not in log, log[-4000:]  # e.g. uvicorn's "returned without completing handshake"
