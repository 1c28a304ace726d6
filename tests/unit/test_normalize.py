import pytest

from voicecli.tts.normalize import normalize_for_speech as n


@pytest.mark.parametrize("text,expected", [
    ("**Bold** and *italic* text.", "Bold and italic text."),
    ("# Heading\nSome text", "Heading. Some text"),
    ("- one\n- two\n- three", "one. two. three"),
    ("1. first\n2. second", "first. second"),
    ("See https://example.com/path?q=1 now", "See example dot com now"),
    ("Great job 🎉🚀!", "Great job !"),
    ("It costs $5 today", "It costs five dollars today"),
    ("Up 20% since 2019", "Up twenty percent since twenty nineteen"),
    ("The 3rd of 12 items", "The third of twelve items"),
    ("Use `print()` here", "Use print() here"),
    ("Pi is 3.14", "Pi is three point one four"),
    ("1,000 people", "one thousand people"),
    ("Tom & Jerry", "Tom and Jerry"),
    ("[a link](http://x.org) here", "a link here"),
])
def test_normalize(text, expected):
    assert n(text) == expected


def test_plain_text_unchanged():
    s = "The capital of France is Paris."
    assert n(s) == s


@pytest.mark.parametrize("text,spoken", [
    ("It is 10:15 AM.", "It is ten fifteen AM."),
    ("Meet at 9:05 pm", "Meet at nine oh five PM"),
    ("at 12:00", "at twelve o'clock"),
    ("7:30am works", "seven thirty AM works"),
    ("at 10:15 a.m. sharp", "at ten fifteen AM sharp"),
    ("23:45", "twenty-three forty-five"),
])
def test_clock_times_are_read_as_times_not_10_colon_15(text, spoken):
    # regression: "10:15 AM" was spoken "ten colon fifteen" (the colon survived number spelling)
    assert n(text) == spoken


@pytest.mark.parametrize("text", ["The score was 3:2", "10:15:30"])
def test_things_that_are_not_clock_times_are_left_alone(text):
    assert ":" in n(text)
