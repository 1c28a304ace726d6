"""The live `talk` screen in tmux, as a person uses it (issue 16): typing with --text (prompt,
wrapped replies scrolled back to their start, a typed line interrupting the spoken reply, Ctrl-C
printing the transcript), --ptt waiting for the space bar, quitting while the models load, and
`make demo`'s last lines. Screens are kept under test-artifacts/screens/."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.e2e.screens import VOICECLI, Tmux, save, too_wide
from tests.helpers import concat_wavs

pytestmark = pytest.mark.models


def test_text_mode_prompt_scroll_typed_interrupt_and_ctrl_c(tmp_path, artifacts):
    cmd = (f"{VOICECLI} talk --text --output {tmp_path / 'out.wav'} --no-history --llm-max-tokens 200 "
           "--system 'You tell long, detailed stories.'")
    with Tmux(cmd, 80, 24) as t:
        screen = t.wait_for("Enter sends", 120)
        save(artifacts, "talk-text-ready-80x24.txt", screen)
        assert "> ▏" in screen and "READY" in screen and "Ctrl-D: quit" in screen
        t.send("Tell me a long story about a brave dragon.", literal=True)
        t.send("Enter")
        screen = t.wait_for("more above", 90)  # the reply outgrew the panel; its newest line is in view
        save(artifacts, "talk-text-wrapped-80x24.txt", screen)
        assert not too_wide(screen, 80)
        t.send("Home")
        screen = t.wait_for("you: Tell me a long story about a brave dragon.", 5)  # scrolled back to the start
        save(artifacts, "talk-text-scrolled-80x24.txt", screen)
        assert "newer below" in screen
        t.send("End")
        t.send("What is two plus two?", literal=True)
        t.send("Enter")
        screen = t.wait_for("interrupted (typed)", 20)  # the typed line cut the spoken reply
        save(artifacts, "talk-text-interrupted-80x24.txt", screen)
        t.wait_for("you: What is two plus two?", 20)
        t.send("C-c")
        out, code = t.finish(30)
    save(artifacts, "talk-text-after-ctrl-c-80x24.txt", out)
    assert code == 130 and "Traceback" not in out and "error:" not in out
    tail = out[out.rindex("you: Tell me a long story"):]  # the transcript printed after the screen closed
    assert "assistant:" in tail and "[interrupted]" in tail and "you: What is two plus two?" in tail
    assert "latency: " in tail and "interrupted" in tail.splitlines()[-1]


def test_push_to_talk_waits_for_the_space_bar(tmp_path, artifacts):
    wav = concat_wavs(tmp_path / "in.wav", 30.0)
    with Tmux(f"{VOICECLI} talk --ptt --input {wav} --output {tmp_path / 'out.wav'} --no-history", 100, 30) as t:
        screen = t.wait_for("press space to talk", 120)
        save(artifacts, "talk-ptt-waiting-100x30.txt", screen)
        header = screen.splitlines()[1]
        assert "press space to talk" in header and "LISTENING" not in screen and "space: talk/send" in screen
        assert not too_wide(screen, 100)
        t.send("Space")
        screen = t.wait_for("LISTENING", 10)
        assert "talk now" in screen
        t.send("q")
        out, code = t.finish(30)
    assert code == 0 and "Traceback" not in out


@pytest.mark.parametrize("key,delay_s,code", [("q", 0.0, 0), ("C-c", 0.0, 130), ("C-c", 0.7, 130),
                                              ("C-c", 1.5, 130)])
def test_quitting_while_the_models_load(key, delay_s, code, tmp_path):
    """q quits at once (0), Ctrl-C with 130; never a traceback or `error: unexpected ImportError`."""
    cmd = f"{VOICECLI} talk --input {EXAMPLES / 'question.wav'} --output {tmp_path / 'o.wav'} --no-history"
    with Tmux(cmd, 80, 24) as t:
        t.wait_for("loading models", 60)
        time.sleep(delay_s)
        started = time.monotonic()
        t.send(key)
        out, exit_code = t.finish(20)
        quit_s = time.monotonic() - started
    assert exit_code == code, out
    assert "Traceback" not in out and "error:" not in out and "voicecli talk" not in out  # no live screen
    assert quit_s < 5, quit_s  # generous: "at once" is well under a second on an idle machine
    if code == 130:
        assert out.rstrip().endswith("interrupted")


def test_make_demo_ends_with_the_latency_and_what_to_try_next(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 0, r.stderr
    last = r.stdout.rstrip().splitlines()[-2:]
    assert last[0].startswith("Latency: ") and " ms from the end of the question" in last[0], last
    assert last[1].startswith("Next, talk for real:") and "voicecli talk" in last[1], last
    assert (ROOT / "demo-reply.wav").exists()
