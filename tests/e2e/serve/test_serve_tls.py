"""``voicecli serve --tls-self-signed`` with real models: the server makes a certificate for this
machine in its data dir and prints its path and SHA-256 fingerprint; clients that trust that file
reach it over HTTPS and WSS — the official ``openai`` Python SDK (``client.realtime.connect`` with an
SSL context on the file) and the official ``openai`` Node SDK from npm (``OpenAIRealtimeWebSocket``,
which always dials ``wss:``; trusted through ``NODE_EXTRA_CA_CERTS``). Each sends a text item and
``response.create`` and gets ``response.done`` with audio that says its transcript. Also: a bad
``--tls-cert``/``--tls-key`` pair is one line, before any model loads."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import ROOT
from tests.e2e.serve.conftest import Server, free_port, server_env, stop_server
from tests.helpers import run_voicecli, word_overlap

pytestmark = [pytest.mark.models]

API_KEY = "tls-key-123"
NODE_OPENAI = "openai@6.49.0"
"""The newest major that still runs on Node 20 (7.x needs Node 22)."""
NODE_SCRIPT = """
import { OpenAI } from "openai";
import { OpenAIRealtimeWebSocket } from "openai/realtime/websocket";
import { writeFileSync } from "node:fs";

const [baseURL, apiKey, out] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey });
const rt = new OpenAIRealtimeWebSocket({ model: "voicecli" }, client);
const audio = [];
let transcript = "";
const timer = setTimeout(() => { console.error("timed out"); process.exit(2); }, 120000);
rt.on("error", (err) => { console.error("error:", err.message ?? err); process.exit(3); });
rt.on("response.output_audio.delta", (e) => audio.push(Buffer.from(e.delta, "base64")));
rt.on("response.output_audio_transcript.done", (e) => { transcript = e.transcript; });
rt.on("response.done", (e) => {
  clearTimeout(timer);
  writeFileSync(out, JSON.stringify({ url: rt.url.toString(), status: e.response.status, transcript,
                                      audio: Buffer.concat(audio).toString("base64") }));
  rt.close();
  process.exit(0);
});
rt.socket.addEventListener("open", () => {
  rt.send({ type: "conversation.item.create", item: { type: "message", role: "user",
            content: [{ type: "input_text", text: "Say hello in a few words." }] } });
  rt.send({ type: "response.create" });
});
"""


class TlsServer(Server):
    cert: Path
    fingerprint: str

    @property
    def http(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"wss://127.0.0.1:{self.port}/v1"


def wait_for_cert(log: Path, timeout_s: float = 60) -> tuple[Path, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        m = re.search(r"self-signed TLS certificate (\S+) \(SHA-256 ([0-9A-F:]+)\)", log.read_text(errors="replace"))
        if m:
            return Path(m.group(1)), m.group(2)
        time.sleep(0.2)
    raise AssertionError(f"no certificate line in the log:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-tls")
    port = free_port()
    log = tmp / "serve.log"
    cmd = [sys.executable, "-m", "voicecli.cli.main", "serve", "--port", str(port), "--api-key", API_KEY,
           "--tls-self-signed"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=server_env(tmp), stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = TlsServer(port, API_KEY, proc, log)
    try:
        server.cert, server.fingerprint = wait_for_cert(log)
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")
            try:
                if httpx.get(f"{server.http}/health", headers=server.headers(), verify=ssl.create_default_context(cafile=server.cert),
                             timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        yield server
    finally:
        stop_server(server)
    assert "Traceback" not in log.read_text(errors="replace")


def test_the_printed_fingerprint_is_the_certificates(tls_server):
    der = ssl.PEM_cert_to_DER_cert(tls_server.cert.read_text())
    assert tls_server.fingerprint == ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert tls_server.cert.parent.parent.parent.name == "data"  # in the user's data dir (XDG_DATA_HOME)
    with pytest.raises(httpx.ConnectError):  # a client that does not trust it is refused
        httpx.get(f"{tls_server.http}/health", headers=tls_server.headers(), timeout=5)


def test_python_sdk_over_wss(tls_server, transcribe):
    from openai import OpenAI

    client = OpenAI(base_url=f"{tls_server.http}/v1", api_key=API_KEY, websocket_base_url=tls_server.ws_url,
                    http_client=httpx.Client(verify=ssl.create_default_context(cafile=tls_server.cert)), max_retries=0, timeout=120)
    assert [m.id for m in client.models.list().data]  # HTTPS too
    context = ssl.create_default_context(cafile=tls_server.cert)
    with client.realtime.connect(model="voicecli", websocket_connection_options={"ssl": context}) as conn:
        conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Say hello in a few words."}]})
        conn.response.create()
        audio, transcript = [], ""
        for event in conn:
            assert event.type != "error", event.error
            if event.type == "response.output_audio.delta":
                audio.append(base64.b64decode(event.delta))
            elif event.type == "response.output_audio_transcript.done":
                transcript = event.transcript
            elif event.type == "response.done":
                assert event.response.status == "completed"
                break
    samples = np.frombuffer(b"".join(audio), "<i2").astype(np.float32) / 32768
    assert word_overlap(transcribe(samples, 24000), transcript) >= 0.6


def node_flags() -> list[str] | None:
    """Node 22 has a global WebSocket; Node 20.10+ behind a flag; older Node none (None)."""
    for flags in ([], ["--experimental-websocket"]):
        probe = subprocess.run(["node", *flags, "-p", "typeof WebSocket"], capture_output=True, text=True, timeout=30)
        if probe.stdout.strip() == "function":
            return flags
    return None


@pytest.fixture(scope="module")
def node_openai(tmp_path_factory) -> Path:
    """A test-local npm project with the official ``openai`` package (from the npm registry)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed (scripts/install-system-deps.sh installs them)")
    if node_flags() is None:
        pytest.skip("this Node has no WebSocket, which OpenAIRealtimeWebSocket needs (Node >= 20.10)")
    project = tmp_path_factory.mktemp("node-openai")
    (project / "package.json").write_text('{"private": true, "type": "module"}')
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", NODE_OPENAI],
                          cwd=project, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.skip(f"npm could not install {NODE_OPENAI} (registry unreachable?): {done.stderr.strip()[-300:]}")
    (project / "realtime.mjs").write_text(NODE_SCRIPT)
    return project


def test_node_sdk_realtime_websocket_over_wss(tls_server, node_openai, transcribe, tmp_path):
    out = tmp_path / "result.json"
    env = {**server_env(tmp_path), "NODE_EXTRA_CA_CERTS": str(tls_server.cert)}
    done = subprocess.run(["node", *(node_flags() or []), "--no-warnings", "realtime.mjs",
                           f"https://127.0.0.1:{tls_server.port}/v1", API_KEY, str(out)],
                          cwd=node_openai, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["url"].startswith(f"wss://127.0.0.1:{tls_server.port}/v1/realtime")
    assert result["status"] == "completed" and result["transcript"].strip()
    samples = np.frombuffer(base64.b64decode(result["audio"]), "<i2").astype(np.float32) / 32768
    assert len(samples) > 24000 // 2
    assert word_overlap(transcribe(samples, 24000), result["transcript"]) >= 0.6


@pytest.mark.parametrize("args, message", [
    (["--tls-cert", "cert.pem"], "TLS needs both --tls-cert and --tls-key"),
    (["--tls-cert", "bad.pem", "--tls-key", "bad.pem"], "are not a usable PEM certificate and key"),
    (["--tls-cert", "missing.pem", "--tls-key", "missing.pem"], "missing.pem: no such file"),
    (["--tls-self-signed", "--tls-cert", "x.pem", "--tls-key", "x.pem"], "--tls-self-signed and --tls-cert"),
])
def test_bad_tls_options_are_one_line(tmp_path, args, message):
    (tmp_path / "bad.pem").write_text("not a certificate\n")
    args = [str(tmp_path / a) if a.endswith(".pem") else a for a in args]
    done = run_voicecli("serve", "--port", "0", *args, env=server_env(tmp_path), timeout=60)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "loading models" not in done.stderr
