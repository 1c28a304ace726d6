"""Semantic end-of-turn policy (voicecli.vad.turn): the transcript veto, the verdict, the
endpointer it implies, and realtime eagerness → parameters. Pure tables."""

from __future__ import annotations

import pytest

from voicecli.vad.endpointer import EndpointerParams
from voicecli.vad.turn import (
    SemanticTurnParams,
    params_for_eagerness,
    transcript_finished,
    transcript_unfinished,
)


@pytest.mark.parametrize("text,unfinished", [
    # what tiny.en made of turns cut at a pause (benchmarks/turn_detector.py)
    ("Can you remind me to...", True),
    ("If it rains tomorrow...", True),
    ("What is the weather like in?", False),  # punctuated: left to the model (it said 0.04)
    ("So nothing is", True),
    ("um", True),
    ("Tell me about", True),
    ("I need eggs, milk,", True),
    ("And so my fellow Americans asked not", False),  # the words alone cannot tell
    # finished turns
    ("What is the capital of France?", False),
    ("Set on timer for 10 minutes", False),
    ("Go forward 10 meters.", False),
    ("Who wrote Pride and Prejudice?", False),
    ("Turn it on.", False),
    ("Ask what you can do for your country.", False),
    ("I can do it for you.", False),
    ("", False),
])
def test_transcript_unfinished(text, unfinished):
    assert transcript_unfinished(text) is unfinished


@pytest.mark.parametrize("text,finished", [
    ("Why is the sky new?", True),
    ("Who wrote Pride and Prejudice?", True),
    ("Ask not!", False),  # JFK went on: "!" is no end
    ("What is the weather like in?", False),  # a question mark after "in" ends nothing
    ("Go forward 10 meters.", False),  # a statement: the model judges
    ("And so my fellow American.", False),
    ("Can you remind me to...", False),
    ("Really?!", True),
    ("What is it?\"", True),
    ("Wait...?", False),
    ("", False),
])
def test_transcript_finished(text, finished):
    assert transcript_finished(text) is finished


@pytest.mark.parametrize("probability,transcript,complete", [
    (0.9, None, True),
    (0.49, None, False),
    (0.5, "Go forward 10 meters.", True),
    (0.99, "Can you remind me to...", False),  # trailing-off words veto the model
    (0.01, "Why is the sky blue?", True),  # a finished question needs no model (espeak: p 0.01)
    (0.2, "Go forward 10 meters.", False),  # a statement is the model's to judge
])
def test_verdict(probability, transcript, complete):
    assert SemanticTurnParams().complete(probability, transcript) is complete


def test_verdict_without_the_transcript_veto():
    assert SemanticTurnParams(use_transcript=False).complete(0.99, "Can you remind me to...")


def test_endpointer_gets_the_checkpoints_and_the_fallback_silence():
    base = EndpointerParams(end_silence_ms=400, preroll_ms=200)
    p = SemanticTurnParams(checks_ms=(600, 200, 2000), max_silence_ms=1500, words_end_ms=None).endpointer(base)
    assert p.check_silence_ms == (200, 600)  # sorted; a check past the fallback is dropped
    assert p.end_silence_ms == 1500
    assert p.preroll_ms == 200
    with_words = SemanticTurnParams(checks_ms=(200, 600), max_silence_ms=1500, words_end_ms=800).endpointer(base)
    assert with_words.check_silence_ms == (200, 600, 800)  # the words are asked once more


@pytest.mark.parametrize("text,silence_ms,verdict", [
    ("Can you tell me a fun fact about the moon", 600, None),  # the model judges
    ("Can you tell me a fun fact about the moon", 800, True),  # words that do not trail off end it
    ("And so my fellow Americans,", 800, False),  # trailing off: still waiting
    ("Um.", 800, False),  # a hesitation is no turn, full stop or not
    ("I would like a pizza with", 1200, False),
    ("", 800, None),  # no words: the model (or the fallback)
])
def test_words_end_the_turn_after_words_end_ms(text, silence_ms, verdict):
    params = SemanticTurnParams(words_end_ms=800)
    assert params.verdict_from_words(text, silence_ms) is verdict
    assert SemanticTurnParams(words_end_ms=None).verdict_from_words(text, 5000) is (False if verdict is False else None)


@pytest.mark.parametrize("eagerness,check,fallback", [
    ("high", 160, 2000), ("medium", 200, 4000), ("auto", 200, 4000), (None, 200, 4000), ("low", 300, 8000)])
def test_eagerness_maps_onto_the_turn_detector(eagerness, check, fallback):
    p = params_for_eagerness(eagerness)
    assert (p.checks_ms[0], p.max_silence_ms) == (check, fallback)


def test_eagerness_orders_the_thresholds():
    assert (params_for_eagerness("high").threshold < params_for_eagerness("medium").threshold
            < params_for_eagerness("low").threshold)


def test_unknown_eagerness_is_refused():
    with pytest.raises(ValueError, match="eagerness"):
        params_for_eagerness("eager")
