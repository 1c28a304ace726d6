"""The one languages table and its helpers."""

from __future__ import annotations

import pytest

from voicecli.languages import (
    LANGUAGES,
    base_language,
    is_whisper_language,
    language_name,
    locale_key,
    normalize_language,
    whisper_languages,
)


@pytest.mark.parametrize("value,code", [
    ("en", "en"), (" EN ", "en"), ("English", "en"), ("haitian creole", "ht"), ("yue", "yue"),
    ("cantonese", "yue"), ("xx", None), ("en-US", None), ("", None),
])
def test_normalize_language(value, code):
    assert normalize_language(value) == code


@pytest.mark.parametrize("value,base", [
    ("en_US", "en"), ("pt-BR", "pt"), ("EN", "en"), (" de ", "de"), ("", None), (None, None), ("-x", None),
])
def test_base_language(value, base):
    assert base_language(value) == base


@pytest.mark.parametrize("value,key", [("en-US", "en_us"), (" EN_us ", "en_us"), ("de", "de"), (None, "")])
def test_locale_key(value, key):
    assert locale_key(value) == key


def test_names_and_codes():
    assert language_name("de") == "german" and language_name("qq") == "qq"
    assert is_whisper_language("yue") and not is_whisper_language("EN") and not is_whisper_language("en_US")
    assert whisper_languages()[0] == "en" and len(set(whisper_languages())) == len(LANGUAGES) == 100


def test_table_is_what_faster_whisper_accepts():
    tokenizer = pytest.importorskip("faster_whisper.tokenizer")
    assert set(LANGUAGES) == set(tokenizer._LANGUAGE_CODES)
