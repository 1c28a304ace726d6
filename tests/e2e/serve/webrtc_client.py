"""A WebRTC realtime client on aiortc and the official ``openai`` SDK's ``realtime.calls.create``:
spoken clips as the microphone (on cue), the ``oai-events`` data channel, the server's reply recorded
from the remote track (48 kHz mono float)."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame
from openai import AsyncOpenAI

from tests.e2e.serve.conftest import Server
from voicecli.audio.resample import resample

TRACK_RATE = 48_000
FRAME = TRACK_RATE // 50


class ScriptedMic(MediaStreamTrack):  # type: ignore[misc]
    """The caller's microphone: silence, and the clips :meth:`say` is given, in real time
    (20 ms frames at 48 kHz)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[np.ndarray] = []
        self.start: float | None = None
        self.pts = 0

    def say(self, clip: np.ndarray, rate: int) -> None:
        self.queue.append(resample(clip, rate, TRACK_RATE))

    async def recv(self) -> AudioFrame:
        if self.start is None:
            self.start = time.time()
        else:
            self.pts += FRAME
            await asyncio.sleep(max(0.0, self.start + self.pts / TRACK_RATE - time.time()))
        out = np.zeros(FRAME, np.float32)
        filled = 0
        while filled < FRAME and self.queue:
            k = min(FRAME - filled, len(self.queue[0]))
            out[filled:filled + k] = self.queue[0][:k]
            self.queue[0] = self.queue[0][k:]
            filled += k
            if not len(self.queue[0]):
                self.queue.pop(0)
        pcm = (np.clip(out, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = TRACK_RATE, self.pts, fractions.Fraction(1, TRACK_RATE)
        return frame


@dataclass
class CallResult:
    status: int
    location: str
    events: list[dict[str, Any]] = field(default_factory=list)
    received_s: list[float] = field(default_factory=list)
    """When each event arrived (monotonic seconds)."""
    frames: list[np.ndarray] = field(default_factory=list)
    """The remote track's frames (48 kHz mono float), silence included."""

    def at(self, kind: str) -> float:
        """When the first event of ``kind`` arrived."""
        return self.received_s[[e.get("type") for e in self.events].index(kind)]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    @property
    def reply_audio(self) -> np.ndarray:
        audio = np.concatenate(self.frames) if self.frames else np.zeros(0, np.float32)
        loud = np.flatnonzero(np.abs(audio) > 0.01)
        pad = TRACK_RATE // 2  # the silence around it, as a recording would have
        return audio[max(0, loud[0] - pad):loud[-1] + pad] if len(loud) else audio[:0]


async def _record(track: Any, frames: list[np.ndarray]) -> None:
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        pcm = frame.to_ndarray().astype(np.float32) / 32768.0
        channels = len(frame.layout.channels)
        frames.append(pcm.reshape(-1, channels).mean(axis=1) if not frame.format.is_planar else pcm.mean(axis=0))


async def call(server: Server, mic: Any, session: dict[str, Any], until: str = "output_audio_buffer.stopped",
               timeout_s: float = 150, on_event: Callable[[dict[str, Any]], None] | None = None) -> CallResult:
    """One call: offer (``mic``, a :class:`ScriptedMic`, and ``oai-events``), POST through the
    SDK, answer, then collect events (each also to ``on_event``) and the reply audio until the
    event ``until`` (or the timeout), and hang up."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(mic)
    channel = pc.createDataChannel("oai-events")
    done = asyncio.Event()
    result = CallResult(0, "")
    tasks: list[asyncio.Task[None]] = []

    @channel.on("message")
    def on_message(message: str) -> None:
        event = json.loads(message)
        result.events.append(event)
        result.received_s.append(time.monotonic())
        if on_event is not None:
            on_event(event)
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
