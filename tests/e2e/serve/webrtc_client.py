"""A WebRTC realtime client on aiortc and the official ``openai`` SDK's ``realtime.calls.create``:
a WAV file as the microphone, the ``oai-events`` data channel, the server's reply recorded
from the remote track (48 kHz mono float)."""

from __future__ import annotations

import asyncio
import json
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.e2e.serve.conftest import Server

TRACK_RATE = 48_000


def write_mic_wav(path: Path, clip: np.ndarray, rate: int, silence_s: float) -> Path:
    """``clip`` then ``silence_s`` of silence, as a 16-bit WAV for aiortc's MediaPlayer."""
    audio = np.concatenate([clip, np.zeros(int(silence_s * rate), np.float32)])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@dataclass
class CallResult:
    status: int
    location: str
    events: list[dict[str, Any]] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    """The remote track's frames (48 kHz mono float), silence included."""

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    @property
    def reply_audio(self) -> np.ndarray:
        audio = np.concatenate(self.frames) if self.frames else np.zeros(0, np.float32)
        loud = np.flatnonzero(np.abs(audio) > 0.01)
        return audio[loud[0]:loud[-1] + 1] if len(loud) else audio[:0]


async def _record(track: Any, frames: list[np.ndarray]) -> None:
    from aiortc.mediastreams import MediaStreamError

    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        pcm = frame.to_ndarray().astype(np.float32) / 32768.0
        channels = len(frame.layout.channels)
        frames.append(pcm.reshape(-1, channels).mean(axis=1) if not frame.format.is_planar else pcm.mean(axis=0))


async def call(server: Server, mic_wav: Path, session: dict[str, Any], until: str = "output_audio_buffer.stopped",
               timeout_s: float = 150) -> CallResult:
    """One call: offer (mic track + ``oai-events``), POST through the SDK, answer, then collect
    events and the reply audio until the event ``until`` (or the timeout), and hang up."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer
    from openai import AsyncOpenAI

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    player = MediaPlayer(str(mic_wav))
    pc.addTrack(player.audio)
    channel = pc.createDataChannel("oai-events")
    done = asyncio.Event()
    result = CallResult(0, "")
    tasks: list[asyncio.Task[None]] = []

    @channel.on("message")
    def on_message(message: str) -> None:
        event = json.loads(message)
        result.events.append(event)
        if event.get("type") == until:
            done.set()

    pc.on("track", lambda track: tasks.append(asyncio.create_task(_record(track, result.frames))))
    await pc.setLocalDescription(await pc.createOffer())
    client = AsyncOpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0, timeout=60)
    answer = await client.realtime.calls.create(sdp=pc.localDescription.sdp, session=session)  # type: ignore[arg-type]
    result.status = answer.response.status_code
    result.location = answer.response.headers.get("location", "")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
    try:
        await asyncio.wait_for(done.wait(), timeout_s)
    except asyncio.TimeoutError:
        pass
    finally:
        await pc.close()
        for t in tasks:
            t.cancel()
        await client.close()
    return result


def run_call(*args: Any, **kwargs: Any) -> CallResult:
    started = time.monotonic()
    result = asyncio.run(call(*args, **kwargs))
    result.events.append({"type": "test.elapsed", "s": time.monotonic() - started})
    return result
