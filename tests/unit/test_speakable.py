"""The split_for_speech policy: whole texts are normalised then cut; streams are cut then
normalised piece by piece."""

from __future__ import annotations

import re

import pytest

from voicecli.tts.chunker import ChunkerParams, SpeechChunker
from voicecli.tts.normalize import normalize_for_speech
from voicecli.tts.speakable import (
    WHOLE_TEXT_CHUNKS,
    SpeakableStream,
    SpeechPiece,
    speakable_text,
    split_for_speech,
    whole_sentences,
)

TEXTS = [
    "Hello.",
    "The total is $3.50, or 12% more than last year. Dr. Smith agreed!",
    "# Steps\n- open the door\n- say hi 👋\n\nThat's all, see https://example.com/docs for more.",
    "one two three four five six seven, eight nine ten. " * 6,
    "```python\nprint(1)\n```\nDone.",
]


@pytest.mark.parametrize("text", TEXTS)
def test_split_for_speech_is_normalise_then_chunk(text):
    chunker = SpeechChunker(ChunkerParams(first_chunk_min_words=6, max_chunk_words=40))
    expected = [*chunker.push(normalize_for_speech(text) + " "), *chunker.flush()]
    assert split_for_speech(text) == expected
    assert all(p and p == p.strip() for p in split_for_speech(text))


@pytest.mark.parametrize("text,pieces", [
    ("", []),
    ("   ", []),
    ("👋 🎉", []),
    ("Hi there. How are you today, my good friend? Fine.",
     ["Hi there.", "How are you today, my good friend?", "Fine."]),
    ("It costs $5.", ["It costs five dollars."]),
])
def test_split_for_speech_table(text, pieces):
    assert split_for_speech(text) == pieces


def test_code_blocks_are_dropped_from_whole_texts_but_only_per_piece_from_streams():
    text = "```\nx = 1\n```\nDone."
    assert split_for_speech(text) == ["Done."]
    stream = SpeakableStream()
    spoken = [p.spoken for p in [*stream.push(text), *stream.flush()]]
    assert spoken[-1] == "Done." and "```" not in " ".join(spoken)


def test_ssml_tags_are_dropped():
    assert speakable_text("<speak>Hello <break time='1s'/>world</speak>", ssml=True) == "Hello world"
    assert split_for_speech("<speak>One. Two.</speak>", ssml=True) == ["One.", "Two."]
    assert "<" in speakable_text("a <b> c")  # plain text keeps angle brackets


def test_stream_pieces_keep_the_written_text_and_say_the_normalised_one():
    stream = SpeakableStream(ChunkerParams(first_chunk_min_words=4))
    pieces: list[SpeechPiece] = []
    for token in re.findall(r"\s*\S+", "It is **3** degrees, and the wind is strong. 👋 Stay in."):
        pieces.extend(stream.push(token))
    pieces.extend(stream.flush())
    assert [p.text for p in pieces] == ["It is **3** degrees,", "and the wind is strong.", "👋 Stay in."]
    assert [p.spoken for p in pieces] == ["It is three degrees,", "and the wind is strong.", "Stay in."]


def test_stream_drops_pieces_with_nothing_to_say():
    stream = SpeakableStream()
    assert stream.push("👋\n") == []
    assert stream.push("Hello there.\n") == [SpeechPiece("Hello there.", "Hello there.")]
    assert stream.flush() == []


def test_whole_sentences_has_no_early_first_clause():
    params = whole_sentences(ChunkerParams(first_chunk_min_words=4, max_chunk_words=30))
    assert params == ChunkerParams(first_chunk_min_words=30, max_chunk_words=30)
    assert split_for_speech("Well, I think that is right, in the end. Yes.", params) == [
        "Well, I think that is right, in the end.", "Yes."]
    assert WHOLE_TEXT_CHUNKS.first_chunk_min_words == 6
