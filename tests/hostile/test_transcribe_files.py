"""``voicecli transcribe`` on the files issue 12 found wanting, as a user runs it (a subprocess):
a truncated file is one error line and exit 1; ``--batched`` and plain give the same words on
~2 minutes of the eval clips (nothing dropped); a long recording with long silences gets no
invented text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import read_wav, run_voicecli, voiced_regions, write_wav
from tests.hostile.bombs import encode, truncated
from voicecli.bench.wer import normalize_text, word_error_rate

LONG_GAP_S = 1.0
ILL_DISPOSED = "he was not an ill disposed young man"


@pytest.fixture(scope="module")
def long_files(tmp_path_factory, speech_dir, manifest) -> tuple[dict[str, Path], str]:
    """Every English eval clip in manifest order with 1 s between them (~127 s), as wav and mp3,
    and the reference text."""
    d = tmp_path_factory.mktemp("long")
    parts, texts = [], []
    for row in manifest:
        if row["language"] == "en":
            parts += [read_wav(speech_dir / row["file"])[0], np.zeros(int(LONG_GAP_S * 16000), np.float32)]
            texts.append(row["text"])
    samples = np.concatenate(parts)
    wav = write_wav(d / "long.wav", samples)
    mp3 = d / "long.mp3"
    mp3.write_bytes(encode(samples, "mp3", "libmp3lame", 44100))
    return {"wav": wav, "mp3": mp3}, " ".join(texts)


def _json_lines(stdout: str, paths: list[str]) -> dict[str, dict]:
    if len(paths) == 1:
        return {paths[0]: json.loads(stdout)}
    return {doc["file"]: doc for doc in map(json.loads, stdout.splitlines())}


@pytest.mark.parametrize("fmt,container,codec,rate", [("wav", "wav", "pcm_s16le", 16000),
                                                      ("mp3", "mp3", "libmp3lame", 44100)])
def test_truncated_file_is_one_error_line_and_exit_1(tmp_path, speech_dir, fmt, container, codec, rate):
    samples = read_wav(speech_dir / "en_jfk_inaugural.wav")[0]  # 11 s
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(truncated(encode(samples, container, codec, rate), 3 / 11))
    r = run_voicecli("transcribe", str(cut), timeout=120)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {cut}: truncated: the header says 11.0 s of audio but only "), lines[0]
    assert lines[0].endswith("s decode (re-export or re-download the file)"), lines[0]


@pytest.mark.models
def test_batched_and_plain_give_the_same_words_and_drop_nothing(long_files):
    # The cause is the same for every container; the mp3 is measured in the report, not here (time).
    files, reference = long_files
    paths = [str(files["wav"])]
    plain = run_voicecli("transcribe", *paths, "-f", "json", timeout=300)
    batched = run_voicecli("transcribe", *paths, "-f", "json", "--batched", timeout=300)
    assert plain.returncode == 0 and batched.returncode == 0, (plain.stderr, batched.stderr)
    plain_docs, batched_docs = _json_lines(plain.stdout, paths), _json_lines(batched.stdout, paths)
    for path in paths:
        p, b = plain_docs[path]["text"], batched_docs[path]["text"]
        between = word_error_rate([p], [b]).wer
        print(f"{Path(path).name}: WER plain↔batched {between:.3f}, plain {word_error_rate([reference], [p]).wer:.3f}, "
              f"batched {word_error_rate([reference], [b]).wer:.3f}")
        assert between <= 0.02, (path, p, b)
        for text in (p, b):
            words = normalize_text(text)
            # tiny.en hears "ill-disposed" as "old-sposed" on some runs; the sentence is what was lost.
            assert "he was not an" in words and "young man" in words, text
            assert "produced the block books" in words and "greasy wash water" in words, text
            assert word_error_rate([reference], [text]).wer < 0.08, text


@pytest.mark.models
def test_long_silences_get_no_invented_text(tmp_path, speech_dir):
    # Without VAD, Whisper "heard" "Mr. Quilter is the apostle of the middle class." in the 27 s of
    # silence before the real sentence (and "you", "Thanks." in other silences).
    clip = {name: read_wav(speech_dir / name)[0] for name in ("en_librispeech_1272-128104-0000.wav", "en_goforward.wav")}

    def quiet(seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * 16000), np.float32)

    samples = np.concatenate([quiet(27), clip["en_librispeech_1272-128104-0000.wav"], quiet(25),
                              clip["en_goforward.wav"], quiet(10)])
    path = write_wav(tmp_path / "silences.wav", samples)
    r = run_voicecli("transcribe", str(path), "-f", "json", timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert abs(doc["duration"] - len(samples) / 16000) < 0.1
    reference = set(normalize_text("Mr. Quilter is the apostle of the middle classes and we are glad to welcome "
                                   "his gospel. Go forward ten meters.").split())
    invented = [w for w in normalize_text(doc["text"]).split() if w not in reference]
    assert not invented, doc["text"]
    voiced = voiced_regions(samples, 16000)
    for seg in doc["segments"]:  # every segment lies on speech, none in the silences
        assert any(seg["start"] < end + 0.5 and seg["end"] > start - 0.5 for start, end in voiced), seg
    assert normalize_text(doc["text"]).count("quilter") == 1, doc["text"]
    explicit = run_voicecli("transcribe", str(path), "-f", "json", "--no-vad-filter", timeout=300)
    assert explicit.returncode == 0 and json.loads(explicit.stdout)["segments"][0]["start"] == 0.0


def test_batched_without_vad_is_refused(tmp_path):
    r = run_voicecli("transcribe", str(tmp_path / "x.wav"), "--batched", "--no-vad-filter", timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: --batched decodes the speech chunks that VAD finds (drop --no-vad-filter)"
