"""The live screen, driven in tmux as a person would: it renders in 80×24, a key interrupts
the assistant, `q` quits, and the terminal is sane afterwards."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.helpers import concat_wavs

pytestmark = [pytest.mark.models, pytest.mark.slow]


class Tmux:
    def __init__(self, name: str) -> None:
        self.name = name
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", "bash --norc --noprofile"],
                       check=True)

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True,
                              check=True).stdout

    def wait_for(self, text: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on screen after {timeout_s}s:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def tmux():
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (make test installs it)")
    t = Tmux(f"voicecli-test-{time.monotonic_ns()}")
    yield t
    t.kill()


def test_tui_renders_interrupts_on_key_and_quits_cleanly(tmux, tmp_path, artifacts):
    wav = concat_wavs(tmp_path / "in.wav", EXAMPLES / "question2.wav", 60.0)
    tmux.send(f"cd {ROOT} && .venv/bin/voicecli talk --input {wav} --output {tmp_path / 'out.wav'} --no-history "
              "--system 'You tell long stories.' --llm-max-tokens 200; echo EXIT=$?", "Enter")
    screen = tmux.wait_for("SPEAKING", 180)
    lines = screen.splitlines()
    assert "voicecli talk" in lines[0]
    assert any("conversation" in ln for ln in lines) and any("latency (ms)" in ln for ln in lines)
    assert any("space: interrupt" in ln for ln in lines[-4:]), screen  # the key help fits on 24 lines
    assert all(len(ln) <= 80 for ln in lines)
    assert "you: Tell me a short story" in screen
    (artifacts / "tui-speaking.txt").write_text(screen)

    time.sleep(2.0)  # let the user hear a little of it
    tmux.send(" ")
    screen = tmux.wait_for("interrupted (key)", 5)
    assert "[interrupted]" in screen
    (artifacts / "tui-interrupted.txt").write_text(screen)

    tmux.send("q")
    screen = tmux.wait_for("EXIT=0", 20)
    assert "Traceback" not in screen
    tmux.send("stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' '; echo", "Enter")
    time.sleep(1.0)
    last = [ln for ln in tmux.screen().splitlines() if "icanon" in ln and "stty" not in ln][-1]
    assert "-icanon" not in last and "-echo" not in last.split(), last


def test_push_to_talk_hears_only_while_open(tmux, tmp_path):
    # Two questions; the microphone is opened (space) only around the second one.
    wav = concat_wavs(tmp_path / "in.wav", EXAMPLES / "question.wav", 4.0, EXAMPLES / "question2.wav", 12.0)
    tmux.send(f"cd {ROOT} && .venv/bin/voicecli talk --ptt --plain --input {wav} --output {tmp_path / 'out.wav'} "
              "--no-history --llm-max-tokens 20; echo EXIT=$?", "Enter")
    tmux.wait_for("[listening]", 180)
    t0 = time.monotonic()
    time.sleep(max(0.0, t0 + 5.5 - time.monotonic()))   # question 1 (0.5–3.2 s) went by unheard
    tmux.send(" ")                                          # open: question 2 plays at ~7.7–11.4 s
    time.sleep(max(0.0, t0 + 12.5 - time.monotonic()))
    tmux.send(" ")                                          # close: the turn is sent
    screen = tmux.wait_for("EXIT=0", 120)
    assert "you: Tell me a short story" in screen, screen
    assert "capital" not in screen.lower(), screen
