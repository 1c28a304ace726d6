"""The device benchmarks' talk driver (voicecli.bench.talk_process) on a small real child process
that prints JSON event lines the way ``talk --json`` does."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from voicecli.bench.talk_process import TalkProcess, split_talk_words, talk_command

SCRIPT = textwrap.dedent("""
    import json, sys, time
    def say(**ev):
        print(json.dumps(ev), flush=True)
    say(type="state", state="loading")
    print("not an event", flush=True)
    say(type="state", state="listening")
    time.sleep(0.3)
    say(type="user", text="hello")
    say(type="state", state="speaking")
    say(type="turn", turn=1)
    say(type="state", state="listening")
    print("bye on stderr", file=sys.stderr, flush=True)
    time.sleep(float(sys.argv[1]))
    sys.exit(3)
""")


def _start(tmp_path: Path, linger_s: float) -> TalkProcess:
    return TalkProcess([sys.executable, "-c", SCRIPT, str(linger_s)], {}, tmp_path, tmp_path / "talk.log")


def test_events_are_read_in_order_timestamped_and_waited_for(tmp_path):
    t0 = time.monotonic()
    talk = _start(tmp_path, 30)
    try:
        listening = talk.wait_for(lambda e: e.data.get("state") == "listening", 20)
        assert listening is not None and listening.type == "state"
        seen = talk.expect(lambda e: e.type == "turn", 20)
        assert [e.type for e in seen] == ["user", "state", "turn"]
        assert [e.data.get("state") for e in talk.settle(0.3, 10)] == ["listening"]
        assert talk.state() == "listening"
        assert [e.type for e in talk.events] == ["state", "state", "user", "state", "turn", "state"]
        times = [e.t_s for e in talk.events]
        assert times == sorted(times) and 0 <= times[0] <= time.monotonic() - t0
        assert talk.wait_for(lambda e: e.type == "turn", 0.3) is None  # nothing more comes
        with pytest.raises(TimeoutError, match="timed out"):
            talk.expect(lambda e: e.type == "turn", 0.3)
    finally:
        talk.stop()
    assert talk.proc.returncode is not None


def test_a_program_that_exits_is_reported_with_its_stderr(tmp_path):
    talk = _start(tmp_path, 0)
    try:
        with pytest.raises(RuntimeError, match=r"talk exited with 3: bye on stderr"):
            talk.expect(lambda e: e.type == "never", 20)
    finally:
        talk.stop()


def test_talk_words_split_into_environment_checkout_and_arguments():
    env, checkout, args = split_talk_words(["VOICECLI_VAD_TURN_DETECTOR=silence", "@/tmp/other", "--end-silence-ms",
                                            "300", "VOICECLI_NOVALUE"])
    assert env == {"VOICECLI_VAD_TURN_DETECTOR": "silence"}
    assert checkout == "/tmp/other"
    assert args == ["--end-silence-ms", "300", "VOICECLI_NOVALUE"]
    assert split_talk_words([]) == ({}, None, [])
    assert talk_command("--json")[1:] == ["-m", "voicecli.cli.main", "talk", "--json"]
