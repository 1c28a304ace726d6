"""Word error rate with the normalisation ASR evaluations use: case, punctuation, hyphens,
common abbreviations and digits ("10" → "ten") are not counted as errors. Pure; no models."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from num2words import num2words

_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "vs": "versus"}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NOT_WORD = re.compile(r"[^\w' ]+")


def normalize_text(text: str, language: str = "en") -> str:
    """Lower-case words separated by single spaces, with numbers spelled out."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = _THOUSANDS.sub("", t)
    t = _ORDINAL.sub(lambda m: " " + num2words(int(m.group(1)), lang=language, to="ordinal") + " ", t)
    t = _NUMBER.sub(lambda m: " " + _spell(m.group(0), language) + " ", t)
    t = t.replace("-", " ").replace("’", "'")
    t = _NOT_WORD.sub(" ", t)
    words = []
    for w in t.split():
        w = w.strip("'")
        if w:
            words.append(_ABBREVIATIONS.get(w, w))
    return " ".join(words)


def _spell(number: str, language: str) -> str:
    try:
        return num2words(float(number) if "." in number else int(number), lang=language)
    except (NotImplementedError, OverflowError, ValueError):
        return number


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance over words (substitutions + deletions + insertions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class WerResult:
    wer: float
    """Word errors / reference words, over the whole set (corpus-level, as jiwer computes it)."""
    errors: int
    reference_words: int


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str], language: str = "en") -> WerResult:
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses differ in length")
    errors = words = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        r = normalize_text(ref, language).split()
        h = normalize_text(hyp, language).split()
        errors += edit_distance(r, h)
        words += len(r)
    if words == 0:
        raise ValueError("no reference words")
    return WerResult(errors / words, errors, words)


def whisper_english_wer(references: Sequence[str], hypotheses: Sequence[str]) -> WerResult:
    """Corpus word error rate with Whisper's own English normaliser, as the Whisper paper and
    openai-whisper evaluate (jiwer and whisper-normalizer, the ``dev`` extra: ImportError without
    them)."""
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    normalize = EnglishTextNormalizer()
    out = jiwer.process_words([normalize(r) for r in references], [normalize(h) for h in hypotheses])
    return WerResult(out.wer, out.substitutions + out.deletions + out.insertions,
                     out.hits + out.substitutions + out.deletions)
