"""The ``openai-agents`` SDK's ``RealtimeRunner`` / ``RealtimeAgent`` pointed at ``voicecli serve``
(model config ``url`` and ``api_key``). The SDK validates every server event against OpenAI's
schema and reports one it cannot parse (an unknown type, a missing field) as an ``error`` event
or raises it from the session: a spoken question must get a spoken answer with neither."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.e2e.serve.rt_client import RATE, load_wav_24k
from tests.helpers import word_overlap

pytestmark = [pytest.mark.models]

CHUNK = int(0.04 * RATE)


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


async def agent_turn(url: str, api_key: str, clip: np.ndarray, timeout_s: float = 120) -> list[Any]:
    """One spoken question through a RealtimeRunner session; every session event until the
    agent's turn ends."""
    from agents.realtime import RealtimeAgent, RealtimeRunner

    agent = RealtimeAgent(name="assistant", instructions="Answer in one short sentence.")
    runner = RealtimeRunner(agent, config={"model_settings": {
        "model_name": "voicecli", "output_modalities": ["audio"],
        "input_audio_transcription": {"model": "whisper-1"}, "turn_detection": {"type": "server_vad"}}})
    session = await runner.run(model_config={"url": url, "api_key": api_key})
    events: list[Any] = []

    async def microphone() -> None:
        pcm = pcm16(np.concatenate([clip, np.zeros(int(1.5 * RATE), np.float32)]))
        for i in range(0, len(pcm), 2 * CHUNK):
            await session.send_audio(pcm[i:i + 2 * CHUNK])
            await asyncio.sleep(0.01)

    async def listen() -> None:
        async for event in session:
            events.append(event)
            if event.type in ("agent_end", "error"):
                return

    async with session:
        mic = asyncio.create_task(microphone())
        try:
            await asyncio.wait_for(listen(), timeout_s)
        finally:
            mic.cancel()
    return events


def history_text(events: list[Any], role: str) -> str:
    """The transcripts of the last history's ``role`` messages."""
    history = [e.history for e in events if e.type == "history_updated"]
    parts = []
    for item in history[-1] if history else []:
        if getattr(item, "role", None) == role:
            parts += [getattr(c, "transcript", None) or getattr(c, "text", None) or "" for c in item.content]
    return " ".join(parts)


def test_realtime_runner_speaks_with_voicecli(server, caplog):
    caplog.set_level(logging.WARNING, logger="openai.agents")  # "Failed to validate server event"
    question = load_wav_24k(EXAMPLES / "question.wav")
    events = asyncio.run(agent_turn(f"{server.ws_url}/realtime?model=voicecli", server.api_key, question))
    errors = [e.error for e in events if e.type == "error"]
    assert not errors, errors
    raw = [e.data.type for e in events if e.type == "raw_model_event"]
    assert "error" not in raw and "exception" not in raw
    assert events[-1].type == "agent_end"
    audio = b"".join(e.audio.data for e in events if e.type == "audio")
    assert len(audio) > RATE  # > 0.5 s of 24 kHz PCM16 spoken back
    assert word_overlap(history_text(events, "user"), "What is the capital of France?") >= 0.6
    assert history_text(events, "assistant").strip()
    assert not [r.getMessage() for r in caplog.records], "the SDK complained"
