"""PROOF for talk's tools (issue 13): ``voicecli talk`` on a spoken question from a file, with
an MCP server started here (tests/mcp_token_server.py over stdio, a random word as its token)
configured in config.toml and the tool choice forced by config (the bundled SmolLM2-135M rarely
calls tools on its own). The reply audio, transcribed back with the project's STT, says the
token; --json shows the call and its result; the saved history holds both."""

from __future__ import annotations

import json
import random
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.helpers import json_lines, read_wav, run_voicecli, silence, write_wav

pytestmark = [pytest.mark.models, pytest.mark.slow]
pytest.importorskip("mcp")

TOKENS = ("banana", "purple", "orange", "pencil", "rocket", "garden", "silver")
"""Plain words the tiny model repeats and Whisper spells one way; one is picked per run. Each was
checked (2026-12-01, all seven pass): with "tiger" SmolLM2 at temperature 0 says "The secret word
is not a word." every time, so a CI run that drew it failed."""
SYSTEM = "You are a voice assistant. When a tool gives you a word, say only: The secret word is WORD."


def spoken(engines, text: str):
    from voicecli.audio.resample import resample

    chunks = [c.samples for c in engines.speaker.synthesize(text)]
    return resample(np.concatenate(chunks), engines.speaker.sample_rate_hz, 16000)


def heard(engines, samples: np.ndarray, rate: int) -> str:
    from voicecli.audio.resample import resample
    from voicecli.stt.types import TranscribeOptions

    return engines.transcriber.transcribe(resample(samples, rate, 16000), TranscribeOptions(language="en")).text


def test_spoken_question_answered_with_the_mcp_tools_token(tmp_path, engines):
    token = random.choice(TOKENS)
    question = write_wav(tmp_path / "question.wav", np.concatenate(
        [silence(1.0), spoken(engines, "What is the secret word?"), silence(4.0)]))
    config = tmp_path / "config.toml"
    config.write_text(
        f"[llm]\nsystem_prompt = {json.dumps(SYSTEM)}\nmax_reply_tokens = 24\ntemperature = 0.0\n"
        f'[tools]\nuse = true\ntool_choice = "secret_word"\n'
        f"[tools.mcp.quiz]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(ROOT / 'tests' / 'mcp_token_server.py'))}, {json.dumps(token)}]\n")
    wav_out, db = tmp_path / "out.wav", tmp_path / "history.sqlite3"
    env = {"VOICECLI_CONFIG": str(config)}
    r = run_voicecli("talk", "--input", str(question), "--output", str(wav_out), "--json", "--history", str(db),
                     env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    events = json_lines(r.stdout)
    calls = [e for e in events if e["type"] == "tool_call"]
    results = [e for e in events if e["type"] == "tool_result"]
    turns = [e for e in events if e["type"] == "turn"]
    assert len(turns) == 1 and "secret" in turns[0]["user"].lower(), r.stdout
    assert [c["name"] for c in calls] == ["secret_word"] and json.loads(calls[0]["arguments"]) == {}
    assert results[0]["id"] == calls[0]["id"] and results[0]["output"] == token and not results[0]["error"]
    # The reply, as heard: the output file transcribed with the project's STT.
    out, rate = read_wav(wav_out)
    said = heard(engines, out, rate)
    print(f"token {token!r}; reply {turns[0]['assistant']!r}; heard {said!r}")
    assert token in said.lower(), (token, said, turns[0]["assistant"])
    # The saved history holds the call and its result (through `voicecli history`).
    shown = run_voicecli("history", "last", "--json", "--history", str(db), env=env)
    assert shown.returncode == 0, shown.stderr
    saved = json.loads(shown.stdout)["turns"]
    assert saved[0]["tools"] == [{"id": calls[0]["id"], "name": "secret_word", "arguments": calls[0]["arguments"],
                                  "output": token, "error": False}]
    plain = run_voicecli("history", "last", "--history", str(db), env=env)
    assert f"tool: secret_word() → {token}" in plain.stdout
