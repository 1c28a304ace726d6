"""docs/deploy.md's recipe, run as written: HAProxy with examples/deploy/haproxy.cfg in front of
two ``voicecli serve`` front ends on loopback whose STT, LLM and TTS are all one engine server
(the session's ``server``). New clients are spread over both front ends, a client with the
cookie stays on its front end, and a realtime voice turn through the balancer completes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import httpx
import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.e2e.serve.conftest import API_KEY, free_port, server_env, start_server, stop_server
from tests.e2e.serve.rt_client import load_wav_24k, run_voice_session

pytestmark = [pytest.mark.models, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")]

CONFIG = ROOT / "examples" / "deploy" / "haproxy.cfg"
FRONT_KEY = "front-key-456"
"""The front ends' own key (clients send it through the balancer); they call the engine with its key."""
AUTH = {"Authorization": f"Bearer {FRONT_KEY}"}


@pytest.fixture(scope="module")
def balancer(server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deploy")
    keys = {f"VOICECLI_{tier}_API_KEY": API_KEY for tier in ("STT", "LLM", "TTS")}
    engine = ["--stt-url", server.base_url, "--llm-url", server.base_url, "--tts-url", server.base_url]
    fronts = [start_server(tmp, *engine, "--api-key", FRONT_KEY, env=server_env(tmp, **keys)) for _ in range(2)]
    port = free_port()
    env = {**os.environ, "LISTEN": f"127.0.0.1:{port}", "FRONT1": f"127.0.0.1:{fronts[0].port}",
           "FRONT2": f"127.0.0.1:{fronts[1].port}"}
    log = tmp / "haproxy.log"
    proc = subprocess.Popen(["haproxy", "-f", str(CONFIG), "-db"], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/health", headers=AUTH, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.3)
    yield url, fronts
    proc.terminate()
    proc.wait(timeout=10)
    for f in fronts:
        stop_server(f)
        assert "Traceback" not in f.log_text(), f.log_text()[-3000:]


def test_front_ends_load_no_model_and_name_the_engine_server(balancer, server):
    _, fronts = balancer
    for f in fronts:
        models = httpx.get(f"{f.http}/health", headers=AUTH).json()["models"]
        assert all(name.endswith(f"@127.0.0.1:{server.port}") for key, name in models.items() if key != "llm"), models


def test_new_clients_are_spread_and_a_client_with_the_cookie_stays(balancer):
    url, _ = balancer
    # The health check counts a keyed front end's 401 as up: both are in rotation.
    served = {httpx.get(f"{url}/health", headers=AUTH).headers["x-voicecli-frontend"] for _ in range(4)}
    assert served == {"front1", "front2"}
    with httpx.Client(base_url=url, headers=AUTH) as browser:  # keeps the cookie, as a browser on the voice page does
        first = browser.get("/health").headers["x-voicecli-frontend"]
        assert "VOICECLI_FRONTEND" in browser.cookies
        assert {browser.get("/health").headers["x-voicecli-frontend"] for _ in range(4)} == {first}


def test_a_realtime_voice_turn_through_the_balancer(balancer):
    from openai import OpenAI

    url, _ = balancer
    client = OpenAI(base_url=f"{url}/v1", api_key=FRONT_KEY, websocket_base_url=f"{url.replace('http', 'ws')}/v1",
                    max_retries=0, timeout=120)
    turns = run_voice_session(client, [load_wav_24k(EXAMPLES / "question.wav")])
    assert "france" in (turns[0].user_transcript or "").lower(), turns[0]
    assert turns[0].status == "completed" and turns[0].transcript and len(turns[0].samples) > 0
    with (EXAMPLES / "question.wav").open("rb") as f:
        assert "capital" in client.audio.transcriptions.create(model="whisper-1", file=f).text.lower()
