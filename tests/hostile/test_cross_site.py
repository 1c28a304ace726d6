"""Cross-site access and keys (issue 12), on the real app with fake engines (no model): a foreign
``Origin`` or a ``Host`` that does not name the server is refused (DNS rebinding, any web page
driving the realtime WebSocket), the operator can allow origins and names or opt out, UTF-8 keys
work, and a key typed on the command line gets a warning."""

from __future__ import annotations

import socket
import stat

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.helpers import run_voicecli
from tests.unit.fake_engines import FakeChat, FakeEngines, FakeSpeaker, FakeTranscriber
from voicecli.server.app import create_app
from voicecli.server.config import ServerConfig
from voicecli.server.origin import OriginPolicy, normalise_origin, split_host

LOOPBACK = OriginPolicy.for_server("127.0.0.1")


@pytest.mark.parametrize("host,allowed", [
    ("127.0.0.1:8000", True), ("localhost:8000", True), ("LOCALHOST", True), ("[::1]:8000", True),
    ("app.localhost:8000", True), ("192.168.1.20:8000", True), (None, True),
    ("evil.example", False), ("evil.example:8000", False), ("127.0.0.1.nip.io:8000", False), ("localhost.evil.example", False),
])
def test_host_names_this_server(host, allowed):
    assert LOOPBACK.host_allowed(host) is allowed


@pytest.mark.parametrize("origin,host,allowed", [
    (None, "127.0.0.1:8000", True),                              # not a browser
    ("http://127.0.0.1:8000", "127.0.0.1:8000", True),           # the server's own page
    ("http://localhost:8000", "localhost:8000", True),
    ("https://voice.example", "voice.example", True),            # behind a TLS proxy: same host, port 443
    ("http://localhost:3000", "127.0.0.1:8000", False),          # another local app's page
    ("http://localhost:8000", "127.0.0.1:8000", False),          # another name: another origin
    ("http://127.0.0.1:8001", "127.0.0.1:8000", False),
    ("https://evil.example", "127.0.0.1:8000", False),
    ("null", "127.0.0.1:8000", False),                           # a sandboxed page or a local file
    ("http://127.0.0.1:8000/path", "127.0.0.1:8000", False),     # not an origin
])
def test_origin_is_the_servers_own_page(origin, host, allowed):
    assert LOOPBACK.origin_allowed(origin, host) is allowed


def test_configured_hosts_and_origins_and_the_opt_out():
    policy = OriginPolicy.for_server("127.0.0.1", ("voice.lan",), ("https://app.example", "HTTP://Tool.Local:3000"))
    assert policy.host_allowed("voice.lan:8000") and not policy.host_allowed("other.lan")
    assert policy.origin_allowed("https://app.example", "127.0.0.1:8000")
    assert policy.origin_allowed("http://tool.local:3000", "127.0.0.1:8000")
    assert not policy.origin_allowed("https://app.example:8443", "127.0.0.1:8000")
    anything = OriginPolicy.for_server("127.0.0.1", ("*",), ("*",))
    assert anything.host_allowed("evil.example") and anything.origin_allowed("https://evil.example", "x")
    wildcard = OriginPolicy.for_server("0.0.0.0")  # every interface, no --allow-host: an API key is required there
    assert wildcard.host_allowed("whatever.example") and not wildcard.origin_allowed("https://evil.example", "a:1")
    named = OriginPolicy.for_server("0.0.0.0", ("voice.lan",))
    assert not named.host_allowed("evil.example") and named.host_allowed(f"{socket.gethostname()}.local")


@pytest.mark.parametrize("text,parsed", [("Example.COM:80", ("example.com", 80)), ("[::1]:8000", ("::1", 8000)),
                                         ("::1", ("::1", None)), ("host:99999999", ("host", None))])
def test_split_host(text, parsed):
    assert split_host(text) == parsed


def test_normalise_origin():
    assert normalise_origin("HTTP://LocalHost") == "http://localhost:80"
    assert normalise_origin("https://[::1]:8443") == "https://[::1]:8443"
    assert normalise_origin("null") is None and normalise_origin("http://x:bad") is None


def _client(**config) -> TestClient:
    engines = FakeEngines(FakeTranscriber(()), FakeChat(), FakeSpeaker())
    return TestClient(create_app(engines, ServerConfig(**config)), base_url="http://127.0.0.1:8000")


def test_dns_rebinding_host_is_refused_with_403():
    with _client() as client:
        assert client.get("/health").status_code == 200
        r = client.get("/health", headers={"host": "evil.example:8000"})
        models = client.get("/v1/models", headers={"host": "evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "host_not_allowed"
    assert "--allow-host" in r.json()["error"]["message"] and models.status_code == 403


def test_cross_origin_browser_requests_are_refused_and_the_own_page_is_not():
    chat = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    with _client() as client:
        foreign = client.post("/v1/chat/completions", json=chat, headers={"origin": "http://localhost:3000"})
        own = client.post("/v1/chat/completions", json=chat, headers={"origin": "http://127.0.0.1:8000"})
        no_origin = client.post("/v1/chat/completions", json=chat)
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "origin_not_allowed"
    assert own.status_code == 200 and no_origin.status_code == 200


def test_realtime_websocket_from_a_foreign_page_is_refused_before_the_session():
    # Closed before accept: uvicorn answers the handshake with 403 (tests/hostile/test_server_attacks.py).
    url = "ws://127.0.0.1:8000/v1/realtime"
    for headers, reason in (({"origin": "http://evil.example"}, "cross-origin request from 'http://evil.example'"),
                            ({"host": "evil.example"}, "Host 'evil.example' does not name this server")):
        with _client() as client, pytest.raises(WebSocketDisconnect) as exc:
            with client.websocket_connect(url, headers=headers):
                pass
        assert exc.value.code == 1008 and exc.value.reason.startswith(reason)


def test_the_operator_can_allow_an_origin_or_opt_out():
    chat = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    with _client(allow_origins=("https://app.example",)) as client:
        assert client.post("/v1/chat/completions", json=chat, headers={"origin": "https://app.example"}).status_code == 200
        assert client.post("/v1/chat/completions", json=chat, headers={"origin": "https://b.example"}).status_code == 403
    with _client(allow_origins=("*",), allow_hosts=("*",)) as client:
        assert client.post("/v1/chat/completions", json=chat,
                           headers={"origin": "https://b.example", "host": "evil.example"}).status_code == 200


@pytest.mark.parametrize("key", ["clé-secrète-ü", "ключ", "鍵🔑", "plain-ascii"])
def test_utf8_keys_work(key):
    with _client(api_key=key) as client:
        good = client.get("/v1/models", headers={"authorization": b"Bearer " + key.encode()})
        wrong = client.get("/v1/models", headers={"authorization": b"Bearer " + (key + "x").encode()})
        latin1 = client.get("/v1/models", headers={"authorization": b"Bearer " + key.encode("utf-8")[:-1]})
    assert good.status_code == 200, good.text
    assert wrong.status_code == 401 and latin1.status_code == 401


def _busy_port() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def test_a_key_on_the_command_line_is_warned_about_and_a_key_file_is_not(tmp_path):
    # The port is taken, so serve stops (exit 2) right after resolving the key: no model loads.
    with _busy_port() as busy:
        port = str(busy.getsockname()[1])
        typed = run_voicecli("serve", "--port", port, "--api-key", "s3cret", timeout=60)
        key_file = tmp_path / "key"
        key_file.write_text("clé-secrète\n", encoding="utf-8")
        key_file.chmod(stat.S_IRUSR | stat.S_IWUSR)
        from_file = run_voicecli("serve", "--port", port, "--api-key-file", str(key_file), timeout=60)
        from_env = run_voicecli("serve", "--port", port, timeout=60, env={"VOICECLI_API_KEY": "s3cret"})
        key_file.chmod(0o644)
        shared = run_voicecli("serve", "--port", port, "--api-key-file", str(key_file), timeout=60)
        both = run_voicecli("serve", "--port", port, "--api-key", "a", "--api-key-file", str(key_file), timeout=60)
    warning = ("warning: --api-key is visible to every user of this machine (ps); "
               "use --api-key-file PATH or VOICECLI_API_KEY")
    assert typed.stderr.splitlines()[0] == warning and typed.returncode == 2
    for quiet in (from_file, from_env):
        assert "warning" not in quiet.stderr and f"cannot listen on 127.0.0.1:{port}" in quiet.stderr
    assert shared.stderr.splitlines()[0] == f"warning: {key_file} can be read by other users; chmod 600 {key_file}"
    assert both.returncode == 2 and "both an API key and --api-key-file were given" in both.stderr
