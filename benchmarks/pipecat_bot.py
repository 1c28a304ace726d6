"""A Pipecat voice bot with voicecli's models, on the default sound devices: the peer for the
device-loop benchmark (``benchmarks/device_loop.py --command``).

pipecat-ai 1.14 with its recommended local settings: Silero VAD (``stop_secs`` 0.2) and
``LocalSmartTurnAnalyzerV3`` (pipecat's default turn stop strategy), faster-whisper ``tiny.en``
(int8, CPU), the llama.cpp server (``llama_cpp.server`` from voicecli's venv) with SmolLM2-135M,
Piper ``en_US-joe-medium``, PyAudio in and out (``LocalAudioTransport``) — the same model files
voicecli uses, the same system prompt.

Two processes: run with voicecli's Python, this script finds the model files, starts the
llama.cpp server on a free loopback port and runs itself again with Pipecat's Python
(``--pipecat-python``) as the bot:

    python3 -m venv /tmp/pipecat-venv
    /tmp/pipecat-venv/bin/pip install "pipecat-ai[local,whisper,piper,openai]==1.14.0"   # apt: portaudio19-dev
    .venv/bin/python benchmarks/device_loop.py --runs 3 --variant "voicecli:" \\
        --command "pipecat:.venv/bin/python benchmarks/pipecat_bot.py --pipecat-python /tmp/pipecat-venv/bin/python"
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(pipecat_python: str) -> int:
    """voicecli's venv: resolve the models, start the LLM server, run the bot in Pipecat's venv."""
    sys.path.insert(0, str(ROOT))
    from voicecli.bench.virtual_audio import stop_process
    from voicecli.config import Settings
    from voicecli.engines import resolver

    settings = Settings()
    models = resolver(settings)
    whisper = models.resolve("stt", settings.stt.model).path
    llm = models.resolve("llm", settings.llm.model).path
    voice = models.resolve("tts", settings.tts.voice).path
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(llm), "--host", "127.0.0.1",
                               "--port", str(port), "--n_threads", str(settings.llm.threads),
                               "--n_ctx", str(settings.llm.context_tokens)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/models", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the llama.cpp server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.5)
        bot = subprocess.Popen([pipecat_python, __file__, "--bot", "--whisper", str(whisper), "--voice", str(voice),
                                "--llm-url", url, "--system", settings.llm.system_prompt,
                                "--max-tokens", str(settings.llm.max_reply_tokens)])
        signal.signal(signal.SIGTERM, lambda *_: bot.terminate())
        return bot.wait()
    finally:
        stop_process(server, 10)


async def bot(a: argparse.Namespace) -> None:
    """Pipecat's venv: the bot itself."""
    from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VADParams
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineParams, PipelineTask
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.services.openai.llm import OpenAILLMService
    from pipecat.services.piper.tts import PiperTTSService
    from pipecat.services.whisper.stt import WhisperSTTService
    from pipecat.transports.local.audio import LocalAudioTransport, LocalAudioTransportParams
    from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
    from pipecat.turns.user_turn_strategies import UserTurnStrategies

    voice = Path(a.voice)
    transport = LocalAudioTransport(LocalAudioTransportParams(audio_in_enabled=True, audio_out_enabled=True))
    stt = WhisperSTTService(device="cpu", compute_type="int8",
                            settings=WhisperSTTService.Settings(model=a.whisper, language="en"))
    llm = OpenAILLMService(api_key="unused", base_url=a.llm_url,
                           settings=OpenAILLMService.Settings(model="smollm2", max_tokens=a.max_tokens,
                                                              temperature=0.3))
    tts = PiperTTSService(download_dir=voice.parent, settings=PiperTTSService.Settings(voice=voice.stem))
    context = LLMContext(messages=[{"role": "system", "content": a.system}])
    user_params = LLMUserAggregatorParams(
        vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=0.2)),
        user_turn_strategies=UserTurnStrategies(
            stop=[TurnAnalyzerUserTurnStopStrategy(turn_analyzer=LocalSmartTurnAnalyzerV3())]))
    user, assistant = LLMContextAggregatorPair(context, user_params=user_params)
    pipeline = Pipeline([transport.input(), stt, user, llm, tts, transport.output(), assistant])
    task = PipelineTask(pipeline, params=PipelineParams(enable_metrics=True))
    await PipelineRunner(handle_sigint=True).run(task)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipecat-python", default=os.environ.get("PIPECAT_PYTHON", "/tmp/pipecat-venv/bin/python"))
    ap.add_argument("--bot", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--whisper", help=argparse.SUPPRESS)
    ap.add_argument("--voice", help=argparse.SUPPRESS)
    ap.add_argument("--llm-url", help=argparse.SUPPRESS)
    ap.add_argument("--system", help=argparse.SUPPRESS)
    ap.add_argument("--max-tokens", type=int, default=96, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.bot:
        import asyncio

        asyncio.run(bot(a))
        return 0
    return launch(a.pipecat_python)


if __name__ == "__main__":
    raise SystemExit(main())
