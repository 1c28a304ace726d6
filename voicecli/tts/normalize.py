"""Turn LLM output (or any client's text) into text a TTS voice reads well: no markdown, lists,
emoji or raw URLs; numbers, currency, percentages and common symbols spelled out — in English
(the rules here), in German, Spanish, French or Polish (:mod:`voicecli.tts.spoken_forms`), or
left as digits for the voice to read in any other language.

Safe on hostile input: control, format, private-use and unassigned characters are dropped (a NUL
made Piper fail mid-response); numbers of more than :data:`MAX_NUMBER_DIGITS` digits are read
digit by digit (a 307-digit ordinal overflowed num2words); a character repeated more than three
times is said three times; "words" longer than :data:`MAX_WORD_CHARS` are broken up (espeak reads
nonsense letter by letter, and one 4096-letter word grew Piper by 680 MB). The output never has
more than :data:`EXPANSION_BOUND` characters per input character, and no pattern backtracks more
than linearly in the length of a line."""

from __future__ import annotations

import re
import unicodedata

from num2words import num2words

from voicecli.languages import base_language
from voicecli.tts.spoken_forms import FORMS, spell

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.S)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"\[([^\]\n]{1,300})\]\((?:[^)\s]{1,1000})\)")
_URL = re.compile(r"\b(?:https?://|www\.)([^\s/]+)[^\s]*", re.I)
_EMAIL = re.compile(r"\b([\w.+-]{1,64})@([\w-]{1,63}(?:\.[\w-]{1,63}){1,8})\b")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_QUOTE = re.compile(r"^\s*>\s?", re.M)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+", re.M)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.{1,300}?)(?<=\S)\1")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}.*$", re.M)
_CURRENCY = re.compile(r"([$€£])\s?(\d+(?:[.,]\d+)?)(\s?(?:million|billion|thousand))?")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?%")
_ORDINAL = re.compile(r"\b(\d{1,15})(st|nd|rd|th)\b")
_NUMBER = re.compile(r"(?<![\w.])(-?\d{1,3}(?:,\d{3})+|-?\d+)(\.\d+)?(?![\w.]*\d)")
_CLOCK = re.compile(r"(?<![\d:])\b([01]?\d|2[0-3]):([0-5]\d)(?![\d:])(?:\s?([AaPp])\.?[Mm]\b(?:\.(?=\s+[a-z]))?)?")
_SPACES = re.compile(r"[ \t]+")
_LONG_NUMBER = re.compile(r"(?<![\w.])(-?)(\d{16,})(?:\.(\d+))?")
_LONG_DIGITS = re.compile(r"\d{16,}")
_LONG_WORD = re.compile(r"\S{49,}")
_REPEATED = re.compile(r"([^\d\s])\1{3,}")
"""A character (not a digit) four or more times in a row: "soooo" and "!!!!!!" are said as three."""
_CURRENCY_NAMES = {"$": "dollars", "€": "euros", "£": "pounds"}
_DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_LINE_BREAKS = frozenset("\r\x0b\x0c\x85\u2028\u2029")
_KEPT_FORMAT = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner: part of spelling in some scripts (and of emoji, removed later)."""

MAX_NUMBER_DIGITS = 15
"""Longer digit strings are read digit by digit (num2words is exact to 15 digits)."""
MAX_WORD_CHARS = 48
"""Longer runs without a space are broken into pieces this long (the longest English word has 45 letters)."""
EXPANSION_BOUND = 16
"""``len(normalize_for_speech(t)) <= EXPANSION_BOUND * len(t)``: the longest expansion is a
15-digit number, 12.6 characters per digit ("seven hundred and seventy-seven trillion, …")."""
_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "°C": " degrees Celsius",
            "°F": " degrees Fahrenheit", "°": " degrees", "→": " to ", "×": " times "}


def _is_emoji(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat == "So" or cat == "Cs" or 0x1F000 <= ord(ch) <= 0x1FAFF or ch in "\u200d\ufe0f"


def sanitise(text: str) -> str:
    """``text`` without characters a voice cannot read: control characters (line breaks become
    ``\\n``, tabs spaces), format characters such as bidi overrides, surrogates, private-use and
    unassigned code points."""
    out = []
    for ch in text:
        if ch in _LINE_BREAKS:
            out.append("\n")
        elif ch == "\t":
            out.append(" ")
        elif ch == "\n" or ch in _KEPT_FORMAT:
            out.append(ch)
        elif unicodedata.category(ch)[0] != "C":
            out.append(ch)
    return "".join(out)


def _digits_words(digits: str) -> str:
    return " ".join(_DIGIT_NAMES[int(d)] for d in digits if d.isdigit())


def _long_number_words(match: re.Match[str]) -> str:
    sign, whole, frac = match.groups()
    point = f" point {_digits_words(frac)}" if frac else ""
    return f" {'minus ' if sign else ''}{_digits_words(whole)}{point} "


def _long_word_pieces(match: re.Match[str]) -> str:
    word = match.group(0)
    return " ".join(word[i:i + MAX_WORD_CHARS] for i in range(0, len(word), MAX_WORD_CHARS))


def _number_words(match: re.Match[str]) -> str:
    whole, frac = match.group(1).replace(",", ""), match.group(2)
    if len(whole.lstrip("-")) + len(frac or "") > MAX_NUMBER_DIGITS + 1:
        sign = "minus " if whole.startswith("-") else ""
        point = f" point {_digits_words(frac)}" if frac else ""
        return f"{sign}{_digits_words(whole)}{point}"
    try:
        if frac:
            return str(num2words(float(whole + frac)))
        value = int(whole)
        if 1100 <= value <= 2099 and "," not in match.group(1) and value % 100 != 0:
            return str(num2words(value, to="year"))
        return str(num2words(value))
    except (ValueError, OverflowError, NotImplementedError):
        return match.group(0)


def _clock_words(match: re.Match[str]) -> str:
    """"10:15 AM" → "ten fifteen AM", "9:05" → "nine oh five", "12:00" → "twelve o'clock"."""
    hour, minute, half = int(match.group(1)), int(match.group(2)), match.group(3)
    if minute == 0:
        words = str(num2words(hour)) + ("" if half else " o'clock")
    elif minute < 10:
        words = f"{num2words(hour)} oh {num2words(minute)}"
    else:
        words = f"{num2words(hour)} {num2words(minute)}"
    return words + (f" {half.upper()}M" if half else "")


def _said_host(host: str, dot: str) -> str:
    """``example.com`` → "example dot com" (no word for the dot: as written)."""
    return host.replace(".", f" {dot} ") if dot else host


def _spell_english(t: str) -> str:
    t = _LONG_NUMBER.sub(_long_number_words, t)
    t = _LONG_DIGITS.sub(lambda m: f" {_digits_words(m.group(0))} ", t)
    t = _CURRENCY.sub(lambda m: f"{m.group(2)}{m.group(3) or ''} {_CURRENCY_NAMES[m.group(1)]}", t)
    t = _PERCENT.sub(r"\1 percent", t)
    t = _ORDINAL.sub(lambda m: num2words(int(m.group(1)), to="ordinal"), t)
    for sym, word in _SYMBOLS.items():
        t = t.replace(sym, word)
    t = _CLOCK.sub(_clock_words, t)
    t = _NUMBER.sub(_number_words, t)
    return _LONG_WORD.sub(_long_word_pieces, t)


def normalize_for_speech(text: str, language: str | None = None) -> str:
    """``text`` as a voice should read it in ``language`` (a Whisper code or a locale; None:
    English). A language without rules keeps its digits and symbols."""
    code = base_language(language) or "en"
    forms = FORMS.get(code)
    dot, at, number = ("dot", "at", "number") if code == "en" else \
        (forms.dot, forms.at, forms.number) if forms is not None else ("", "", "")
    t = _CODE_BLOCK.sub(" ", sanitise(text))
    t = _INLINE_CODE.sub(r"\1", t)
    t = _LINK.sub(r"\1", t)
    t = _URL.sub(lambda m: f" {_said_host(m.group(1).removeprefix('www.'), dot)} ", t)
    t = _EMAIL.sub(lambda m: f"{m.group(1)}{f' {at} ' if at else '@'}{_said_host(m.group(2), dot)}", t)
    t = _TABLE_RULE.sub("", t)
    t = _HEADING.sub("", t)
    t = _QUOTE.sub("", t)
    t = _BULLET.sub("", t)
    for _ in range(2):
        t = _EMPHASIS.sub(r"\2", t)
    t = t.replace("|", ", ").replace("*", " ").replace("#", f" {number} ")
    t = "".join(" " if _is_emoji(ch) else ch for ch in t)
    t = _REPEATED.sub(r"\1\1\1", t)
    if code == "en":
        t = _spell_english(t)
    else:  # number words of these languages are long single words: cut the written text, not them
        t = _LONG_WORD.sub(_long_word_pieces, t)
        t = spell(t, forms) if forms is not None else t
    lines = [ln.strip() for ln in t.splitlines()]
    out = ""
    for ln in lines:
        if not ln:
            continue
        if out and out[-1] not in ".!?,;:":
            out += "."
        out += (" " if out else "") + ln
    return _SPACES.sub(" ", out).strip()
