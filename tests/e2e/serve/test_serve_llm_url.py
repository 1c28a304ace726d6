"""``voicecli serve --llm-url``: replies come from another OpenAI-compatible server, here
llama-cpp-python's own server on loopback, for chat completions and for realtime voice turns.
The same server also runs ``--wyoming`` on its event loop, and a short idle timeout."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.e2e.serve.conftest import free_port, server_env, start_server, stop_server
from tests.e2e.serve.rt_client import load_wav_24k, run_voice_session

pytestmark = [pytest.mark.models, pytest.mark.slow]


@pytest.fixture(scope="module")
def llama_server(settings, tmp_path_factory):
    from voicecli.engines import resolver

    gguf = resolver(settings).resolve("llm", None).path
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "llama.log"
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048", "--n_threads", "2",
                             "--model_alias", "smol-remote"],
                            cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=15)


@pytest.fixture(scope="module")
def remote_server(llama_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-remote")
    wyoming_port = free_port()
    s = start_server(tmp, "--llm-url", llama_server, "--idle-timeout-s", "3",
                     "--wyoming", f"tcp://127.0.0.1:{wyoming_port}", env=server_env(tmp))
    s.wyoming_port = wyoming_port  # type: ignore[attr-defined]
    yield s
    stop_server(s)


def test_chat_and_voice_go_through_the_remote_llm(remote_server):
    client = remote_server.client()
    health = httpx.get(f"{remote_server.http}/health").json()
    assert health["models"]["llm"] == "smol-remote"
    r = client.chat.completions.create(model="x", max_tokens=20,
                                       messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert r.model == "smol-remote" and r.choices[0].message.content
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="x", max_tokens=20, stream=True, messages=[{"role": "user", "content": "Say hello."}]) if c.choices)
    assert text
    turns = run_voice_session(client, [load_wav_24k(EXAMPLES / "question.wav")])
    assert "france" in turns[0].user_transcript.lower()
    assert turns[0].status == "completed" and turns[0].transcript and len(turns[0].samples) > 0


def test_idle_session_is_closed_with_an_error_event(remote_server):
    import json

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect as ws_connect

    with ws_connect(f"{remote_server.ws_url}/realtime") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        t0 = time.monotonic()
        ev = json.loads(ws.recv(timeout=15))
        assert ev["type"] == "error" and ev["error"]["code"] == "session_idle_timeout"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert 2.5 < time.monotonic() - t0 < 10


def test_wyoming_runs_beside_http_in_the_same_process(remote_server):
    import asyncio

    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info

    async def describe() -> Info:
        async with AsyncTcpClient("127.0.0.1", remote_server.wyoming_port) as client:
            await client.write_event(Describe().event())
            event = await asyncio.wait_for(client.read_event(), timeout=10)
            assert event is not None and Info.is_type(event.type)
            return Info.from_event(event)

    info = asyncio.run(describe())
    assert info.asr and info.tts
    assert httpx.get(f"{remote_server.http}/health").status_code == 200
