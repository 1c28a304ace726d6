"""A WebRTC call (``POST /v1/realtime/calls``) end to end on fake engines (no models): the app
runs in Starlette's TestClient, an aiortc peer calls it with a tone for a microphone. A VAD turn
is answered on the ``oai-events`` channel and played on the track; speech over the reply stops
the server's player, which truncates the item to what it played; hanging up frees the slot.
Bad offers get one clear HTTP error each."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from tests.unit.test_realtime_handler import FakeEngines, FakeSpeaker
from voicecli.audio.format import AudioChunk
from voicecli.server.app import create_app
from voicecli.server.config import Limits, ServerConfig

aiortc = pytest.importorskip("aiortc")

RATE = 48_000
FRAME = 960
SPEECH = ((0.3, 0.8), (3.4, 1.0))
"""(start s, length s) of the caller's tone: a question, then speech over the reply."""


class SlowSpeaker(FakeSpeaker):
    """A second of a clearly audible tone per word: replies long enough to talk over."""

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        n = self.sample_rate_hz * max(1, len(text.split()))
        yield AudioChunk((0.3 * np.sin(np.arange(n) / 7.0)).astype(np.float32), self.sample_rate_hz)


class ToneMic(aiortc.MediaStreamTrack):  # type: ignore[misc]
    """The caller's microphone: 20 ms frames in real time, a tone during ``SPEECH``."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.start: float | None = None
        self.pts = 0

    async def recv(self) -> Any:
        from av import AudioFrame

        if self.start is None:
            self.start = time.time()
        else:
            self.pts += FRAME
            await asyncio.sleep(max(0.0, self.start + self.pts / RATE - time.time()))
        t = self.pts / RATE
        loud = any(s <= t < s + n for s, n in SPEECH)
        x = 0.3 * np.sin(2 * np.pi * 220 * (self.pts + np.arange(FRAME)) / RATE) if loud else np.zeros(FRAME)
        frame = AudioFrame.from_ndarray((x * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self.pts, fractions.Fraction(1, RATE)
        return frame


@pytest.fixture()
def client() -> Iterator[TestClient]:
    engines = FakeEngines()
    engines.speaker = SlowSpeaker()
    with TestClient(create_app(engines, ServerConfig()), base_url="http://localhost") as c:
        yield c


async def _call(client: TestClient, until: str, timeout_s: float = 25) -> tuple[list[dict[str, Any]], float, Any,
                                                                               Any, Any]:
    """Call, collect events until ``until``; returns the events, the reply's loudness, the peer,
    its events channel and a coroutine function waiting for the next event of a type."""
    pc = aiortc.RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
    pc.addTrack(ToneMic())
    channel = pc.createDataChannel("oai-events")
    events: list[dict[str, Any]] = []
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    peak = [0.0]

    @channel.on("message")
    def on_message(message: str) -> None:
        queue.put_nowait(json.loads(message))

    async def wait(kind: str) -> dict[str, Any]:
        while True:
            event = await queue.get()
            events.append(event)
            if event["type"] == kind:
                return event

    async def record(track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except aiortc.mediastreams.MediaStreamError:
                return
            peak[0] = max(peak[0], float(np.abs(frame.to_ndarray()).max()) / 32768)

    pc.on("track", lambda track: asyncio.ensure_future(record(track)))
    await pc.setLocalDescription(await pc.createOffer())
    session = {"type": "realtime", "instructions": "Be brief.",
               "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}}}
    r = await asyncio.to_thread(client.post, "/v1/realtime/calls",
                                files={"sdp": (None, pc.localDescription.sdp, "application/sdp"),
                                       "session": (None, json.dumps(session), "application/json")})
    assert r.status_code == 201, r.text
    assert r.headers["location"].startswith("/v1/realtime/calls/rtc_")
    assert r.headers["content-type"].startswith("application/sdp")
    await pc.setRemoteDescription(aiortc.RTCSessionDescription(sdp=r.text, type="answer"))
    try:
        await asyncio.wait_for(wait(until), timeout_s)
    except asyncio.TimeoutError:
        pytest.fail(f"no {until} within {timeout_s} s: {[e['type'] for e in events]}")
    return events, peak[0], pc, channel, wait


def test_a_turn_then_barge_in_truncates_to_what_the_server_played(client: TestClient) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], float, dict[str, Any]]:
        events, peak, pc, channel, wait = await _call(client, "conversation.item.truncated")
        truncated = events[-1]
        channel.send(json.dumps({"type": "conversation.item.retrieve", "item_id": truncated["item_id"]}))
        item = (await wait("conversation.item.retrieved"))["item"]
        await pc.close()
        return events, peak, item

    events, peak, item = asyncio.run(scenario())
    types = [e["type"] for e in events]
    assert types[0] == "session.created" and events[0]["session"]["instructions"] == "Be brief."
    transcripts = [e["transcript"] for e in events
                   if e["type"] == "conversation.item.input_audio_transcription.completed"]
    assert transcripts and transcripts[0] == "what is two plus two"
    assert "response.output_audio.delta" not in types  # the reply went on the track
    assert types.index("output_audio_buffer.cleared") > types.index("output_audio_buffer.started")
    assert types.count("input_audio_buffer.speech_started") >= 2
    assert peak > 0.05, peak  # the reply's tone arrived on the remote track
    full = [e for e in events if e["type"] == "response.output_audio_transcript.done"][0]["transcript"]
    full_ms = 1000 * len(full.split())
    truncated = next(e for e in events if e["type"] == "conversation.item.truncated")
    assert 300 < truncated["audio_end_ms"] < full_ms - 500, (truncated, full)  # cut off mid-reply, as played
    heard = item["content"][0]["transcript"]
    assert len(heard.split()) < len(full.split()), (heard, full)
    deadline = time.monotonic() + 10
    while client.get("/health").json()["active_sessions"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get("/health").json()["active_sessions"] == 0  # hanging up ended the call


def test_bad_offers_get_one_clear_error_each(client: TestClient) -> None:
    url = "/v1/realtime/calls"
    sdp = {"Content-Type": "application/sdp"}
    r = client.post(url, content=b"hello", headers=sdp)
    assert r.status_code == 400 and r.json()["error"]["param"] == "sdp", r.text
    r = client.post(url, content=b"v=0\r\n" + b"a" * 70_000, headers=sdp)
    assert r.status_code == 413, r.text
    r = client.post(url, json={"sdp": "v=0"})
    assert r.status_code == 415 and "application/sdp" in r.json()["error"]["message"]
    r = client.post(url, files={"sdp": (None, "v=0\r\n", "application/sdp"), "session": (None, "{", "application/json")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "session", r.text

    async def offer(audio: bool) -> str:
        pc = aiortc.RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
        if audio:
            pc.addTrack(ToneMic())
        pc.createDataChannel("oai-events")
        await pc.setLocalDescription(await pc.createOffer())
        await pc.close()
        return str(pc.localDescription.sdp)

    r = client.post(url, content=asyncio.run(offer(audio=False)).encode(), headers=sdp)
    assert r.status_code == 400 and "no audio track" in r.json()["error"]["message"], r.text
    bad_session = json.dumps({"type": "realtime", "audio": {"output": {"speed": 99}}})
    r = client.post(url, files={"sdp": (None, asyncio.run(offer(audio=True)), "application/sdp"),
                                "session": (None, bad_session, "application/json")})
    assert r.status_code == 400 and r.json()["error"]["param"].startswith("session."), r.text
    assert client.get("/health").json()["active_sessions"] == 0  # refused offers hold no slot


def test_no_free_slot_is_503() -> None:
    app = create_app(FakeEngines(), ServerConfig(limits=Limits(max_sessions=0)))
    with TestClient(app, base_url="http://localhost") as c:
        r = c.post("/v1/realtime/calls", content=b"v=0\r\n", headers={"Content-Type": "application/sdp"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "session_limit_reached", r.text
