"""Accuracy of the real bundled models on the in-repo eval clips (``eval/speech``).

English: corpus word error rate of tiny.en (the default) over every English clip, after
normalising case, punctuation, numbers and a few abbreviations on both sides. Measured 0.047
(13 word errors in 274 reference words over 21 clips; int8, greedy, no VAD). The bound 0.08
(up to 21 errors) leaves room for another CPU or CTranslate2 build to flip a few words, yet fails
on real regressions: losing one clip's segments, a wrong sample rate or resampling bug, or the
wrong language each add far more than 8 errors. It is also in line with tiny.en's published
LibriSpeech test-clean WER (about 5.6 %), these being mostly clean read speech.

Multilingual: the ``base`` model (``voicecli[multilingual]``, assembled from two packages)
detects de/es/fr/pt/ru on its own and transcribes them closely (per-clip WER bound 0.5; measured
0.0-0.33, see the table in the test)."""

from __future__ import annotations

import re
from pathlib import Path

import jiwer
import pytest
from num2words import num2words

from voicecli.stt.jobs import TranscribeJob
from voicecli.stt.types import TranscribeOptions

pytestmark = pytest.mark.models

ENGLISH_WER_BOUND = 0.08
MULTILINGUAL_CLIP_WER_BOUND = 0.5

_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}


def _number_words(match: re.Match[str]) -> str:
    digits, suffix = match.group(1).replace(",", ""), (match.group(2) or "").lower()
    n = int(digits)
    words = num2words(n, to="ordinal") if suffix in ("st", "nd", "rd", "th") else num2words(n)
    return f" {words} "


def normalise(text: str, lang: str = "en") -> str:
    """Lower case, digits spelled out (num2words), punctuation and hyphens removed,
    English abbreviations expanded, whitespace collapsed."""
    t = text.lower()
    t = re.sub(r"(\d[\d,]*)(st|nd|rd|th)?\b", lambda m: _number_words(m) if lang == "en" else
               f" {num2words(int(m.group(1).replace(',', '')), lang=lang)} ", t)
    t = re.sub(r"[-‐–—]", " ", t)
    t = re.sub(r"[^\w\s']", " ", t)
    t = t.replace(" and ", " ")  # "four hundred and fifty" vs "four hundred fifty"
    words = [_ABBREVIATIONS.get(w, w) if lang == "en" else w for w in t.split()]
    return " ".join(w.strip("'") for w in words if w.strip("'"))


@pytest.mark.parametrize("raw,expected", [
    ("Mr. Quilter is the apostle", "mister quilter is the apostle"),
    ("the Gutenberg, or \"forty-two line Bible\" of about 1455,", "the gutenberg or forty two line bible of about one thousand four hundred fifty five"),
    ("go forward 10 meters", "go forward ten meters"),
    ("the 15th century", "the fifteenth century"),
    ("Ask not!  ASK", "ask not ask"),
])
def test_normaliser(raw, expected):
    assert normalise(raw) == expected


def _transcribe_all(transcriber, speech_dir: Path, entries: list[dict], options: TranscribeOptions) -> dict[str, object]:
    job = TranscribeJob(lambda: transcriber, options)
    results = job.run([str(speech_dir / e["file"]) for e in entries])
    failed = [r.error.one_line() for r in results if not r.ok]
    assert not failed, failed
    return {e["file"]: r.transcription for e, r in zip(entries, results, strict=True)}


@pytest.fixture(scope="module")
def tiny_en(settings):
    """The default STT model alone (the shared `engines` fixture also loads and warms the LLM and TTS)."""
    from voicecli.engines import load_transcriber

    return load_transcriber(settings)


def test_english_wer_of_default_model_is_below_bound(tiny_en, speech_dir, manifest):
    english = [e for e in manifest if e["language"] == "en"]
    assert len(english) >= 20
    out = _transcribe_all(tiny_en, speech_dir, english, TranscribeOptions(language="en"))
    refs = [normalise(e["text"]) for e in english]
    hyps = [normalise(out[e["file"]].text) for e in english]
    wer = jiwer.wer(refs, hyps)
    detail = "\n".join(f"{e['file']}: {jiwer.wer(r, h):.2f} | {h}" for e, r, h in zip(english, refs, hyps, strict=True) if r != h)
    print(f"\ntiny.en corpus WER over {len(english)} English clips: {wer:.4f}\n{detail}")
    assert wer < ENGLISH_WER_BOUND, f"WER {wer:.3f} ≥ {ENGLISH_WER_BOUND}\n{detail}"


@pytest.fixture(scope="module")
def base_transcriber(settings):
    from voicecli.engines import load_transcriber

    return load_transcriber(settings.model_copy(update={"stt": settings.stt.model_copy(update={"model": "base"})}))


def test_multilingual_base_detects_language_and_transcribes(base_transcriber, speech_dir, manifest):
    assert base_transcriber.is_multilingual
    clips = [e for e in manifest if e["language"] in ("de", "es", "fr", "pt", "ru")]
    assert {e["language"] for e in clips} == {"de", "es", "fr", "pt", "ru"}
    out = _transcribe_all(base_transcriber, speech_dir, clips, TranscribeOptions(language=None))
    rows = []
    for e in clips:
        t = out[e["file"]]
        clip_wer = jiwer.wer(normalise(e["text"], e["language"]), normalise(t.text, e["language"]))
        rows.append((e["file"], e["language"], t.language, round(t.language_probability, 2), round(clip_wer, 2), t.text))
    print("\n" + "\n".join(map(str, rows)))
    for file, want, got, prob, clip_wer, text in rows:
        assert got == want, (file, got, prob, text)
        assert prob > 0.8, (file, prob)
        assert clip_wer <= MULTILINGUAL_CLIP_WER_BOUND, (file, clip_wer, text)


def test_english_only_model_refuses_other_languages(tiny_en, base_transcriber):
    from voicecli.errors import ConfigError
    from voicecli.stt.jobs import check_language

    with pytest.raises(ConfigError, match="English-only"):
        check_language("de", tiny_en)
    with pytest.raises(ConfigError, match="unknown language code 'xx'"):
        check_language("xx", tiny_en)
    check_language("en", tiny_en)
    check_language("de", base_transcriber)
