"""The browser page on WebRTC (``/?transport=webrtc``): headless Chromium's fake microphone (the
spoken question) goes out on the call's audio track, the server transcribes it and answers on the
``oai-events`` data channel, and the reply arrives on the remote track (the browser's own
inbound-RTP audio energy) and plays; the page sends no ``input_audio_buffer.append``. The
question comes again later: Interrupt during that reply stops the server's player, which
truncates the item to what it played."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.e2e.test_web_page import browser, received, sent, wait_for, web_server  # noqa: F401
from tests.helpers import read_wav, write_wav

pytest.importorskip("aiortc")

pytestmark = [pytest.mark.models, pytest.mark.slow, pytest.mark.timeout(240)]

GAP_S = 25
"""Silence between the two questions: the first turn is over by then."""


@pytest.fixture(scope="module")
def fake_mic(tmp_path_factory) -> Path:
    """The question, then again after ``GAP_S``, then a long silence (Chromium loops the file)."""
    speech, rate = read_wav(EXAMPLES / "question.wav")
    pad, gap = np.zeros(int(1.5 * rate), np.float32), np.zeros(GAP_S * rate, np.float32)
    tail = np.zeros(90 * rate, np.float32)
    return write_wav(tmp_path_factory.mktemp("mic") / "question-twice.wav",
                     np.concatenate([pad, speech, gap, speech, tail]), rate)


def test_web_page_over_webrtc(web_server, browser):  # noqa: F811
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(web_server.url + "/?transport=webrtc")
    page.get_by_role("button", name="Start").click()
    wait_for(page, "() => document.getElementById('app').dataset.connection === 'connected'", 30, "connected")
    assert page.evaluate("() => window.voicecli.transport") == "webrtc", errors
    wait_for(page, "() => [...document.querySelectorAll('.msg.user[data-final]')].length > 0", 90, "user transcript")
    user_text = page.locator(".msg.user .text").first.inner_text()
    assert "capital" in user_text.lower() and "france" in user_text.lower(), user_text
    wait_for(page, "() => (window.voicecli.stats.received['response.done'] || 0) > 0", 90, "response.done")
    wait_for(page, "() => (window.voicecli.stats.received['output_audio_buffer.stopped'] || 0) > 0", 60,
             "the reply finished playing")
    assert received(page, "output_audio_buffer.started") >= 1
    assert received(page, "response.output_audio.delta") == 0  # the audio came on the track
    assert sent(page, "input_audio_buffer.append") == 0  # the microphone went on the track
    energy = page.evaluate("() => window.voicecli.rtcReceivedEnergy()")
    assert energy > 0.01, energy  # the browser received the reply's sound
    assistant_text = page.locator(".msg.assistant .text").first.inner_text()
    assert len(assistant_text.strip()) > 2, assistant_text

    # --- the question again: Interrupt a moment into the reply --------------------------------
    wait_for(page, "() => (window.voicecli.stats.received['output_audio_buffer.started'] || 0) > 1", GAP_S + 60,
             "the second reply playing")
    page.wait_for_timeout(400)
    page.get_by_role("button", name="Interrupt").click()
    wait_for(page, "() => (window.voicecli.stats.received['conversation.item.truncated'] || 0) > 0", 20,
             "the server's truncation")
    assert received(page, "output_audio_buffer.cleared") == 1
    assert sent(page, "output_audio_buffer.clear") >= 1 and sent(page, "conversation.item.truncate") == 0
    truncated_ms = int(page.evaluate("() => document.getElementById('app').dataset.truncatedMs"))
    assert 200 < truncated_ms < 5000, truncated_ms  # what had played, by the server's player
    assert not errors, errors
    page.get_by_role("button", name="Stop").click()
    context.close()
