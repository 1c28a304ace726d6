"""`voicecli talk --wake-word`: one recording with speech that lacks the wake word, then the wake
word + a question, a follow-up within the window, and speech after the window. Exactly the two
questions after the wake word are answered, and only they reach the history (real models; the
wake word is said by the bundled Piper voice, the rest is real speech)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.helpers import json_lines, read_wav, run_voicecli, silence, write_wav

pytestmark = [pytest.mark.models, pytest.mark.slow]

FOLLOW_UP_S = 8
"""Long enough that the follow-up (7 s after the first question) is inside the window however fast
the first reply ends, short enough that the last clip (20 s after the follow-up) is outside it
unless the second reply takes more than 12 s."""
IGNORED = "asleep: speech without the wake word ignored"


def scenario(path, speech_dir, settings, wake_words: str):
    from voicecli.audio.resample import resample
    from voicecli.engines import load_speaker

    speaker = load_speaker(settings)
    wake = resample(np.concatenate([c.samples for c in speaker.synthesize(wake_words)]), speaker.sample_rate_hz, 16000)
    clip = lambda p: read_wav(p)[0]  # noqa: E731
    return write_wav(path, np.concatenate([
        silence(0.5), clip(speech_dir / "en_goforward.wav"),          # "go forward ten meters": asleep
        silence(1.2), wake, silence(0.15), clip(EXAMPLES / "question.wav"),  # wake + "what is the capital of France"
        silence(7.0), clip(EXAMPLES / "question2.wav"),              # a follow-up: "tell me a short story …"
        silence(20.0), clip(speech_dir / "en_timit_LDC93S1.wav"),     # after the window: asleep again
        silence(2.5)]))


@pytest.mark.parametrize("mode", ["model", "phrase"])
def test_only_the_questions_after_the_wake_word_are_answered(tmp_path, speech_dir, settings, mode):
    if mode == "model":
        pytest.importorskip("openwakeword.model", reason="openWakeWord is optional (the wake extra)")
        wake_args, words = ["--wake-word", "hey_jarvis"], "Hey Jarvis."
    else:
        wake_args, words = ["--wake-phrase", "hey computer"], "Hey computer."
    wav_in = scenario(tmp_path / "in.wav", speech_dir, settings, words)
    db = tmp_path / "h.sqlite3"
    # Real time: a slow reply delays the window. Short replies, greedy STT and the silence turn
    # detector keep the machine's work small; the file has no echo to cancel.
    r = run_voicecli("talk", "--input", str(wav_in), "--output", str(tmp_path / "out.wav"), "--json",
                     "--history", str(db), *wake_args, "--llm-max-tokens", "12", "--no-echo-cancel",
                     "--system", "Answer in one short sentence.",
                     env={"VOICECLI_WAKE_FOLLOW_UP_S": str(FOLLOW_UP_S), "VOICECLI_STT_CONVERSATION_BEAM_SIZE": "1",
                          "VOICECLI_VAD_TURN_DETECTOR": "silence", "VOICECLI_VAD_SPECULATIVE_REPLY": "false"})
    assert r.returncode == 0, r.stderr
    events = json_lines(r.stdout)
    shown = "\n".join(str(e) for e in events if e["type"] != "level")
    turns = [e for e in events if e["type"] == "turn"]
    assert len(turns) == 2, shown
    first, second = sorted(turns, key=lambda t: t["turn"])
    assert "capital" in first["user"].lower(), shown
    assert not {"jarvis", "computer"} & set(first["user"].lower().replace(",", " ").split()), shown  # wake word cut off
    assert "story" in second["user"].lower(), shown
    assert first["full_reply"] and second["full_reply"], shown
    # The speech before the wake word and after the window was ignored, never transcribed as a turn.
    users = " ".join(e["text"].lower() for e in events if e["type"] == "user")
    assert "forward" not in users and "suit" not in users and "greasy" not in users, shown
    assert sum(1 for e in events if e["type"] == "notice" and e["message"] == IGNORED) == 2, shown
    wake = [(e["state"], e["reason"]) for e in events if e["type"] == "wake"]
    woke_by = "wake word" if mode == "model" else "wake phrase"
    assert wake == [("asleep", "start"), ("awake", woke_by), ("asleep", "quiet")], shown
    if mode == "model":
        assert next(e["score"] for e in events if e["type"] == "wake" and e["state"] == "awake") >= 0.5
    # Only the two answered turns are in the history.
    rows = sqlite3.connect(db).execute("SELECT user FROM turns ORDER BY turn").fetchall()
    assert [u for (u,) in rows] == [first["user"], second["user"]]


def test_bad_wake_word_is_one_clear_line():
    r = run_voicecli("talk", "--input", str(EXAMPLES / "question.wav"), "--output", "/dev/null", "--no-history",
                     "--wake-word", "hey_siri", timeout=120)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert any("hey_siri" in ln for ln in lines) and len(lines) <= 2, r.stderr


def test_models_lists_the_wake_models_with_their_license():
    pytest.importorskip("openwakeword.model", reason="openWakeWord is optional (the wake extra)")
    r = run_voicecli("models", "--kind", "wake", timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [ln.split("\t") for ln in r.stdout.splitlines() if ln.startswith("available")]
    assert {row[2] for row in rows} == {"hey_jarvis", "alexa", "hey_mycroft", "hey_rhasspy"}
    assert all("CC BY-NC-SA 4.0" in row[5] for row in rows)
    assert "not for commercial use" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["--wake-word", "hey_jarvis", "--ptt"], "a wake word needs hands-free speech"),
    (["--wake-word", "hey_jarvis", "--wake-phrase", "hey computer"], "both given"),
    (["--wake-phrase", ""], "invalid value for wake.word"),
])
def test_wake_options_that_cannot_work_are_one_clear_line(args, message):
    r = run_voicecli("talk", "--input", str(EXAMPLES / "question.wav"), "--no-history", *args, timeout=60)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
