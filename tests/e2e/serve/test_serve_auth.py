"""With --api-key, every route and the WebSocket refuse a missing or wrong key; browsers may pass
the key as a subprotocol. Binding beyond loopback without a key is refused."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.helpers import run_voicecli

pytestmark = [pytest.mark.models]


def _routes(server) -> list[tuple[str, str]]:
    spec = httpx.get(f"{server.http}/openapi.json", headers=server.headers()).json()
    routes = [(m.upper(), p.replace("{model_id}", "whisper-1")) for p, ops in spec["paths"].items() for m in ops]
    return routes + [("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/nope")]


@pytest.mark.parametrize("auth", [None, "Bearer wrong-key", "Basic dGVzdA==", "Bearer"])
def test_every_http_route_refuses_a_missing_or_wrong_key(server, auth):
    headers = {"Authorization": auth} if auth else {}
    routes = _routes(server)
    assert {("POST", "/v1/audio/transcriptions"), ("GET", "/health"), ("GET", "/metrics")} <= set(routes)
    for method, path in routes:
        r = httpx.request(method, f"{server.http}{path}", headers=headers, json={}, timeout=30)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["error"]["code"] == "invalid_api_key"


def test_sdk_with_the_wrong_key_gets_authentication_error(server):
    with pytest.raises(openai.AuthenticationError):
        server.client(api_key="wrong").models.list()
    with pytest.raises(InvalidStatus) as exc:
        with server.client(api_key="wrong").realtime.connect(model="voicecli") as conn:
            conn.recv()
    assert exc.value.response.status_code == 401


@pytest.mark.parametrize("headers,subprotocols", [({}, None), ({"Authorization": "Bearer nope"}, None),
                                                  ({}, ["realtime", "openai-insecure-api-key.nope"])])
def test_websocket_refuses_a_missing_or_wrong_key(server, headers, subprotocols):
    with pytest.raises(InvalidStatus) as exc:
        ws_connect(f"{server.ws_url}/realtime", additional_headers=headers, subprotocols=subprotocols)
    assert exc.value.response.status_code == 401


def test_browser_subprotocol_key_is_accepted_and_realtime_selected(server):
    protocols = ["realtime", f"openai-insecure-api-key.{server.api_key}", "openai-beta.realtime-v1"]
    with ws_connect(f"{server.ws_url}/realtime", subprotocols=protocols) as ws:
        assert ws.subprotocol == "realtime"
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"


def test_non_loopback_bind_without_key_is_refused():
    r = run_voicecli("serve", "--host", "0.0.0.0", "--port", "0", timeout=60,
                     env={"VOICECLI_API_KEY": ""})
    assert r.returncode == 2
    assert "refusing to listen on 0.0.0.0 without an API key" in r.stderr and "--api-key" in r.stderr


def test_web_page_files_load_without_a_key_but_its_config_does_not(server):
    # A browser cannot send a Bearer header when it opens a page: the static page is public, the
    # page then sends the key itself; everything with data behind it still needs the key.
    page = httpx.get(f"{server.http}/", timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert httpx.get(f"{server.http}/static/app.js", timeout=30).status_code == 200
    assert httpx.get(f"{server.http}/web/config.json", timeout=30).status_code == 401
    assert httpx.get(f"{server.http}/v1/models", timeout=30).status_code == 401
    assert httpx.get(f"{server.http}/staticfoo", timeout=30).status_code == 401


def test_start_up_names_the_voice_page_and_it_loads(server):
    import httpx

    log = server.log_text()
    line = next((ln for ln in log.splitlines() if "voice page is at" in ln), None)
    assert line is not None, log
    url = line.split("voice page is at ", 1)[1].strip()
    assert url == f"http://localhost:{server.port}/", url
    page = httpx.get(url, timeout=10)  # the page's own files load without a key
    assert page.status_code == 200 and "<html" in page.text.lower()
