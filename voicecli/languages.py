"""The one languages table: Whisper's language codes (the ones faster-whisper and mlx-whisper
accept), their lowercase English names (what OpenAI's ``verbose_json`` reports), and the small
helpers every edge uses to read a language a user or a client names.

Used by the REST server (request ``language``, response names), ``transcribe``'s
``--language`` check (:func:`is_whisper_language`) and the Wyoming server (:func:`base_language`,
:func:`locale_key`, :func:`whisper_languages` for the models it describes)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

_TABLE: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian",
    "kn": "kannada", "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque",
    "is": "icelandic", "hy": "armenian", "ne": "nepali", "mn": "mongolian", "bs": "bosnian",
    "kk": "kazakh", "sq": "albanian", "sw": "swahili", "gl": "galician", "mr": "marathi",
    "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali",
    "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian", "tg": "tajik",
    "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
    "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian",
    "ln": "lingala", "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese",
    "yue": "cantonese",
}

LANGUAGES: Mapping[str, str] = MappingProxyType(_TABLE)
"""Whisper language code → lowercase English name, in openai-whisper's order (English first)."""

WHISPER_LANGUAGES: tuple[str, ...] = tuple(LANGUAGES)
"""Every code Whisper accepts for ``language``."""

_BY_NAME = {name: code for code, name in LANGUAGES.items()}


def is_whisper_language(code: str) -> bool:
    """``code`` is exactly one of Whisper's codes (lowercase, no region: ``en``, ``yue``)."""
    return code in LANGUAGES


def whisper_languages() -> tuple[str, ...]:
    """The languages a multilingual Whisper model transcribes."""
    return WHISPER_LANGUAGES


def language_name(code: str) -> str:
    """``en`` → ``english``; an unknown code is returned as it is."""
    return LANGUAGES.get(code, code)


def normalize_language(value: str) -> str | None:
    """An ISO-639-1 code (or a full English name) → Whisper's code; None if unknown."""
    v = value.strip().lower()
    if v in LANGUAGES:
        return v
    return _BY_NAME.get(v)


def base_language(code: str | None) -> str | None:
    """``en-US``/``en_US``/``EN`` → ``en``; None for no code."""
    if not code or not isinstance(code, str):
        return None
    return re.split(r"[-_]", code.strip().lower())[0] or None


def locale_key(code: str | None) -> str:
    """A locale in one spelling for comparisons: ``en-US``/``en_us``/`` EN_US `` → ``en_us``."""
    return (code or "").strip().lower().replace("-", "_")
