"""How German, Spanish, French and Polish say what a text writes with digits and symbols: numbers
(num2words, with the language's thousands separator; a comma or a point before decimals),
years, amounts of money, percentages, clock times, a few ordinals and dates, and symbols. One
:class:`SpokenForms` per language in :data:`FORMS`; :func:`spell` applies one.

English is :mod:`voicecli.tts.normalize`'s own rules; a language with no entry here keeps its
digits and symbols, which Piper's voices (espeak-ng) read in their own language.

Choices, kept simple: clock times are read as a clock says them — de ``10:15`` "zehn Uhr
fünfzehn" (also ``10.15 Uhr``; a ``Uhr`` after the time is not said twice), es "diez y quince"
/ "diez en punto" (no article: the text usually has "a las"), fr "dix heures quinze" (also
``10h15``), pl "dziesiąta piętnaście" (after "o": "o dziesiątej piętnaście"). Decimals and
money are read as num2words reads them (de "drei Komma fünf", ``3,50 €``/``3,50 Euro`` "drei
Euro und fünfzig Cent"). Years 1100–2099 use num2words'
year form (de "neunzehnhundertneunundneunzig"; the others read years as numbers). Ordinals: fr
``1er``/``2e``, es ``3º``/``3ª``, and dates where the form is unambiguous: de ``3. Mai`` (after
am/vom/zum/den/dem/ab/seit/bis "dritten", else "dritte"), pl ``3 maja`` "trzeciego maja".
Numeric dates (``03.05.2024``) are not read as dates.

Bounded like the English rules: numbers of more than :data:`MAX_NUMBER_DIGITS` digits are read
digit by digit, so the output stays within ``normalize.EXPANSION_BOUND`` characters per input
character."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from num2words import num2words

MAX_NUMBER_DIGITS = 15
"""Longer numbers are read digit by digit (num2words is exact to 15 digits)."""

_CLOCK = r"(?<![\d:])\b([01]?\d|2[0-3]):([0-5]\d)(?![\d:])"
_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
_LONG_NUMBER = re.compile(r"(?<![\w.,])(-?)(\d{16,})(?:[.,](\d+))?")
_LONG_DIGITS = re.compile(r"\d{16,}")
_PERCENT = re.compile(r"(\d)\s?%")


def _words(number: int | Decimal, lang: str, to: str = "cardinal") -> str:
    return str(num2words(number, lang=lang, to=to))


@dataclass(frozen=True)
class SpokenForms:
    """One language's words for what is written with digits and symbols."""

    code: str
    """num2words' language code."""
    minus: str
    point: str
    """Said between a long number's digits and its decimals."""
    group: str
    """Regex of the thousands separator (de ``.``, fr ``1 000``)."""
    percent: str
    dot: str
    """A URL's or an address's dots."""
    at: str
    number: str
    """``#``."""
    symbols: Mapping[str, str]
    currency_words: Mapping[str, str]
    """A currency written as a word after an amount (``3,50 Euro``) → its ISO code."""
    clock: Callable[[int, int], str]
    clock_pattern: str = _CLOCK
    """Hour in group 1, minutes in group 2 (or 3)."""
    ordinals: tuple[tuple[str, Callable[[re.Match[str]], str]], ...] = ()
    """(regex, its spoken form): ordinals and dates."""


@lru_cache(maxsize=64)
def _digit(digit: str, lang: str) -> str:
    return _words(int(digit), lang)


def _digits(digits: str, lang: str) -> str:
    return " ".join(_digit(d, lang) for d in digits if d.isdigit())


def _long_number(m: re.Match[str], f: SpokenForms) -> str:
    sign, whole, frac = m.groups()
    point = f" {f.point} {_digits(frac, f.code)}" if frac else ""
    return f" {f.minus + ' ' if sign else ''}{_digits(whole, f.code)}{point} "


def _number(m: re.Match[str], f: SpokenForms) -> str:
    sign, written, frac = m.groups()
    whole = re.sub(r"\D", "", written)
    if len(whole) + len(frac or "") > MAX_NUMBER_DIGITS:
        point = f" {f.point} {_digits(frac, f.code)}" if frac else ""
        return f"{f.minus + ' ' if sign else ''}{_digits(whole, f.code)}{point}"
    try:
        if frac:
            words = _words(Decimal(f"{whole}.{frac}"), f.code)
        elif 1100 <= int(whole) <= 2099 and whole == written and int(whole) % 100:
            words = _words(int(whole), f.code, "year")
        else:
            words = _words(int(whole), f.code)
    except (ValueError, OverflowError, NotImplementedError, InvalidOperation):
        return m.group(0)
    return f"{f.minus} {words}" if sign else words


def _money(amount: str, code: str, f: SpokenForms) -> str | None:
    """``3,50`` ``EUR`` → "drei Euro und fünfzig Cent"; None when num2words has no such currency."""
    parts = re.fullmatch(r"(.+?)(?:[.,](\d{1,2}))?", amount)
    assert parts is not None
    whole, cents = re.sub(r"\D", "", parts.group(1)), parts.group(2) or ""
    if len(whole) > MAX_NUMBER_DIGITS:
        return None
    try:
        if cents and int(cents):
            return _currency(Decimal(f"{whole}.{cents.ljust(2, '0')}"), code, f.code)
        return _currency(Decimal(whole), code, f.code, separator=" §").split(" §")[0]
    except (NotImplementedError, KeyError, ValueError, InvalidOperation):
        return None


def _currency(value: Decimal, code: str, lang: str, **kwargs: str) -> str:
    return str(num2words(value, lang=lang, to="currency", currency=code, **kwargs))


def spell(text: str, f: SpokenForms) -> str:
    """``text`` with its numbers, amounts, times, ordinals and symbols in ``f``'s words."""
    t = _LONG_NUMBER.sub(lambda m: _long_number(m, f), text)
    t = _LONG_DIGITS.sub(lambda m: f" {_digits(m.group(0), f.code)} ", t)
    amount = rf"(?<![\w.,])(\d{{1,3}}(?:{f.group}\d{{3}})+(?:[.,]\d{{1,2}})?|\d+(?:[.,]\d{{1,2}})?)(?![.,]?\d)"
    names = "|".join(map(re.escape, sorted({*_CURRENCY_SYMBOLS, "EUR", "USD", "GBP", "PLN", *f.currency_words},
                                           key=len, reverse=True)))
    t = re.sub(rf"([$€£])\s?{amount}", lambda m: _money(m.group(2), _CURRENCY_SYMBOLS[m.group(1)], f)
               or m.group(0), t)
    t = re.sub(rf"{amount}\s?({names})(?!\w)", lambda m: _money(m.group(1), _code(m.group(2), f), f)
               or m.group(0), t)
    t = _PERCENT.sub(rf"\1 {f.percent}", t)
    for pattern, said in f.ordinals:
        t = re.sub(pattern, said, t)
    for sym, word in f.symbols.items():
        t = t.replace(sym, word)
    t = re.sub(f.clock_pattern, lambda m: f.clock(int(m.group(1)), int(m.group(2) or m.group(3) or 0)), t)
    number = rf"(?<![\w.,])(-?)(\d{{1,3}}(?:{f.group}\d{{3}})+|\d+)(?:[.,](\d+))?(?![\w.,]*\d)"
    return re.sub(number, lambda m: _number(m, f), t)


def _code(written: str, f: SpokenForms) -> str:
    return _CURRENCY_SYMBOLS.get(written) or f.currency_words.get(written) or written


# --- clock times ---------------------------------------------------------------------------------

def _clock_de(hour: int, minute: int) -> str:
    said = f"{'ein' if hour == 1 else _words(hour, 'de')} Uhr"  # "ein Uhr", not "eins Uhr"
    return f"{said} {_words(minute, 'de')}" if minute else said


def _feminine(words: str, masculine: str, feminine: str) -> str:
    return words[: -len(masculine)] + feminine if words.endswith(masculine) else words


def _clock_es(hour: int, minute: int) -> str:
    said = _feminine(_words(hour, "es"), "uno", "una")  # la una, las veintiuna
    return f"{said} y {_words(minute, 'es')}" if minute else f"{said} en punto"


def _clock_fr(hour: int, minute: int) -> str:
    said = f"{_feminine(_words(hour, 'fr'), 'un', 'une')} {'heure' if hour <= 1 else 'heures'}"
    return f"{said} {_feminine(_words(minute, 'fr'), 'un', 'une')}" if minute else said


_PL_HOURS = ("zero", "pierwsza", "druga", "trzecia", "czwarta", "piąta", "szósta", "siódma", "ósma",
             "dziewiąta", "dziesiąta", "jedenasta", "dwunasta", "trzynasta", "czternasta", "piętnasta",
             "szesnasta", "siedemnasta", "osiemnasta", "dziewiętnasta", "dwudziesta", "dwudziesta pierwsza",
             "dwudziesta druga", "dwudziesta trzecia")
"""Polish says the hour as a feminine ordinal (godzina dziesiąta)."""


def _clock_pl(hour: int, minute: int, hours: tuple[str, ...] = _PL_HOURS) -> str:
    if not minute:
        return hours[hour]
    return f"{hours[hour]} {'zero ' if minute < 10 else ''}{_words(minute, 'pl')}"


_PL_HOURS_AT = tuple(" ".join("drugiej" if w == "druga" else w[:-1] + "ej" if w.endswith("a") else w
                              for w in hour.split()) for hour in _PL_HOURS)
"""The same after "o" / "o godzinie" (locative: o dziesiątej)."""


def _pl_at_clock(m: re.Match[str]) -> str:
    return m.group(1) + _clock_pl(int(m.group(2)), int(m.group(3)), _PL_HOURS_AT)


# --- ordinals and dates --------------------------------------------------------------------------

_DE_MONTHS = "Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
_PL_MONTHS = ("stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|października|"
              "listopada|grudnia")


def _de_date(m: re.Match[str]) -> str:
    ordinal = _words(int(m.group(2)), "de", "ordinal")
    return f"{m.group(1) or ''}{ordinal}{'n' if m.group(1) else ''} {m.group(3)}"


def _pl_date(m: re.Match[str]) -> str:
    genitive = " ".join(w[:-1] + "ego" if w.endswith("y") else w + "ego"
                        for w in _words(int(m.group(1)), "pl", "ordinal").split())
    return f"{genitive} {m.group(2)}"


def _fr_ordinal(m: re.Match[str]) -> str:
    n = int(m.group(1))
    return "première" if n == 1 and m.group(2) in ("re", "ère") else _words(n, "fr", "ordinal")


def _es_ordinal(m: re.Match[str]) -> str:
    words = _words(int(m.group(1)), "es", "ordinal")
    return " ".join(_feminine(w, "o", "a") for w in words.split()) if m.group(2) == "ª" else words


FORMS: Mapping[str, SpokenForms] = {
    "de": SpokenForms(
        "de", "minus", "Komma", r"\.", "Prozent", "Punkt", "at", "Nummer",
        {"&": " und ", "+": " plus ", "=": " gleich ", "@": " at ", "°C": " Grad Celsius",
         "°F": " Grad Fahrenheit", "°": " Grad", "→": " nach ", "×": " mal "},
        {"Euro": "EUR", "Dollar": "USD", "Pfund": "GBP"},
        _clock_de, r"(?<![\d:.])\b([01]?\d|2[0-3])(?::([0-5]\d)(?:\s?Uhr\b)?|\.([0-5]\d)\s?Uhr\b)(?![\d:])",
        ((rf"\b((?i:am|vom|zum|den|dem|ab|seit|bis)\s+)?(\d{{1,2}})\.\s?({_DE_MONTHS})\b", _de_date),)),
    "es": SpokenForms(
        "es", "menos", "punto", r"\.", "por ciento", "punto", "arroba", "número",
        {"&": " y ", "+": " más ", "=": " igual a ", "@": " arroba ", "°C": " grados Celsius",
         "°F": " grados Fahrenheit", "°": " grados", "→": " a ", "×": " por "},
        {"euros": "EUR", "euro": "EUR", "dólares": "USD", "dólar": "USD", "libras": "GBP", "libra": "GBP"},
        _clock_es, ordinals=((r"\b(\d{1,15})\.?([ºª])", _es_ordinal),)),
    "fr": SpokenForms(
        "fr", "moins", "virgule", "[ \u00a0\u202f]", "pour cent", "point", "arobase", "numéro",
        {"&": " et ", "+": " plus ", "=": " égale ", "@": " arobase ", "°C": " degrés Celsius",
         "°F": " degrés Fahrenheit", "°": " degrés", "→": " à ", "×": " fois "},
        {"euros": "EUR", "euro": "EUR", "dollars": "USD", "dollar": "USD", "livres": "GBP"},
        _clock_fr, r"(?<![\d:])\b([01]?\d|2[0-3])(?::([0-5]\d)|\s?h(?:\s?([0-5]\d))?\b)(?![\d:])",
        ((r"\b(\d{1,15})(er|re|ère|ème|e)\b", _fr_ordinal),)),
    "pl": SpokenForms(
        "pl", "minus", "przecinek", "[ \u00a0\u202f]", "procent", "kropka", "małpa", "numer",
        {"&": " i ", "+": " plus ", "=": " równa się ", "@": " małpa ", "°C": " stopni Celsjusza",
         "°F": " stopni Fahrenheita", "°": " stopni", "→": " do ", "×": " razy "},
        {"zł": "PLN", "złotych": "PLN", "złote": "PLN", "euro": "EUR", "dolarów": "USD", "dolary": "USD"},
        _clock_pl, ordinals=((rf"\b(\d{{1,2}})\.?\s({_PL_MONTHS})\b", _pl_date),
                             (rf"\b((?i:o|godzinie)\s+){_CLOCK}", _pl_at_clock))),
}
"""The languages with rules (Whisper's codes)."""
