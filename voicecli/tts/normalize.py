"""Turn LLM output into text a TTS voice reads well: no markdown, lists, emoji or raw URLs;
numbers, currency, percentages and common symbols spelled out."""

from __future__ import annotations

import re
import unicodedata

from num2words import num2words

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.S)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)")
_URL = re.compile(r"\b(?:https?://|www\.)([^\s/]+)[^\s]*", re.I)
_EMAIL = re.compile(r"\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_QUOTE = re.compile(r"^\s*>\s?", re.M)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+", re.M)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}.*$", re.M)
_CURRENCY = re.compile(r"([$€£])\s?(\d+(?:[.,]\d+)?)(\s?(?:million|billion|thousand))?")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?%")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_NUMBER = re.compile(r"(?<![\w.])(-?\d{1,3}(?:,\d{3})+|-?\d+)(\.\d+)?(?![\w.]*\d)")
_CLOCK = re.compile(r"(?<![\d:])\b([01]?\d|2[0-3]):([0-5]\d)(?![\d:])(?:\s?([AaPp])\.?[Mm]\b(?:\.(?=\s+[a-z]))?)?")
_SPACES = re.compile(r"[ \t]+")
_CURRENCY_NAMES = {"$": "dollars", "€": "euros", "£": "pounds"}
_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "°C": " degrees Celsius",
            "°F": " degrees Fahrenheit", "°": " degrees", "→": " to ", "×": " times "}


def _is_emoji(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat == "So" or cat == "Cs" or 0x1F000 <= ord(ch) <= 0x1FAFF or ch in "\u200d\ufe0f"


def _number_words(match: re.Match[str]) -> str:
    whole, frac = match.group(1).replace(",", ""), match.group(2)
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


def normalize_for_speech(text: str) -> str:
    t = _CODE_BLOCK.sub(" ", text)
    t = _INLINE_CODE.sub(r"\1", t)
    t = _LINK.sub(r"\1", t)
    t = _URL.sub(lambda m: " " + m.group(1).removeprefix("www.").replace(".", " dot ") + " ", t)
    t = _EMAIL.sub(lambda m: f"{m.group(1)} at {m.group(2).replace('.', ' dot ')}", t)
    t = _TABLE_RULE.sub("", t)
    t = _HEADING.sub("", t)
    t = _QUOTE.sub("", t)
    t = _BULLET.sub("", t)
    for _ in range(2):
        t = _EMPHASIS.sub(r"\2", t)
    t = t.replace("|", ", ").replace("*", " ").replace("#", " number ")
    t = "".join(" " if _is_emoji(ch) else ch for ch in t)
    t = _CURRENCY.sub(lambda m: f"{m.group(2)}{m.group(3) or ''} {_CURRENCY_NAMES[m.group(1)]}", t)
    t = _PERCENT.sub(r"\1 percent", t)
    t = _ORDINAL.sub(lambda m: num2words(int(m.group(1)), to="ordinal"), t)
    for sym, word in _SYMBOLS.items():
        t = t.replace(sym, word)
    t = _CLOCK.sub(_clock_words, t)
    t = _NUMBER.sub(_number_words, t)
    lines = [ln.strip() for ln in t.splitlines()]
    out = ""
    for ln in lines:
        if not ln:
            continue
        if out and out[-1] not in ".!?,;:":
            out += "."
        out += (" " if out else "") + ln
    return _SPACES.sub(" ", out).strip()
