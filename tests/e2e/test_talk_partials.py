"""`voicecli talk --json` with live partial transcripts (real models, frames paced in real time):
while a 7 s sentence is spoken, ``partial`` lines come before the turn's ``user`` line, their
stable words only grow, and what the latest pass heard is how the final transcript begins; with
``stt.partials = false`` there are none."""

from __future__ import annotations

import pytest

from tests.conftest import SPEECH_DIR
from tests.helpers import concat_wavs, json_lines, run_voicecli
from voicecli.bench.wer import word_error_rate

pytestmark = [pytest.mark.models, pytest.mark.slow]

CLIP = SPEECH_DIR / "en_librivox_austen_0870.wav"


def test_talk_prints_growing_partials_before_the_transcript(tmp_path):
    wav_in = concat_wavs(tmp_path / "in.wav", 0.5, CLIP, 4.0)
    r = run_voicecli("talk", "--input", str(wav_in), "--output", str(tmp_path / "out.wav"), "--json",
                     "--no-history", "--llm-max-tokens", "16", env={"VOICECLI_STT_PARTIALS": "true"})
    assert r.returncode == 0, r.stderr
    lines = json_lines(r.stdout)
    kinds = [o["type"] for o in lines]
    partials = [o for o in lines if o["type"] == "partial"]
    user = next(o for o in lines if o["type"] == "user")
    print(f"\n{len(partials)} partials: {[(p['stable'], p['unstable']) for p in partials]}\nfinal: {user['text']!r}")
    assert len(partials) >= 2 and kinds.index("user") > max(i for i, k in enumerate(kinds) if k == "partial")
    stables = [p["stable"] for p in partials]
    assert all(b.startswith(a) for a, b in zip(stables, stables[1:], strict=False)), stables  # never taken back
    # the latest pass heard the sentence so far: it reads as the final transcript's beginning
    heard = f"{partials[-1]['stable']} {partials[-1]['unstable']}".split()
    assert len(heard) >= 3, partials
    start = " ".join(user["text"].split()[:len(heard)])
    assert word_error_rate([start], [" ".join(heard)]).wer <= 0.3, (heard, user["text"])

def test_no_partials_when_turned_off(tmp_path):
    wav_in = concat_wavs(tmp_path / "in.wav", 0.5, CLIP, 3.0)
    r = run_voicecli("talk", "--input", str(wav_in), "--output", str(tmp_path / "out.wav"), "--json",
                     "--no-history", "--llm-max-tokens", "8", env={"VOICECLI_STT_PARTIALS": "false"})
    assert r.returncode == 0, r.stderr
    lines = json_lines(r.stdout)
    assert any(o["type"] == "user" for o in lines) and not any(o["type"] == "partial" for o in lines)
