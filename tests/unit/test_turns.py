import pytest

from voicecli.llm.types import ChatMessage, trim_history
from voicecli.pipeline.conversation import heard_text


@pytest.mark.parametrize("played,expected", [
    ({}, ""),
    ({0: 100}, "One two three four."),
    ({0: 50}, "One two three"),  # by letters (a pause after "four."): the middle of "three" is at 11/22
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


def test_echo_gate_tells_headphones_from_speakers():
    import numpy as np

    from voicecli.audio.echo_gate import EchoCouplingGate

    rng = np.random.default_rng(0)
    far = rng.standard_normal(512 * 60).astype(np.float32) * 0.2
    user = rng.standard_normal(512 * 60).astype(np.float32) * 0.2
    delayed = np.concatenate([np.zeros(800, np.float32), far])[: len(far)]
    cases = {"headphones_silent": np.zeros_like(far) + 1e-4, "headphones_user_talks": user,
             "speaker": 0.5 * delayed, "speaker_user_talks": 0.5 * delayed + 0.5 * user}
    gates = {k: EchoCouplingGate() for k in cases}
    nothing_played = EchoCouplingGate()
    for i in range(60):
        sl = slice(i * 512, (i + 1) * 512)
        for k, mic in cases.items():
            gates[k].observe(mic[sl], far[sl])
        nothing_played.observe(user[sl], far[sl] * 0.001)
    assert gates["headphones_silent"].echo_free
    assert gates["headphones_user_talks"].echo_free
    assert not gates["speaker"].echo_free and gates["speaker"].coupling > 0.9
    assert not gates["speaker_user_talks"].echo_free
    assert not nothing_played.echo_free  # no evidence: assume a loudspeaker


def test_history_is_forgotten_in_steps_so_the_prompt_prefix_stays_stable():
    from voicecli.llm.types import messages_to_forget

    system = ChatMessage("system", "sys")
    turns = []
    prefixes = []
    for i in range(30):
        turns.append(ChatMessage("user", f"question {i} " + "x " * 8))
        drop = messages_to_forget(system, turns, budget_tokens=120, count=words)
        del turns[:drop]
        prefixes.append(turns[0].content)
        turns.append(ChatMessage("assistant", f"answer {i} " + "y " * 8))
        assert sum(words(m.content) + 4 for m in turns[:-1]) + 1 <= 120
        assert turns[0].role == "user"
    changes = sum(1 for a, b in zip(prefixes, prefixes[1:], strict=False) if a != b)
    assert 0 < changes <= 10  # trimmed now and then, not every turn


def test_heard_text_counts_only_the_voiced_span_of_a_piece():
    # piece 1 starts with 40 samples of the voice's silence and ends with 20: having played 70
    # samples is 30 % of its speech, so only the first of its three words (middle at 3/19)
    pieces = ["One two.", "Three four five."]
    queued = {0: 100, 1: 160}
    voiced = {0: (0, 100), 1: (40, 140)}
    assert heard_text(pieces, {0: 100, 1: 70}, queued, voiced) == "One two. Three"
    assert heard_text(pieces, {0: 100, 1: 30}, queued, voiced) == "One two."  # still its leading silence
    assert heard_text(pieces, {0: 100, 1: 160}, queued, voiced) == "One two. Three four five."


def test_interrupted_reply_is_stored_as_the_words_heard_without_a_marker():
    # "The …" in the history taught SmolLM2 to answer "The …" to everything
    from voicecli.pipeline.chat_context import ChatContext

    ctx = ChatContext()
    ctx.add_turn("Tell me a story.", "Once upon a time", interrupted=True)
    ctx.add_turn("Stop.", "Okay.", interrupted=False)
    assert [m.content for m in ctx.messages] == ["Tell me a story.", "Once upon a time", "Stop.", "Okay."]
    ctx.truncate_reply("Stop.", "Okay.", "Ok")
    assert ctx.messages[-1].content == "Ok"
