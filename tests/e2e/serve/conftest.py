"""A real ``voicecli serve`` subprocess on a free loopback port, started once per test session
(models load once), and the clients the tests use: the official ``openai`` SDK first."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

API_KEY = "test-key-123"


@dataclass
class Server:
    port: int
    api_key: str
    proc: subprocess.Popen
    log: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.http}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1"

    def client(self, api_key: str | None = None):
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key=api_key or self.api_key, websocket_base_url=self.ws_url,
                      max_retries=0, timeout=120)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICECLI_")}
    env.update({"VOICECLI_CONFIG": str(tmp / "none.toml"), "XDG_DATA_HOME": str(tmp / "data"),
                "HF_HUB_OFFLINE": "1", "VOICECLI_LLM_MAX_REPLY_TOKENS": "40", **extra})
    return env


def start_server(tmp: Path, *args: str, env: dict[str, str] | None = None, timeout_s: float = 180) -> Server:
    port = free_port()
    log = tmp / f"serve-{port}.log"
    cmd = [sys.executable, "-m", "voicecli.cli.main", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env or server_env(tmp), stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    key = args[args.index("--api-key") + 1] if "--api-key" in args else "x"
    server = Server(port, key, proc, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voicecli serve exited with {proc.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.http}/health", headers=server.headers(), timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(server)
    raise RuntimeError(f"voicecli serve did not become ready:\n{server.log_text()}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    tmp = tmp_path_factory.mktemp("serve")
    s = start_server(tmp, "--api-key", API_KEY, "--max-sessions", "10", "--idle-timeout-s", "120")
    yield s
    stop_server(s)
    # The server never logged a traceback while the tests ran (bugs hidden behind error bodies).
    assert "Traceback" not in s.log_text(), s.log_text()[-4000:]


@pytest.fixture(scope="session")
def transcriber(settings):
    """An STT model in the test process, to check what the server's audio says."""
    from voicecli.engines import load_transcriber

    return load_transcriber(settings)


@pytest.fixture()
def transcribe(transcriber):
    from voicecli.audio.resample import resample
    from voicecli.stt.types import TranscribeOptions

    def run(samples, rate: int) -> str:
        return transcriber.transcribe(resample(samples, rate, 16000), TranscribeOptions(language="en")).text

    return run
