"""The browser page on WebRTC (``/?transport=webrtc``): headless Chromium's fake microphone (the
spoken question) goes out on the call's audio track, the server transcribes it and answers on the
``oai-events`` data channel, and the reply arrives on the remote track (the browser's own
inbound-RTP audio energy) and plays; the page sends no ``input_audio_buffer.append``."""

from __future__ import annotations

import pytest

from tests.e2e.test_web_page import browser, fake_mic, received, sent, wait_for, web_server  # noqa: F401

pytest.importorskip("aiortc")

pytestmark = [pytest.mark.models, pytest.mark.slow, pytest.mark.timeout(240)]


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
    assert not errors, errors
    page.get_by_role("button", name="Stop").click()
    context.close()
