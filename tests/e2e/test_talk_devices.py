"""The real device path: a PulseAudio virtual microphone and speaker carry a spoken question
into `voicecli talk` through sounddevice/PortAudio, and the spoken reply is captured from the
speaker and transcribed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.helpers import voiced_regions, word_overlap
from tests.pulse import start_pulseaudio

pytestmark = [pytest.mark.models, pytest.mark.audio, pytest.mark.slow]


@pytest.fixture(scope="module")
def pulse():
    pa = start_pulseaudio()
    yield pa
    pa.stop()


def read_until(proc: subprocess.Popen, predicate, timeout_s: float) -> list[dict]:
    seen: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("{"):
            obj = json.loads(line)
            seen.append(obj)
            if predicate(obj):
                return seen
    raise AssertionError(f"timed out; saw {seen}")


def start_talk(pa, db: Path) -> subprocess.Popen:
    """`voicecli talk --json` on the default (virtual) devices, as a user starts it."""
    return subprocess.Popen([sys.executable, "-m", "voicecli.cli.main", "talk", "--json", "--history", str(db)],
                            env=pa.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ask_first_question(proc: subprocess.Popen, pa) -> list[dict]:
    """Wait until talk listens, speak examples/question.wav into the virtual mic, wait for the turn."""
    read_until(proc, lambda o: o.get("state") == "listening", 120)
    pa.play_into_mic(EXAMPLES / "question.wav").wait(timeout=30)
    return read_until(proc, lambda o: o.get("type") == "turn", 90)


def test_devices_lists_the_virtual_devices(pulse):
    r = subprocess.run([sys.executable, "-m", "voicecli.cli.main", "devices"], env=pulse.env,
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "pulse" in r.stdout or "default" in r.stdout


def test_spoken_question_through_virtual_mic_gets_spoken_reply(pulse, tmp_path, engines):
    raw = tmp_path / "speaker.raw"
    recorder = pulse.record_speaker(raw)
    db = tmp_path / "h.sqlite3"
    proc = start_talk(pulse, db)
    try:
        events = ask_first_question(proc, pulse)
        time.sleep(1.0)  # let the last samples reach the speaker
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        recorder.terminate()
        recorder.wait(timeout=5)
    turn = [e for e in events if e.get("type") == "turn"][0]
    assert "capital" in turn["user"].lower() and "france" in turn["user"].lower(), turn
    assert turn["assistant"], turn
    assert turn["latency_ms"]["voice_to_voice"] > 0
    # What came out of the virtual speaker says the reply.
    pcm = np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0
    regions = voiced_regions(pcm, 16000, min_gap_s=1.5)
    assert regions, "nothing was played to the speaker"
    a, b = regions[-1]
    from voicecli.stt.types import TranscribeOptions

    heard = engines.transcriber.transcribe(pcm[max(0, int((a - 0.3) * 16000)):int((b + 0.3) * 16000)],
                                           TranscribeOptions(language="en")).text
    assert word_overlap(heard, turn["assistant"]) > 0.6, (heard, turn["assistant"])
    # a clean exit on SIGTERM keeps the history
    assert db.exists()


def _one_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    return lines[0]


def test_no_sound_devices_is_one_clear_line(tmp_path):
    import os

    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}  # no PulseAudio server, no sound card
    env.pop("PULSE_SERVER", None)
    r = subprocess.run([sys.executable, "-m", "voicecli.cli.main", "talk", "--plain"], env=env,
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "no input device" in _one_error_line(r)
    assert "--input FILE" in r.stderr


def test_unknown_device_name_is_one_clear_line(pulse):
    r = subprocess.run([sys.executable, "-m", "voicecli.cli.main", "talk", "--input-device", "nosuchmic", "--plain"],
                       env=pulse.env, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "no input device matches 'nosuchmic'" in _one_error_line(r)


def test_device_disappearing_mid_session_is_one_clear_line_and_keeps_history(tmp_path):
    pa = start_pulseaudio()
    db = tmp_path / "h.sqlite3"
    proc = start_talk(pa, db)
    try:
        ask_first_question(proc, pa)
        pa.stop()  # the sound server (and with it both devices) goes away
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        pa.stop()
    assert proc.returncode not in (0, None)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "stopped delivering audio" in lines[0], err
    import sqlite3

    rows = sqlite3.connect(db).execute("SELECT user FROM turns").fetchall()
    assert rows and "capital" in rows[0][0].lower()
