import pytest

from voicecli.tts.chunker import ChunkerParams, SpeechChunker

DEFAULT = ChunkerParams()


def stream(text, step=3, params=DEFAULT):
    c = SpeechChunker(params)
    out = []
    for i in range(0, len(text), step):
        out += c.push(text[i:i + step])
    return out + c.flush()


@pytest.mark.parametrize("text,expected", [
    ("Hello there. How are you?", ["Hello there.", "How are you?"]),
    # the first clause is spoken early once it has 4 words
    ("Paris is the capital, and it is lovely. Yes.", ["Paris is the capital,", "and it is lovely.", "Yes."]),
    # a short first clause waits for more words
    ("Yes, it is. Fine.", ["Yes, it is.", "Fine."]),
    # abbreviations and decimals do not end sentences
    ("Dr. Smith paid 3.5 dollars. Then left.", ["Dr. Smith paid 3.5 dollars.", "Then left."]),
    ("Mr. Quilter is here", ["Mr. Quilter is here"]),
    ("Line one\nLine two", ["Line one", "Line two"]),
])
def test_chunks(text, expected):
    assert stream(text) == expected


def test_stream_granularity_does_not_change_result():
    text = "The capital of France is Paris. It has many museums, parks and cafes. Enjoy!"
    assert stream(text, 1) == stream(text, 7) == stream(text, 1000)


def test_long_sentence_is_cut_at_a_clause():
    words = " ".join(f"w{i}" for i in range(40))
    text = f"Start here, {words}, and more words follow here. End."
    chunks = stream(text, params=ChunkerParams(first_chunk_min_words=2, max_chunk_words=20))
    assert chunks[0] == "Start here,"
    assert all(len(c.split()) <= 45 for c in chunks)
    assert " ".join(chunks).split() == text.split()


@pytest.mark.parametrize("text,first", [
    ("The capital of France is Paris and it is a lovely city full of museums. Yes.", "The capital of France"),
    ("I will call you later today when I am back home from work. Bye.", "I will call you later today"),
    # no conjunction or preposition to cut before: the whole sentence, up to 12 words
    # no conjunction, preposition or verb: before an article once eight words are in ...
    ("The quick brown fox jumps over the lazy dog every single morning. Ok.",
     "The quick brown fox jumps over"),
    # ... or, with none either, after eight words
    ("Quick brown foxes jump over lazy dogs every single morning again. Ok.",
     "Quick brown foxes jump over lazy dogs every"),
    ("The moon is the only other celestial body other than Earth that can be seen. Yes.",
     "The moon is the only other celestial body"),
    # a long subject: cut before its verb (the first audio need not wait for the whole sentence)
    ("The capital of the United States is New York City. Yes.", "The capital of the United States"),
    # a six-word sentence too: before its verb once the subject has four words (the first sound
    # waits for neither "is Paris." nor its synthesis)
    ("The capital of France is Paris. Yes.", "The capital of France"),
    # ... but a sentence of four words or fewer is never cut
    ("Paris is the capital. Yes.", "Paris is the capital."),
    # a comma before the first break word: cut there
    ("Sure thing, my friend, the capital is Paris. Yes.", "Sure thing, my friend,"),
    # ... after three words already (not "One sunny afternoon, in | the heart …")
    ("One sunny afternoon, in the heart of the countryside, a fox woke up. Yes.", "One sunny afternoon,"),
    # before an article after four words ("a lunar planet," need not be waited for) ...
    ("The moon is actually a lunar planet, not a planet in our solar system. Yes.", "The moon is actually"),
    # ... unless that leaves a preposition behind
    ("It is one of the most beautiful places on earth. Yes.", "It is one of the most beautiful places"),
])
def test_a_long_unpunctuated_first_sentence_is_cut_before_a_phrase(text, first):
    chunks = stream(text, step=3)
    assert chunks[0] == first
    assert " ".join(chunks).split() == text.split()


def test_a_partial_word_is_no_place_to_cut():
    c = SpeechChunker(ChunkerParams(first_chunk_min_words=4, first_chunk_max_words=8))
    assert c.push("one two three four five so") == []  # "so" may be "some"
    assert c.push("me more words") == []


def test_a_sentence_that_ends_the_text_so_far_is_cut_without_waiting_for_the_next_token():
    c = SpeechChunker()
    assert c.push("Paris is the capital") == []
    assert c.push(".") == ["Paris is the capital."]  # not after the next token
    c = SpeechChunker()
    assert c.push("Really") == [] and c.push("?") == ["Really?"]


def test_a_comma_that_ends_the_text_so_far_cuts_the_first_clause_without_waiting():
    c = SpeechChunker()
    assert c.push("One sunny afternoon") == []
    assert c.push(",") == ["One sunny afternoon,"]
    c = SpeechChunker()
    assert c.push("It costs about 3") == [] and c.push(",") == []  # "3,000" may follow
    assert c.push("000 dollars a year") == ["It costs about 3,000 dollars"]


@pytest.mark.parametrize("tokens,first", [
    (["It costs 3", ".", "5 dollars", "."], "It costs 3.5 dollars."),  # a number may go on
    (["Ask Dr", ".", " Smith", "."], "Ask Dr. Smith."),  # an abbreviation
    (["Use e", ".", "g", ".", " this", "."], "Use e.g. this."),  # a single letter
])
def test_a_dot_that_may_not_end_the_sentence_waits_for_the_next_token(tokens, first):
    c = SpeechChunker()
    out = [chunk for t in tokens for chunk in c.push(t)] + c.flush()
    assert out[0] == first


def test_a_first_piece_never_waits_for_an_overlong_word():
    c = SpeechChunker()
    out = c.push("There are ")
    for _ in range(40):
        out += c.push("000")
    assert out and out[0] == "There are"  # not after the whole run of digits
    c = SpeechChunker()
    out = [chunk for _ in range(40) for chunk in c.push("ab")]
    assert out and len(out[0]) == 60
