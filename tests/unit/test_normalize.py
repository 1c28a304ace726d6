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
