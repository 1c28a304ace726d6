"""The WebRTC reply player: frames of what was queued then silence, OpenAI's
``output_audio_buffer.*`` events, and what was played when it is cleared (barge-in)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

pytest.importorskip("aiortc")

from voicecli.server.realtime.webrtc_media import FRAME_SAMPLES, TRACK_RATE_HZ, ReplyTrack  # noqa: E402


def _frames(track: ReplyTrack, n: int) -> list[np.ndarray]:
    async def pull() -> list[np.ndarray]:
        return [(await track.recv()).to_ndarray().reshape(-1) for _ in range(n)]

    return asyncio.run(pull())


def test_plays_the_queued_reply_then_silence_and_reports_start_and_stop() -> None:
    events: list[tuple[str, str]] = []
    track = ReplyTrack(lambda kind, rid: events.append((kind, rid)))
    tone = 0.5 * np.sin(np.arange(24_000 // 10) / 5).astype(np.float32)  # 100 ms at 24 kHz
    track.play("resp_1", "item_1", tone, 24_000)
    track.done("resp_1")
    frames = _frames(track, 8)  # 160 ms
    assert all(len(f) == FRAME_SAMPLES for f in frames)
    loud = [bool(np.abs(f).max() > 1000) for f in frames]
    assert loud == [True] * 5 + [False] * 3
    assert events == [("output_audio_buffer.started", "resp_1"), ("output_audio_buffer.stopped", "resp_1")]
    assert track.clear() is None  # nothing playing: nothing to cut


def test_clear_stops_at_once_and_says_how_much_of_the_item_played() -> None:
    events: list[tuple[str, str]] = []
    track = ReplyTrack(lambda kind, rid: events.append((kind, rid)))
    track.play("resp_1", "item_1", np.full(24_000, 0.3, np.float32), 24_000)  # 1 s
    frames = _frames(track, 10)  # 200 ms
    assert np.abs(frames[-1]).max() > 1000
    assert track.clear() == ("item_1", 200)
    assert events[-1] == ("output_audio_buffer.cleared", "resp_1")
    assert np.abs(_frames(track, 2)[-1]).max() == 0


def test_frames_are_paced_in_real_time() -> None:
    track = ReplyTrack(lambda kind, rid: None)

    async def pull() -> float:
        loop = asyncio.get_running_loop()
        await track.recv()
        start = loop.time()
        for _ in range(10):
            await track.recv()
        return loop.time() - start

    elapsed = asyncio.run(pull())
    assert elapsed == pytest.approx(10 * FRAME_SAMPLES / TRACK_RATE_HZ, abs=0.08)
