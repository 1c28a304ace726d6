"""The next reply's prompt evaluated ahead of time (``LlamaChat.prefill``), with the real
SmolLM2: the reply is token for token what it is without it (greedy), even when the words
prefilled were a partial transcript that the final one changed; the prefix it evaluated is in the
cache when the reply starts; and a reply that wants the model stops it between batches."""

from __future__ import annotations

import threading

import pytest

from voicecli.llm.types import ChatMessage, GenerationOptions

pytestmark = pytest.mark.models

HISTORY = [ChatMessage("system", "Be brief."), ChatMessage("user", "What is the capital of France?"),
           ChatMessage("assistant", "The capital of France is Paris.")]
QUESTION = ChatMessage("user", "How many legs does a spider have?")
GREEDY = GenerationOptions(max_tokens=16, temperature=0.0)


def _reply(chat, messages) -> str:
    return "".join(chat.stream(messages, GREEDY))


def test_a_prefilled_prompt_gives_the_same_reply(engines):
    chat = engines.chat
    chat.prefill([ChatMessage("system", "Something else entirely.")] + [ChatMessage("user", "")])
    plain = _reply(chat, [*HISTORY, QUESTION])
    evaluated = chat.prefill([*HISTORY, ChatMessage("user", "")])  # idle: the history and the user's turn
    evaluated += chat.prefill([*HISTORY, ChatMessage("user", "How many eyes does a")])  # a partial, later corrected
    assert evaluated > 0
    ahead = chat._llm.n_tokens
    assert _reply(chat, [*HISTORY, QUESTION]) == plain
    assert ahead > 0


def test_a_prefill_gives_way_to_a_reply_that_wants_the_model(engines):
    chat = engines.chat
    long_words = " ".join(["and then we walked along the river"] * 12)
    stop = threading.Event()
    stop.set()  # told to give way from the start: nothing is evaluated
    assert chat.prefill([ChatMessage("system", "Be brief."), ChatMessage("user", long_words)], give_way=stop.is_set) == 0
    done = chat.prefill([ChatMessage("system", "Be brief."), ChatMessage("user", long_words)])
    assert done > 40  # the whole prompt when nothing else wants the cores
    assert _reply(chat, [*HISTORY, QUESTION]).strip()


def test_a_prefill_that_gives_way_leaves_the_cached_reply_prompt_intact(engines):
    """Regression (eight realtime sessions asking the same first question on one server: half
    the replies were empty). A prefill that shared exactly the last reply's prompt with the cache
    cut the cache back to it and gave way before evaluating anything; the next identical prompt
    was then an "exact hit" for llama-cpp-python, which sampled from the logits of the reply's
    last token ("Paris." → end of turn) and answered nothing."""
    chat = engines.chat
    asked = [ChatMessage("system", "Be brief."), ChatMessage("user", "What is the capital of France?")]
    first = _reply(chat, asked)
    assert first.strip()
    went_on = [*asked, ChatMessage("assistant", "Zebras " + first), ChatMessage("user", "")]
    assert chat.prefill(went_on, give_way=lambda: True) == 0
    assert _reply(chat, asked) == first
