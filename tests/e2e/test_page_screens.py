"""The browser page as a new user sees it (issue 16): a real ``voicecli serve`` and Debian's
headless Chromium (as in test_web_page.py, whose server and browser helpers this reuses), one
hands-free turn, screenshots at desktop (1280×800) and phone (390×844) size kept under
test-artifacts/, and the points a first look tripped over: no sideways scrolling, a Settings
disclosure that says what it is, Interrupt enabled only while a reply is on its way or playing,
the end-of-turn pause defaulting to the server's own, and nothing loaded from off the machine."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.e2e.serve.conftest import stop_server
from tests.e2e.test_web_page import CHROMIUM, dataset, playwright_api, start_web_server, wait_for
from tests.helpers import read_wav, write_wav

pytestmark = [pytest.mark.models, pytest.mark.slow, pytest.mark.timeout(180)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start_web_server(tmp_path_factory.mktemp("screens"))
    yield s
    stop_server(s)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def chromium(fake_mic_file):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    args = ["--headless=new", "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_mic_file}", "--autoplay-policy=no-user-gesture-required",
            "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-gpu",
            "--force-color-profile=srgb", "--hide-scrollbars"]
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield b
        b.close()


@pytest.fixture(scope="module")
def fake_mic_file(tmp_path_factory) -> Path:
    """The question after 1.5 s of silence, then silence long enough that Chromium's loop of
    the file does not bring it back during the test."""
    speech, rate = read_wav(EXAMPLES / "question.wav")
    pad, tail = np.zeros(int(1.5 * rate), np.float32), np.zeros(int(90 * rate), np.float32)
    return write_wav(tmp_path_factory.mktemp("mic") / "question-padded.wav", np.concatenate([pad, speech, tail]), rate)


def overflow_px(page) -> int:
    return int(page.evaluate("() => document.scrollingElement.scrollWidth - innerWidth"))


def smallest_font_px(page) -> float:
    """The smallest font size of any visible text on the page."""
    return float(page.evaluate("""() => {
        let min = 99;
        const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) {
          const el = n.parentElement;
          if (!n.textContent.trim() || !el || el.closest('.visually-hidden, [hidden], details:not([open]) > form'))
            continue;
          const r = el.getBoundingClientRect();
          if (!r.width || !r.height || getComputedStyle(el).display === 'none') continue;
          min = Math.min(min, parseFloat(getComputedStyle(el).fontSize));
        }
        return min;
    }"""))


def check_layout(page, size: str) -> None:
    assert overflow_px(page) <= 0, f"{size}: the page scrolls sideways by {overflow_px(page)}px"
    assert smallest_font_px(page) >= 12, f"{size}: text smaller than 12px"
    summary = page.locator("#settings-panel > summary")
    assert summary.is_visible()
    text = summary.inner_text()
    assert "Settings" in text, text
    assert summary.bounding_box()["height"] >= 40, "the Settings disclosure is too small to see or tap"
    assert page.locator("#settings-panel .chevron").is_visible(), "the Settings disclosure has no arrow"
    assert page.locator(".orb").is_visible() and page.locator("#state-text").inner_text().strip()


def test_page_screens(server, chromium, artifacts):
    requests: list[str] = []
    errors: list[str] = []
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    config = httpx.get(server.url + "/web/config.json", timeout=30).json()
    server_pause = config["vad"]["end_silence_ms"]

    # --- idle: nothing to interrupt; the pause slider shows the server's default ---------------------
    wait_for(page, "() => document.getElementById('silence-out').textContent.endsWith(' ms')", 10,
             "the server's defaults")
    interrupt = page.get_by_role("button", name="Interrupt")
    assert interrupt.is_disabled()
    assert int(page.locator("#silence").input_value()) == server_pause
    for size, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        page.wait_for_timeout(200)
        check_layout(page, size)
        page.screenshot(path=str(artifacts / f"page-idle-{size}.png"))
    page.set_viewport_size({"width": 1280, "height": 800})

    # --- a hands-free turn: Interrupt is enabled while the reply is on its way and playing ------------
    page.get_by_role("button", name="Start").click()
    wait_for(page, "() => document.getElementById('app').dataset.connection === 'connected'", 30, "connected")
    assert interrupt.is_disabled(), "Interrupt enabled while only listening"
    reported = page.evaluate("() => window.voicecli.defaultsFromServer")
    td = (reported.get("audio") or {}).get("input", {}).get("turn_detection") or reported.get("turn_detection")
    assert td["silence_duration_ms"] == server_pause
    assert int(page.locator("#silence").input_value()) == server_pause
    wait_for(page, "() => document.getElementById('app').dataset.state === 'speaking' && "
                   "!document.getElementById('interrupt').disabled", 90, "the reply playing with Interrupt enabled")
    wait_for(page, "() => document.getElementById('app').dataset.turns === '1' && "
                   "document.getElementById('app').dataset.state === 'listening'", 60, "the reply finished")
    assert interrupt.is_disabled(), f"Interrupt still enabled after the reply: {dataset(page)}"
    wait_for(page, "() => document.getElementById('lat-browser').dataset.ms !== ''", 10, "the latency figure")
    page.wait_for_timeout(300)  # the server's latency event follows the last audio

    # --- the screens after one turn -----------------------------------------------------------------
    for size, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        page.wait_for_timeout(300)
        check_layout(page, size)
        page.screenshot(path=str(artifacts / f"page-{size}.png"))
    page.get_by_text("Settings", exact=True).click()
    page.wait_for_timeout(200)
    check_layout(page, "phone, settings open")
    page.screenshot(path=str(artifacts / "page-phone-full.png"), full_page=True)

    # --- nothing from anywhere but this machine -------------------------------------------------------
    foreign = [u for u in requests if not u.startswith("data:") and urlsplit(u).hostname not in LOOPBACK]
    assert not foreign, foreign
    assert not errors, errors
    context.close()
