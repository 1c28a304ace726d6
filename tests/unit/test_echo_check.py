"""Own-voice verdicts: a transcript that is (nearly) a stretch of what was just played is an
echo; anything else is the user, unless the loudspeaker explains the whole utterance."""

from __future__ import annotations

import pytest

from voicecli.pipeline.echo_check import AcousticEvidence, is_own_echo, substring_distance, words

PLAYED = ("The fisherman and the cat. They were both clever and cunning, always finding ways to "
          "outsmart the island of the key, in the heart of a bustling city.")


@pytest.mark.parametrize("heard,own", [
    ("the fisherman and the cat", True),
    ("the fishermen in the cat. They were both clever.", True),  # garbled, still a run of it
    ("the island of the dress.", True),
    ("and our bustling city.", True),  # "of a bustling city", misheard
    ("the", True),
    ("", True),  # no words: not a user turn
    ("...", True),
    ("What is the capital of France?", False),
    ("Stop, tell me about the weather instead.", False),
    ("How many legs does a spider have?", False),
    ("Wait, what is the capital of France?", False),
    ("Sorry, why is the sky blue?", False),
    ("Excuse me, what time is it in Tokyo?", False),
    ("Stop", False),
    ("Hold on", False),  # "on" was played, "hold" was not
    ("Hold on, what should I cook for dinner tonight?", False),
    ("I'm on the left shoulder, I'll look for dinner tonight.", False),
    ("What is the capital of the island?", False),  # mostly played words, but not a run of them
    ("the heart of a", True),
])
def test_transcript_against_played_text(heard, own):
    assert is_own_echo(heard, PLAYED) is own


def test_hallucination_on_echo_is_caught_by_the_signal():
    hallucination = "I'll go ahead."
    assert not is_own_echo(hallucination, PLAYED)
    assert is_own_echo(hallucination, PLAYED, AcousticEvidence(far_coverage=1.0, ncc=0.9))
    # a user who talks on after the loudspeaker stopped is not explained by it
    assert not is_own_echo(hallucination, PLAYED, AcousticEvidence(far_coverage=0.4, ncc=0.9))
    assert not is_own_echo(hallucination, PLAYED, AcousticEvidence(far_coverage=1.0, ncc=0.2))


def test_substring_distance_is_free_at_both_ends():
    assert substring_distance(words("b c"), words("a b c d")) == 0
    assert substring_distance(words("b x d"), words("a b c d")) == 1
    assert substring_distance(words("q r s"), words("a b")) == 3
