"""llama.cpp takes only the cores other programs leave free: with the real SmolLM2 model, a busy
core (as measured) makes the next reply run on one thread, an idle machine on the configured two,
and switching between them keeps the model answering."""

from __future__ import annotations

import pytest

from voicecli.llm.types import ChatMessage, GenerationOptions

pytestmark = pytest.mark.models

ASK = [ChatMessage("system", "Be brief."), ChatMessage("user", "What is the capital of France?")]
GREEDY = GenerationOptions(max_tokens=12, temperature=0.0)


def test_the_reply_runs_on_the_free_cores_and_says_the_same(engines, monkeypatch):
    chat = engines.chat
    assert chat._max_threads == 2  # the default llm.threads
    monkeypatch.setattr(chat._other_load, "cores", lambda: 1.0)  # a build keeps one core busy
    busy = "".join(chat.stream(ASK, GREEDY))
    assert chat.threads == 1
    monkeypatch.setattr(chat._other_load, "cores", lambda: 0.0)  # it finished
    idle = "".join(chat.stream(ASK, GREEDY))
    assert chat.threads == 2
    assert busy.strip() and idle.strip()
