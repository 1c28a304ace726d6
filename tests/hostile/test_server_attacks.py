"""Issue 12's attacks on a real keyless ``voicecli serve`` on loopback, each while another client
works: nothing answers 5xx, nothing leaves a traceback in the log, the server's memory stays
within stated bounds, and the other client's request takes at most twice its unloaded time.

Bounds (measured numbers in docs/security.md): the FLAC bomb is refused in < 2 s with the peak
resident size < +200 MB; hostile speech input < +700 MB at the peak (one synthesis call is cut at
400 phonemes); the whole run < +1000 MB resident (Piper's onnxruntime arena keeps its
high-water mark, as it does after long prose)."""

from __future__ import annotations

import concurrent.futures
import json
import re
import socket
import time

import httpx
import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.conftest import EXAMPLES
from tests.hostile.bombs import flac_bomb
from tests.hostile.conftest import ALLOWED_ORIGIN, HostileServer
from tests.hostile.test_speech_input import HOSTILE

pytestmark = [pytest.mark.models]

QUESTION = EXAMPLES / "question.wav"
BOMB_LIMIT_S = 2.0
JITTER_S = 0.25
"""Scheduling noise allowed on top of "within 2x its unloaded time" (a 2-core machine)."""
BOMB_PEAK_MB = 200.0
SPEECH_PEAK_MB = 700.0
RUN_GROWTH_MB = 1000.0

_run_start_mb: list[float] = []


def _transcribe(server: HostileServer, data: bytes, name: str, timeout: float = 120) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    r = httpx.post(f"{server.server.base_url}/audio/transcriptions", timeout=timeout,
                   files={"file": (name, data)}, data={"model": "whisper-1", "response_format": "json"})
    return r, time.monotonic() - started


@pytest.fixture(scope="module")
def unloaded_s(hostile) -> float:
    """The other client's request, alone: a 2.7 s question transcribed (median of 3, after a warm-up)."""
    _run_start_mb.append(hostile.rss_mb())
    data = QUESTION.read_bytes()
    times = []
    for _ in range(4):
        r, elapsed = _transcribe(hostile, data, "question.wav")
        assert r.status_code == 200 and "france" in r.json()["text"].lower()
        times.append(elapsed)
    return sorted(times[1:])[1]


def test_flac_bomb_is_refused_fast_small_and_without_delaying_another_upload(hostile, unloaded_s):
    bomb = flac_bomb(10 * 3600)  # ~130 KB: 10 h of audio, STREAMINFO total_samples = 0
    question = QUESTION.read_bytes()
    before = hostile.rss_mb()
    hostile.reset_peak()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        bombs = [pool.submit(_transcribe, hostile, bomb, "bomb.flac")]
        time.sleep(0.05)
        other = pool.submit(_transcribe, hostile, question, "question.wav")
        refused = [b.result() for b in bombs]
        answered, other_s = other.result()
    peak_growth = hostile.peak_mb() - before
    print(f"bomb refused in {max(t for _, t in refused):.2f} s; peak RSS +{peak_growth:.0f} MB; "
          f"other upload {other_s:.2f} s (alone {unloaded_s:.2f} s)")
    for r, elapsed in refused:
        assert r.status_code == 400 and r.json()["error"]["code"] == "audio_too_long", r.text
        assert elapsed < BOMB_LIMIT_S
    assert peak_growth < BOMB_PEAK_MB
    assert answered.status_code == 200 and "france" in answered.json()["text"].lower()
    assert other_s <= 2 * unloaded_s + JITTER_S, (other_s, unloaded_s)


def test_a_slow_to_decode_upload_does_not_hold_up_another(hostile, unloaded_s):
    slow = flac_bomb(20, block=16)  # 20 000 frames of 1 ms: seconds of decoding for 20 s of audio
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow_job = pool.submit(_transcribe, hostile, slow, "tiny-frames.flac")
        time.sleep(0.3)  # it is decoding now
        answered, other_s = _transcribe(hostile, QUESTION.read_bytes(), "question.wav")
        slow_r, slow_s = slow_job.result()
    print(f"tiny-frames upload {slow_s:.2f} s; other upload {other_s:.2f} s (alone {unloaded_s:.2f} s)")
    assert slow_r.status_code in (200, 400) and answered.status_code == 200
    assert other_s <= 2 * unloaded_s + JITTER_S, (other_s, unloaded_s)


def _speech(server: HostileServer, text: str, speed: float = 1.0) -> httpx.Response:
    body = json.dumps({"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm", "speed": speed})
    return httpx.post(f"{server.server.base_url}/audio/speech", content=body, timeout=120,
                      headers={"content-type": "application/json"})


@pytest.mark.parametrize("name,status", [
    ("nul", 200), ("emoji_only", 400), ("digits_4k", 400), ("bidi_and_private_use", 200), ("word_4096", 200),
    ("cjk_4k", 400),               # ~24 min once an English voice reads each character out
    ("ordinal_307_digits", 200),   # 307 x "one": ~45 s of audio, the longest valid input here
])
def test_hostile_speech_input(hostile, name, status):
    before = hostile.rss_mb()
    hostile.reset_peak()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        job = pool.submit(_speech, hostile, HOSTILE[name])
        health = []
        while not job.done():  # the event loop stays free while Piper works
            started = time.monotonic()
            assert httpx.get(f"{hostile.server.http}/health", timeout=10).status_code == 200
            health.append(time.monotonic() - started)
            time.sleep(0.2)
        r = job.result()
    peak_growth = hostile.peak_mb() - before
    print(f"{name}: {r.status_code}, {len(r.content) / 48000:.1f} s of audio, peak RSS +{peak_growth:.0f} MB, "
          f"slowest /health {max(health, default=0):.2f} s")
    assert r.status_code == status, r.text[:300]
    if status == 200:
        assert len(r.content) > 0
    else:
        assert r.json()["error"]["param"] == "input"
    assert peak_growth < SPEECH_PEAK_MB
    assert max(health, default=0) < 2.0  # a sanity bound on a loaded 2-core machine (typically < 0.3 s)


def test_realtime_websocket_from_a_foreign_page_is_refused(hostile):
    url = f"{hostile.server.ws_url}/realtime"
    for origin in ("http://localhost:3000", "https://evil.example", "null"):
        with pytest.raises(InvalidStatus) as exc:
            ws_connect(url, origin=origin, open_timeout=10)
        assert exc.value.response.status_code == 403
    assert _raw_handshake_status(hostile, "evil.example") == 403  # the websockets client sets Host itself
    assert _raw_handshake_status(hostile, f"127.0.0.1:{hostile.server.port}") == 101
    for origin in (f"http://127.0.0.1:{hostile.server.port}", ALLOWED_ORIGIN, None):  # its page, a configured one, no browser
        with ws_connect(url, origin=origin, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"


def _raw_handshake_status(server: HostileServer, host: str) -> int:
    request = (f"GET /v1/realtime HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.server.port), timeout=10) as s:
        s.sendall(request.encode())
        status_line = s.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def test_dns_rebinding_and_cross_site_posts_are_refused(hostile):
    base = hostile.server.http
    rebinding = httpx.get(f"{base}/v1/models", headers={"Host": f"evil.example:{hostile.server.port}"}, timeout=10)
    assert rebinding.status_code == 403 and rebinding.json()["error"]["code"] == "host_not_allowed"
    forged = httpx.post(f"{base}/v1/audio/transcriptions", headers={"Origin": "https://evil.example"}, timeout=10,
                        files={"file": ("q.wav", QUESTION.read_bytes())}, data={"model": "w"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "origin_not_allowed"
    assert httpx.get(f"{base}/health", headers={"Host": f"localhost:{hostile.server.port}"}, timeout=10).status_code == 200


def test_no_page_loads_anything_from_another_host(hostile):
    base = hostile.server.http
    assert httpx.get(f"{base}/docs", timeout=10).status_code == 404  # Swagger UI came from a CDN
    assert httpx.get(f"{base}/redoc", timeout=10).status_code == 404
    page = httpx.get(f"{base}/", timeout=10)
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert assets
    external = re.compile(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|"""
                          r"""@import\s+["']?(?:https?:)?//|from\s+["'](?:https?:)?//|import\(\s*["'](?:https?:)?//""",
                          re.I)
    for path in ["/", *assets]:
        text = httpx.get(f"{base}{path}", timeout=10).text
        assert not external.search(text), (path, external.search(text))


def _wyoming_event(kind: str, data: dict | None = None, payload: bytes = b"") -> bytes:
    header = {"type": kind, "data": data or {}}
    if payload:
        header["payload_length"] = len(payload)
    return json.dumps(header).encode() + b"\n" + payload


def test_wyoming_refuses_an_endless_utterance_while_bounded(hostile):
    chunk = np.zeros(16000, np.int16).tobytes()  # 1 s of 16 kHz 16-bit mono
    before = hostile.rss_mb()
    hostile.reset_peak()
    with socket.create_connection(("127.0.0.1", hostile.wyoming_port), timeout=30) as s:
        s.sendall(_wyoming_event("transcribe") + _wyoming_event("audio-start", {"rate": 16000, "width": 2, "channels": 1}))
        audio = {"rate": 16000, "width": 2, "channels": 1}
        started = time.monotonic()
        for _ in range(310):  # more than the 300 s an utterance may last
            s.sendall(_wyoming_event("audio-chunk", audio, chunk))
        s.sendall(_wyoming_event("audio-stop"))
        replies = b""
        while b"audio-too-long" not in replies and time.monotonic() - started < 30:
            replies += s.recv(65536)
    assert b"audio-too-long" in replies, replies[:500]
    assert hostile.peak_mb() - before < BOMB_PEAK_MB


def test_wyoming_closes_on_a_web_pages_http_request(hostile):
    # A page's fetch("http://127.0.0.1:10300/", {method: "POST", mode: "no-cors", body}) arrives
    # as HTTP; before, its 17 header lines were bad events and the body's events were served.
    headers = "".join(f"{name}: x\r\n" for name in ("Connection", "User-Agent", "Accept", "Origin", "Referer",
                                                      "Sec-Fetch-Site", "Sec-Fetch-Mode", "Accept-Language"))
    request = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{hostile.wyoming_port}\r\n{headers}\r\n").encode()
    with socket.create_connection(("127.0.0.1", hostile.wyoming_port), timeout=10) as s:
        s.sendall(request + _wyoming_event("describe"))
        replies = b""
        while chunk := s.recv(65536):
            replies += chunk
    assert b'"info"' not in replies and b"not HTTP" in replies


def test_the_run_left_no_5xx_and_bounded_memory(hostile):
    assert not hostile.server_errors()
    growth = hostile.rss_mb() - (_run_start_mb[0] if _run_start_mb else hostile.rss_mb())
    print(f"server RSS over the run: +{growth:.0f} MB (now {hostile.rss_mb():.0f} MB)")
    assert growth < RUN_GROWTH_MB
