import pytest

from voicecli.llm.types import ChatMessage, trim_history
from voicecli.pipeline.conversation import heard_text


@pytest.mark.parametrize("played,expected", [
    ({}, ""),
    ({0: 100}, "One two three four."),
    ({0: 50}, "One two"),
    ({0: 100, 1: 10}, "One two three four."),
    ({0: 100, 1: 100}, "One two three four. Five six."),
])
def test_heard_text(played, expected):
    pieces = ["One two three four.", "Five six."]
    queued = {0: 100, 1: 100}
    assert heard_text(pieces, played, queued) == expected


def words(text):
    return len(text.split())


def test_trim_history_drops_oldest_first_and_keeps_latest():
    system = ChatMessage("system", "sys")
    turns = []
    for i in range(10):
        turns += [ChatMessage("user", f"question {i} " + "x " * 10), ChatMessage("assistant", f"answer {i} " + "y " * 10)]
    turns.append(ChatMessage("user", "latest question"))
    kept = trim_history(system, turns, budget_tokens=60, count=words)
    assert kept[0] == system
    assert kept[-1].content == "latest question"
    assert kept[1].role == "user"  # never start with an orphan assistant message
    assert "question 0" not in " ".join(m.content for m in kept)
    assert sum(words(m.content) + 4 for m in kept[1:]) + 1 <= 60


def test_trim_history_always_keeps_latest_even_if_too_long():
    system = ChatMessage("system", "sys")
    kept = trim_history(system, [ChatMessage("user", "z " * 500)], budget_tokens=10, count=words)
    assert len(kept) == 2
