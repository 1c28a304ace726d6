"""One spoken turn through Pipecat's ``OpenAIRealtimeLLMService`` pointed at a realtime server.

Runs in a venv of its own with ``pipecat-ai[openai]`` (Pipecat's dependencies conflict with
voicecli's: ``make pipecat-venv``), so it imports neither voicecli nor the tests. Usage:
``python pipecat_client.py WS_URL API_KEY WAV`` (WS_URL: ``ws://host:port/v1/realtime``); prints
one JSON object: the errors Pipecat reported (error frames, error log lines), the user's
transcript, the reply's text and how many bytes of reply audio came out."""

from __future__ import annotations

import asyncio
import json
import sys
import wave

from loguru import logger
from pipecat.frames.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.workers.runner import WorkerRunner

CHUNK_MS = 20
TIMEOUT_S = 120


class Tap(FrameProcessor):
    """Records the frames passing it in one direction."""

    def __init__(self, direction: FrameDirection, on_frame) -> None:
        super().__init__()
        self._direction = direction
        self._on_frame = on_frame

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == self._direction:
            self._on_frame(frame)
        await self.push_frame(frame, direction)


async def main(url: str, api_key: str, wav_path: str) -> dict:
    result: dict = {"errors": [], "user": "", "assistant": "", "audio_bytes": 0}
    logger.remove()
    logger.add(lambda m: result["errors"].append(str(m).strip()), level="ERROR")
    done = asyncio.Event()

    def seen(frame: Frame) -> None:
        if isinstance(frame, ErrorFrame):
            result["errors"].append(frame.error)
            done.set()
        elif isinstance(frame, TranscriptionFrame):
            result["user"] += frame.text
        elif isinstance(frame, TTSTextFrame):
            result["assistant"] += frame.text + " "
        elif isinstance(frame, TTSAudioRawFrame):
            result["audio_bytes"] += len(frame.audio)
        elif isinstance(frame, LLMFullResponseEndFrame) and result["audio_bytes"]:
            done.set()

    llm = OpenAIRealtimeLLMService(api_key=api_key, base_url=url)
    worker = PipelineWorker(Pipeline([Tap(FrameDirection.UPSTREAM, seen), llm, Tap(FrameDirection.DOWNSTREAM, seen)]),
                            cancel_on_idle_timeout=False)
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker, _frame) -> None:
        started.set()

    async def speak() -> None:
        with wave.open(wav_path, "rb") as w:
            rate, pcm = w.getframerate(), w.readframes(w.getnframes())
        pcm += bytes(2 * int(1.5 * rate))  # then silence: the server's VAD ends the turn
        await asyncio.wait_for(started.wait(), 30)
        await asyncio.sleep(1.0)  # the session.update goes out first
        step = 2 * rate * CHUNK_MS // 1000
        for i in range(0, len(pcm), step):
            await worker.queue_frame(InputAudioRawFrame(audio=pcm[i:i + step], sample_rate=rate, num_channels=1))
            await asyncio.sleep(CHUNK_MS / 1000)
        try:
            await asyncio.wait_for(done.wait(), TIMEOUT_S)
        except asyncio.TimeoutError:
            result["errors"].append(f"no reply within {TIMEOUT_S} s")
        await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), speak())
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:4]))))
