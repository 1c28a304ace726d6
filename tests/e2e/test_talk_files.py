"""`voicecli talk --input FILE --output FILE.wav`: the whole pipeline with real models, on the
same code path as the microphone (frames paced in real time, output written on a true timeline)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.helpers import concat_wavs, json_lines, read_wav, run_voicecli, voiced_regions, word_overlap

pytestmark = [pytest.mark.models, pytest.mark.slow]


def turns_of(stdout: str) -> list[dict]:
    return [o for o in json_lines(stdout) if o.get("type") == "turn"]


def transcribe(engines, samples: np.ndarray, rate: int) -> str:
    from voicecli.audio.resample import resample
    from voicecli.stt.types import TranscribeOptions

    return engines.transcriber.transcribe(resample(samples, rate, 16000), TranscribeOptions(language="en")).text


def test_two_turn_conversation_replies_are_real_speech(tmp_path, engines):
    wav_in = concat_wavs(tmp_path / "in.wav", EXAMPLES / "question.wav", 9.0, EXAMPLES / "question2.wav", 1.0)
    wav_out = tmp_path / "out.wav"
    db = tmp_path / "h.sqlite3"
    r = run_voicecli("talk", "--input", str(wav_in), "--output", str(wav_out), "--json", "--history", str(db),
                     "--llm-max-tokens", "40")
    assert r.returncode == 0, r.stderr
    turns = turns_of(r.stdout)
    assert len(turns) == 2, r.stdout
    assert "capital" in turns[0]["user"].lower() and "france" in turns[0]["user"].lower()
    assert "story" in turns[1]["user"].lower()
    for t in turns:
        assert t["assistant"].strip(), t
        for key in ("stt", "llm_first_token", "tts_first_audio", "voice_to_voice"):
            assert t["latency_ms"][key] is not None and t["latency_ms"][key] > 0, (key, t)
    # The reply audio says the reply text: split the output timeline into replies and transcribe.
    out, rate = read_wav(wav_out)
    in_dur = len(read_wav(wav_in)[0]) / 16000
    assert len(out) / rate >= in_dur - 0.5  # silence included: the timeline is true
    regions = voiced_regions(out, rate, min_gap_s=1.5)
    assert len(regions) >= 2, regions
    heard = [transcribe(engines, out[max(0, int((a - 0.3) * rate)):int((b + 0.3) * rate)], rate) for a, b in regions]
    assert word_overlap(heard[0], turns[0]["assistant"]) > 0.6, (heard[0], turns[0]["assistant"])
    assert word_overlap(" ".join(heard[1:]), turns[1]["assistant"]) > 0.6, (heard, turns[1]["assistant"])
    # The first reply starts after the first question ends (the timeline is causal).
    assert regions[0][0] > 0.5 + 1.9
    # Each finished turn was committed to SQLite.
    rows = sqlite3.connect(db).execute("SELECT turn, user, assistant, interrupted FROM turns ORDER BY turn").fetchall()
    assert [r[0] for r in rows] == [1, 2] and rows[0][2] == turns[0]["assistant"]


def test_barge_in_by_speech_stops_playback_and_truncates_history(tmp_path, engines):
    # Ask for a story (a long reply), then ask another question while it is being spoken (a few
    # seconds in, so the echo gate has heard that the microphone does not pick up the speaker).
    wav_in = concat_wavs(tmp_path / "in.wav", EXAMPLES / "question2.wav", 5.0, EXAMPLES / "question.wav", 8.0)
    wav_out = tmp_path / "out.wav"
    r = run_voicecli("talk", "--input", str(wav_in), "--output", str(wav_out), "--json", "--no-history",
                     "--system", "You tell long, detailed stories. Always answer in at least five sentences.",
                     "--llm-max-tokens", "160")
    assert r.returncode == 0, r.stderr
    turns = turns_of(r.stdout)
    assert len(turns) == 2, r.stdout
    first, second = turns
    assert first["interrupted"] is True and first["interrupted_by"] == "speech"
    assert len(first["assistant"]) < len(first["full_reply"])
    assert "capital" in second["user"].lower()
    assert second["assistant"] and not second["interrupted"]
    # Measured on the output timeline: nothing of reply 1 is played later than 100 ms after the
    # barge-in was detected.
    out, rate = read_wav(wav_out)
    cut = first["interrupt_output_s"]
    after = out[int((cut + 0.1) * rate):]
    regions = voiced_regions(after, rate, min_gap_s=0.3)
    v2v_second_s = 0.3  # the next reply cannot start sooner than this after the cut
    assert not regions or regions[0][0] >= v2v_second_s, regions[:3]
    tail = out[int(cut * rate):int((cut + 0.1) * rate)]
    assert len(tail) > 0
    # and the output really was playing right before the cut
    before = out[int((cut - 0.5) * rate):int(cut * rate)]
    assert np.sqrt(np.mean(before ** 2)) > 0.01


@pytest.mark.parametrize("echo_cancel,expect_interrupt", [(True, False), (False, True)])
def test_own_voice_echo_does_not_interrupt(tmp_path, echo_cancel, expect_interrupt):
    wav_in = concat_wavs(tmp_path / "in.wav", EXAMPLES / "question2.wav", 14.0)
    wav_out = tmp_path / "out.wav"
    args = ["talk", "--input", str(wav_in), "--output", str(wav_out), "--json", "--no-history",
            "--simulate-echo", "0.5", "--llm-max-tokens", "80"]
    if not echo_cancel:
        args.append("--no-echo-cancel")
    r = run_voicecli(*args)
    assert r.returncode == 0, r.stderr
    turns = turns_of(r.stdout)
    if echo_cancel and turns and turns[0]["interrupted"]:
        # Known defect (issue 11, open): on a busy machine AEC3 sometimes lets the echo through in
        # its first seconds and the assistant interrupts itself. One second try; two failures fail.
        first = r.stdout
        r = run_voicecli(*args)
        assert r.returncode == 0, r.stderr
        turns = turns_of(r.stdout)
        assert turns and turns[0]["interrupted"] is expect_interrupt, first + "\n--- second try ---\n" + r.stdout
    assert turns and turns[0]["interrupted"] is expect_interrupt, r.stdout
    if expect_interrupt:
        # Without echo cancellation the simulated echo is loud enough to make the assistant
        # interrupt itself: this is what the test above guards against.
        assert turns[0]["interrupted_by"] == "speech"
    else:
        assert len(turns) == 1, r.stdout
