"""The realtime handshake under hostile or careless clients, on the real server (uvicorn): refusals
(wrong key 401, no free session 503) are clean HTTP answers with no ERROR line for an
unauthenticated client to fill the log with; the key offered as a subprotocol is never echoed
back; UTF-8 keys work; an invalid UTF-8 text frame closes the socket with 1007 and no traceback."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.hostile.realtime_fixtures import realtime_server

KEY = "s3cret-key"
UTF8_KEY = "clé-ключ-🔑"


def raw_utf8(text: str) -> str:
    """``text``'s UTF-8 bytes as the latin-1 string the websockets client puts on the wire."""
    return text.encode().decode("latin-1")


def test_refused_handshakes_are_clean_http_answers(tmp_path) -> None:
    with realtime_server(tmp_path, limits={"max_sessions": 1}, api_key=KEY) as server:
        for headers, protocols in [({}, None), ({"Authorization": "Bearer nope"}, None),
                                   ({}, ["realtime", "openai-insecure-api-key.nope"])] * 5:
            with pytest.raises(InvalidStatus) as exc:
                ws_connect(server.ws_url, additional_headers=headers, subprotocols=protocols, open_timeout=10)
            assert exc.value.response.status_code == 401
            assert json.loads(exc.value.response.body)["error"]["code"] == "invalid_api_key"
        with server.connect():
            for _ in range(5):
                with pytest.raises(InvalidStatus) as exc:
                    server.connect()
                assert exc.value.response.status_code == 503
                assert json.loads(exc.value.response.body)["error"]["code"] == "session_limit_reached"
        server.wait_idle()
        server.assert_clean_log()
        assert "without completing handshake" not in server.log_text()


def test_the_key_subprotocol_is_never_selected(tmp_path) -> None:
    with realtime_server(tmp_path, api_key=KEY) as server:
        key_protocol = f"openai-insecure-api-key.{KEY}"
        with ws_connect(server.ws_url, subprotocols=["realtime", key_protocol]) as ws:
            assert ws.subprotocol == "realtime"
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        with ws_connect(server.ws_url, subprotocols=[key_protocol, "openai-beta.realtime-v1"]) as ws:
            assert ws.subprotocol is None  # nothing we speak was offered; the key is not echoed
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        server.wait_idle()
        server.assert_clean_log()


def test_a_utf8_api_key_works(tmp_path) -> None:
    with realtime_server(tmp_path, api_key=UTF8_KEY) as server:
        header = b"Bearer " + UTF8_KEY.encode()
        assert httpx.get(f"{server.http}/health", headers={b"Authorization": header}).status_code == 200
        assert httpx.get(f"{server.http}/health", headers={b"Authorization": b"Bearer cl\xc3\xa9"}).status_code == 401
        with ws_connect(server.ws_url, additional_headers={"Authorization": raw_utf8(f"Bearer {UTF8_KEY}")}) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        with pytest.raises(InvalidStatus) as exc:
            ws_connect(server.ws_url, additional_headers={"Authorization": raw_utf8("Bearer clé")})
        assert exc.value.response.status_code == 401
        server.wait_idle()
        server.assert_clean_log()


def test_an_invalid_utf8_text_frame_closes_with_1007_without_a_traceback(tmp_path) -> None:
    with realtime_server(tmp_path) as server:
        for _ in range(3):
            ws = server.connect()
            ws.send(b'{"type": "\xff\xfe"}', text=True)
            with pytest.raises(ConnectionClosed) as exc:
                while True:
                    ws.recv(timeout=10)
            assert exc.value.rcvd is not None and exc.value.rcvd.code == 1007
            ws.close()
        # The server goes on serving.
        with server.connect() as ws:
            ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "input_audio_buffer.cleared"
        server.wait_idle()
        server.assert_clean_log()
