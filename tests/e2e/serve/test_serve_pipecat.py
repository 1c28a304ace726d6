"""Pipecat's ``OpenAIRealtimeLLMService`` (a voice-agent framework's OpenAI Realtime integration)
pointed at ``voicecli serve``: a spoken question gets a spoken answer, and Pipecat reports no
error. Pipecat runs in a venv of its own (``make pipecat-venv`` builds ``.venv-pipecat``; its
dependencies conflict with voicecli's), as a subprocess (:mod:`.pipecat_client`); without that
venv the test is skipped."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.helpers import word_overlap

pytestmark = [pytest.mark.models]

CLIENT = Path(__file__).with_name("pipecat_client.py")
CANDIDATES = [os.environ.get("VOICECLI_PIPECAT_PYTHON", ""), str(ROOT / ".venv-pipecat" / "bin" / "python"),
              "/tmp/pipecat-venv/bin/python"]
PIPECAT_PYTHON = next((Path(p) for p in CANDIDATES if p and Path(p).exists()), None)


@pytest.mark.skipif(PIPECAT_PYTHON is None, reason="no Pipecat venv (make pipecat-venv)")
def test_pipecat_realtime_service_speaks_with_voicecli(server):
    assert PIPECAT_PYTHON is not None
    out = subprocess.run([str(PIPECAT_PYTHON), str(CLIENT), f"{server.ws_url}/realtime", server.api_key,
                          str(EXAMPLES / "question.wav")], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert not result["errors"], result["errors"]
    assert word_overlap(result["user"], "What is the capital of France?") >= 0.6, result
    assert result["audio_bytes"] > 24_000, result  # > 0.5 s of 24 kHz PCM16 spoken back
    assert result["assistant"].strip(), result
