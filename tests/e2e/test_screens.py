"""Every non-live screen as a new user meets it (issue 16): each command's --help, and the
models, doctor, config, history and devices tables in 80- and 100-column terminals (tmux), and
piped. The screens are kept under test-artifacts/screens/. No models are loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.e2e.screens import (
    BOX_CHARS,
    METAVAR_NOISE,
    broken_words,
    lone_closers,
    run_in_terminal,
    save,
    too_wide,
)
from tests.helpers import ROOT, VOICECLI, run_voicecli
from voicecli.cli.main import COMMANDS

WIDTHS = (80, 100)


def help_text(args: list[str], width: int) -> str:
    r = subprocess.run([*VOICECLI, *args, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60,
                       env={**os.environ, "COLUMNS": str(width)}, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_help_is_plain_and_fits(width, artifacts):
    top = help_text([], width)
    save(artifacts, f"help-{width}.txt", top)
    assert top.startswith("Usage: voicecli [OPTIONS] COMMAND")
    listed = top.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[0] for line in listed] == list(COMMANDS)  # one line per command, no sentence broken
    for command in COMMANDS:
        text = help_text([command], width)
        save(artifacts, f"help-{command}-{width}.txt", text)
        assert not METAVAR_NOISE.search(text), (command, METAVAR_NOISE.search(text))
        assert not too_wide(text, width), (command, too_wide(text, width))
        assert not [line for line in text.splitlines() if line.rstrip().endswith("-")], command  # split at a hyphen
        assert text.startswith(f"Usage: voicecli {command} [OPTIONS]")


def test_help_names_values_and_flags_the_conventional_way():
    talk = help_text(["talk"], 100)
    assert "-i, --input FILE" in talk and "--end-silence-ms MS" in talk and "--llm-max-tokens N" in talk
    assert "--ptt  " in talk and "--echo-cancel / --no-echo-cancel" in talk  # flags take no value
    assert "-h, --help" in talk
    assert "FILE..." in help_text(["transcribe"], 100) and "[default: 8000]" in help_text(["serve"], 100)


def check_table(name: str, tty: str, piped: str, width: int, extra_words: str = "") -> None:
    assert not too_wide(tty, width), (name, too_wide(tty, width))
    assert not lone_closers(tty), (name, lone_closers(tty))
    assert not broken_words(tty, piped, extra_words), (name, broken_words(tty, piped, extra_words))


def check_tab_separated(piped: str) -> list[list[str]]:
    assert not set(piped) & BOX_CHARS
    rows = [line.split("\t") for line in piped.splitlines() if "\t" in line]
    assert rows and all(len(row) == len(rows[0]) for row in rows), piped
    return rows


@pytest.mark.parametrize("width", WIDTHS)
def test_models_table(width, artifacts):
    tty, code = run_in_terminal("models", width)
    save(artifacts, f"models-{width}.txt", tty)
    piped = run_voicecli("models").stdout
    assert code == 0
    rows = check_tab_separated(piped)
    check_table("models", tty, piped, width, "models available now downloadable from the hub Downloads off: languages "
                "repo package")
    for row in rows[1:]:
        assert row[2] in tty  # every model name, whole
    assert "…" in tty or width >= 100  # long paths are shortened, not folded


@pytest.mark.parametrize("width", WIDTHS)
def test_doctor_table(width, artifacts):
    tty, code = run_in_terminal("doctor", width)
    save(artifacts, f"doctor-{width}.txt", tty)
    piped = run_voicecli("doctor").stdout
    rows = check_tab_separated(piped)
    check_table("doctor", tty, piped, width, "voicecli doctor check status found fix ready (warnings above are "
                "optional)")
    assert rows[0] == ["check", "status", "found", "path", "fix"]
    wrong = [row for row in rows[1:] if row[1] in ("warn", "fail")]
    assert all(row[4] for row in wrong), wrong  # every finding that is not ok says what to do
    header = next(line for line in tty.splitlines() if line.startswith("check"))
    assert "status" in header and (("fix" in header) == bool(wrong))
    assert code == (1 if any(row[1] == "fail" for row in rows) else 0)


@pytest.mark.parametrize("width", WIDTHS)
def test_config_table(width, artifacts):
    tty, code = run_in_terminal("config", width, env={"VOICECLI_STT_BEAM_SIZE": "3"})
    save(artifacts, f"config-{width}.txt", tty)
    piped = run_voicecli("config").stdout
    rows = check_tab_separated(piped)
    assert code == 0
    check_table("config", tty, piped, width, "config file: (not present: defaults apply) key value source description "
                "Set a key in the config file ([stt] model = \"base\"), in the environment (VOICECLI_STT_MODEL=base) "
                "or with a flag. Whole values and descriptions: voicecli config --json env default")
    from voicecli.config import all_keys

    assert len(tty.splitlines()) <= len(all_keys()) + 8  # a line per setting (was 133 lines with wrapping)
    history = next(row for row in rows if row[0] == "history.path")
    assert history[1].endswith("history.sqlite3")  # the real path, not empty
    assert "history.sqlite3" in next(line for line in tty.splitlines() if line.startswith("history.path"))
    assert "env" in next(line for line in tty.splitlines() if line.startswith("stt.beam_size"))


@pytest.fixture
def history_db(tmp_path):
    from voicecli.pipeline.events import Latency, TurnRecord
    from voicecli.pipeline.history import HistoryStore

    db = tmp_path / "h.sqlite3"
    store = HistoryStore(db)
    ids = []
    for question in ("Tell me a long story about a lighthouse keeper and a terrible storm at sea",
                     "What is the capital of France?"):
        sid = store.new_session({"stt": "tiny.en"})
        ids.append(sid)
        store.add_turn(sid, TurnRecord(1, question, "Once upon a time there was a keeper.", True,
                                       "Once upon a time there was a keeper. And a storm.", time.time(), time.time(),
                                       Latency(400, 120, 0, 300, 90, 910)))
        time.sleep(0.01)
    store.close()
    return db, ids


@pytest.mark.parametrize("width", WIDTHS)
def test_history_screens(width, history_db, artifacts):
    db, ids = history_db
    tty, code = run_in_terminal(f"history --history {db}", width)
    save(artifacts, f"history-{width}.txt", tty)
    piped = run_voicecli("history", "--history", str(db)).stdout
    check_tab_separated(piped)
    check_table("history", tty, piped, width, "session started turns first words")
    row = next(line for line in tty.splitlines() if line.startswith(ids[0]))
    words = row.split("  ")[-1].strip()
    assert words.endswith("…") and ("Tell me a long story about a lighthouse keeper and a terrible storm at sea"
                                    .startswith(words[:-1].rstrip() + " "))  # cut after a whole word

    shown, code = run_in_terminal(f"history last --history {db}", width)
    save(artifacts, f"history-last-{width}.txt", shown)
    assert code == 0 and "[interrupted]" in shown and not too_wide(shown, width)
    for stage in ("endpoint", "stt", "stt wait", "llm 1st token", "tts 1st audio", "voice-to-voice"):
        assert f"{stage} " in shown, stage


def test_an_ambiguous_session_prefix_lists_the_candidates(history_db):
    db, ids = history_db
    prefix = ids[0][:9]  # both sessions started the same day
    r = run_voicecli("history", prefix, "--history", str(db))
    assert r.returncode == 1 and "no single session" not in r.stderr
    assert all(sid in r.stderr for sid in ids) and f"'{prefix}' matches 2 sessions" in r.stderr
    assert run_voicecli("history", ids[1][:-2], "--history", str(db)).returncode == 0  # a unique prefix is fine


@pytest.mark.audio
def test_devices_lists_and_routes_the_sound_servers_sources_and_sinks(artifacts):
    from tests.pulse import start_pulseaudio

    pa = start_pulseaudio()
    try:
        tty, code = run_in_terminal("devices", 80, env=pa.env)
        save(artifacts, "devices-80.txt", tty)
        piped = subprocess.run([*VOICECLI, "devices"], env=pa.env, capture_output=True, text=True, cwd=ROOT,
                               timeout=60, check=False).stdout
        rows = check_tab_separated(piped)
        assert code == 0 and not too_wide(tty, 80)
        names = {row[0]: row for row in rows}
        assert names["mic"][5] == "input" and names["spk"][5] == "output" and "micsink.monitor" in names
        assert "mic" in tty and "spk" in tty and "PulseAudio" in tty
        # --input-device micsink.monitor (not the default source) records from that source
        probe = ("import json, subprocess, sounddevice as sd\n"
                 "from voicecli.audio.devices import resolve_device\n"
                 "index = resolve_device('micsink.monitor', 'input')\n"
                 "with sd.InputStream(device=index, channels=1, samplerate=16000):\n"
                 "    streams = subprocess.run(['pactl', 'list', 'short', 'source-outputs'], capture_output=True,"
                 " text=True).stdout\n"
                 "print(json.dumps(streams))\n")
        r = subprocess.run([sys.executable, "-c", probe], env={**pa.env, "PYTHONPATH": str(ROOT)},
                           capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
        assert r.returncode == 0, r.stderr
        sources = pa.run("pactl", "list", "short", "sources").stdout.decode()
        wanted = next(line.split("\t")[0] for line in sources.splitlines() if line.split("\t")[1] == "micsink.monitor")
        used = [line.split("\t")[1] for line in json.loads(r.stdout).splitlines()]
        assert wanted in used, (used, sources)
    finally:
        pa.stop()
