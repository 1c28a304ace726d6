"""The browser voice page end to end: a real ``voicecli serve``, headless Chromium (Debian's)
whose fake microphone plays a spoken question, the page's own AudioWorklets and WebSocket.

One browser session runs the whole story, in order: accessibility basics on the idle page → a
hands-free turn (the question is heard, transcribed, answered, played) → latency figures →
screenshots (desktop and phone) → settings applied → a push-to-talk turn held with the space
bar → Escape interrupts the reply and the page truncates the item at what it played."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.e2e.serve.conftest import free_port, server_env, stop_server
from tests.helpers import read_wav, write_wav

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.models, pytest.mark.slow, pytest.mark.timeout(240)]

CHROMIUM = Path("/usr/bin/chromium")
WIRE_RATE_HZ = 24000
SERVER_STAGES = ["voice_to_voice", "endpoint_wait", "stt", "llm_first_token", "tts_first_audio"]

class WebServer:
    def __init__(self, port: int, proc: subprocess.Popen, log: Path) -> None:
        self.port, self.proc, self.log = port, proc, log
        self.url = f"http://127.0.0.1:{port}"


def start_web_server(tmp: Path, timeout_s: float = 180, **env: str) -> WebServer:
    port = free_port()
    log = tmp / f"serve-{port}.log"
    proc = subprocess.Popen([sys.executable, "-m", "voicecli.cli.main", "serve", "--port", str(port),
                             "--idle-timeout-s", "120"], cwd=ROOT, env=server_env(tmp, **env),
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = WebServer(port, proc, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voicecli serve exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(server)  # type: ignore[arg-type]
    raise RuntimeError(f"voicecli serve did not become ready:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def serving(tmp: Path, **env: str):
    """A web server for a test module: stopped at the end, and its log must hold no traceback."""
    server = start_web_server(tmp, **env)
    try:
        yield server
    finally:
        stop_server(server)  # type: ignore[arg-type]
    text = server.log.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]


@pytest.fixture(scope="module")
def web_server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("web")) as server:
        yield server


@pytest.fixture(scope="module")
def fake_mic(tmp_path_factory) -> Path:
    """The question after 1.5 s of silence, then a long silence: Chromium loops the file, and
    the question must not come back while the test is still running."""
    speech, rate = read_wav(EXAMPLES / "question.wav")
    pad = np.zeros(int(1.5 * rate), np.float32)
    tail = np.zeros(int(90 * rate), np.float32)
    return write_wav(tmp_path_factory.mktemp("mic") / "question-padded.wav", np.concatenate([pad, speech, tail]), rate)


@pytest.fixture(scope="module")
def browser(fake_mic):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    args = ["--headless=new", "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_mic}", "--autoplay-policy=no-user-gesture-required",
            "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-gpu"]
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield b
        b.close()


def dataset(page) -> dict:
    return page.evaluate("() => ({...document.getElementById('app').dataset})")


def sent(page, kind: str) -> int:
    return page.evaluate("(k) => window.voicecli.stats.sent[k] || 0", kind)


def received(page, kind: str) -> int:
    return page.evaluate("(k) => window.voicecli.stats.received[k] || 0", kind)


def story(page) -> str:
    """What happened on the page, for failure messages: the state transitions, event counts, text."""
    return (f"page state {dataset(page)}; transitions {page.evaluate('() => window.voicecli.transitions')}; "
            f"received {page.evaluate('() => window.voicecli.stats.received')}; "
            f"transcript {page.inner_text('#transcript')!r}")


def wait_for(page, js: str, timeout_s: float, what: str, arg=None) -> None:
    try:
        page.wait_for_function(js, arg=arg, timeout=timeout_s * 1000, polling=50)
    except playwright_api.TimeoutError:
        pytest.fail(f"timed out waiting for {what}; {story(page)}")


def test_web_page_voice_session(web_server, browser, artifacts):
    errors: list[str] = []
    requests: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: requests.append(r.url))
    page.goto(web_server.url + "/")

    # --- accessibility basics on the idle page ------------------------------------------------
    for role, name in [("button", "Start"), ("button", "Interrupt"), ("radio", "Hands-free"),
                       ("radio", "Push-to-talk"), ("meter", "Microphone level"), ("log", "Transcript")]:
        assert page.get_by_role(role, name=name).count() == 1, (role, name)
    page.get_by_text("Settings", exact=True).click()
    for label in ["Voice", "Speed", "VAD threshold", "End-of-turn pause", "System prompt", "API key"]:
        assert page.get_by_label(label).count() == 1, label
    # Every control has an accessible name (a line like `- button` without a quoted name fails).
    snapshot = page.locator("body").aria_snapshot()
    unnamed = [line for line in snapshot.splitlines()
               if re.match(r"\s*- (button|radio|checkbox|combobox|textbox|slider|meter|link)\s*(\[|:|$)", line)]
    assert not unnamed, snapshot
    voices = page.locator("#voice option").all_inner_texts()
    assert any("en_US" in v for v in voices), voices
    # Tab reaches the controls in order, and the focused one shows a visible outline.
    page.locator("body").focus()
    focused, outlines = [], []
    for _ in range(16):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("() => document.activeElement.id || document.activeElement.className"
                                     " || document.activeElement.tagName"))
        outlines.append(page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle"))
    assert "start" in focused and "transcript" in focused and "apply" in focused, focused
    no_outline = [f for f, o in zip(focused, outlines, strict=True) if o in ("none", "") and f != "BODY"]
    assert not no_outline, f"focused without a visible outline: {no_outline}"
    page.get_by_text("Settings", exact=True).click()  # close the panel again

    # --- a hands-free turn ------------------------------------------------------------------------
    page.get_by_role("button", name="Start").click()
    wait_for(page, "() => document.getElementById('app').dataset.connection === 'connected'", 30, "connected")
    assert page.get_by_role("button", name="Stop").count() == 1
    wait_for(page, "() => window.voicecli.level > 0.2", 20, "the microphone level to move")
    wait_for(page, "() => [...document.querySelectorAll('.msg.user[data-final]')].length > 0", 60, "user transcript")
    user_text = page.locator(".msg.user .text").first.inner_text()
    assert "capital" in user_text.lower() and "france" in user_text.lower(), user_text
    wait_for(page, "() => document.querySelector('.msg.assistant .text')?.textContent.trim().length > 0", 60,
             "assistant text")
    wait_for(page, "() => Number(document.getElementById('app').dataset.playedSamples) > 4800", 60, "reply playing")
    saw_speaking = dataset(page)["state"] == "speaking"
    wait_for(page, "() => document.getElementById('app').dataset.turns === '1' && "
                   "document.getElementById('app').dataset.state === 'listening'", 60, "reply finished playing")
    d = dataset(page)
    received_samples, played = int(d["receivedSamples"]), int(d["playedSamples"])
    assert received_samples > WIRE_RATE_HZ // 2, d  # at least half a second of reply audio
    assert played == received_samples, story(page)  # every sample that arrived was played, none dropped
    assert saw_speaking or received(page, "response.output_audio.delta") > 0
    assert sent(page, "input_audio_buffer.append") > 20
    assistant_text = page.locator(".msg.assistant .text").first.inner_text()
    assert len(assistant_text.strip()) > 2, assistant_text

    # --- latency figures ---------------------------------------------------------------------------
    browser_ms = int(page.locator("#lat-browser").get_attribute("data-ms"))
    assert 0 < browser_ms < 120_000, browser_ms
    browser_figure = page.locator("#lat-browser").inner_text()
    assert re.fullmatch(r"\d+ ms|\d+\.\d s", browser_figure), browser_figure
    assert int(page.locator("#lat-browser-audio").get_attribute("data-ms")) <= browser_ms
    meta = page.locator(".msg.assistant .meta").first.inner_text()
    assert re.search(r"first sound (\d+ ms|\d+\.\d s)", meta), meta
    if server_sends_latency():
        wait_for(page, "() => document.getElementById('lat-server-voice_to_voice').dataset.ms !== ''", 10,
                 "server latency figures")
        for stage in SERVER_STAGES:
            value = page.locator(f"#lat-server-{stage}").get_attribute("data-ms")
            assert value and float(value) >= 0, (stage, value)

    # --- screenshots ---------------------------------------------------------------------------------
    page.screenshot(path=str(artifacts / "web-page.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "web-page-phone.png"))
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways on a phone by {overflow}px"
    page.set_viewport_size({"width": 1280, "height": 800})

    # --- settings: slower speech (session.update), then push-to-talk with the space bar ---------------
    page.get_by_text("Settings", exact=True).click()
    page.get_by_label("Speed").fill("0.6")
    updates = received(page, "session.updated")
    page.get_by_role("button", name="Apply settings").click()
    wait_for(page, "(n) => (window.voicecli.stats.received['session.updated'] || 0) > n", 10, "session.updated",
             arg=updates)
    page.get_by_role("radio", name="Push-to-talk").check()
    wait_for(page, "() => document.getElementById('app').dataset.state === 'ready'", 10, "push-to-talk ready")
    assert page.get_by_role("button", name="Hold to talk").is_enabled()
    # Space typed into a text field is text, not push-to-talk.
    page.get_by_label("System prompt").focus()
    page.keyboard.press("Space")
    assert page.get_by_role("button", name="Hold to talk").get_attribute("aria-pressed") == "false"
    assert sent(page, "input_audio_buffer.commit") == 0
    page.get_by_label("System prompt").fill("")
    page.locator("#transcript").focus()
    commits = sent(page, "input_audio_buffer.commit")
    page.keyboard.down("Space")
    assert page.get_by_role("button", name="Hold to talk").get_attribute("aria-pressed") == "true"
    page.wait_for_timeout(900)
    page.keyboard.up("Space")
    wait_for(page, "(n) => (window.voicecli.stats.sent['input_audio_buffer.commit'] || 0) > n && "
                   "(window.voicecli.stats.sent['response.create'] || 0) > 0", 5, "commit + response.create",
             arg=commits)

    # --- Escape interrupts the reply; the item is truncated at what was played -------------------------
    wait_for(page, "() => document.getElementById('app').dataset.state === 'speaking'", 90, "the second reply")
    page.keyboard.press("Escape")
    wait_for(page, "() => document.getElementById('app').dataset.truncatedMs !== undefined", 30,
             "conversation.item.truncated")
    d = dataset(page)
    second = page.locator(".msg.assistant").last
    item_id = second.get_attribute("data-item-id")
    played_of_item = page.evaluate("(id) => window.voicecli.playedBy[id] || 0", item_id)
    assert int(d["lastTruncateMs"]) == played_of_item * 1000 // WIRE_RATE_HZ, (d, played_of_item)
    assert int(d["truncatedMs"]) == int(d["lastTruncateMs"])
    assert "interrupted" in (second.get_attribute("class") or "")
    # The page asks for the truncated item and shows which words were not played.
    wait_for(page, "() => (window.voicecli.stats.received['conversation.item.retrieved'] || 0) > 0", 10,
             "conversation.item.retrieved")
    page.wait_for_timeout(400)
    assert dataset(page)["state"] in ("ready", "thinking"), dataset(page)  # not speaking any more
    assert int(dataset(page)["playedSamples"]) == int(d["playedSamples"]), "playback continued after Escape"
    page.screenshot(path=str(artifacts / "web-page-interrupted.png"))

    # --- nothing came from anywhere but the server; no script errors -----------------------------------
    foreign = [u for u in requests if not u.startswith((web_server.url, "ws://127.0.0.1", "data:"))]
    assert not foreign, foreign
    assert not errors, errors
    context.close()


def server_sends_latency() -> bool:
    """The per-turn server latency event (see docs/web.md); required once the server has it."""
    server = ROOT / "voicecli" / "server"
    sources = [server / "realtime.py", *sorted((server / "realtime").glob("*.py"))]
    return any("voicecli.turn.latency" in p.read_text() for p in sources if p.exists())


STATIC_DIR = ROOT / "voicecli" / "server" / "static"
MODULE_REF = re.compile(r"""(?:\bfrom\s+|\bimport\s*\(?\s*|new URL\(\s*)["'](\./[^"']+)["']""")


def test_page_modules_are_served_as_javascript(web_server):
    """The page is native ES modules: every module it imports (and the worklet file) must be
    served with a JavaScript type, or the browser refuses to run it. The import graph reaches
    every script in the folder, and the folder is flat (package data ships `server/static/*`)."""
    index = httpx.get(web_server.url + "/", timeout=30).text
    entries = re.findall(r'<script type="module" src="/static/([^"]+)"', index)
    assert entries == ["app.js"], entries
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        r = httpx.get(f"{web_server.url}/static/{name}", timeout=30)
        assert r.status_code == 200, name
        assert r.headers["content-type"].split(";")[0].strip() == "text/javascript", (name, r.headers)
        todo += [ref[2:] for ref in MODULE_REF.findall(r.text)]
    assert seen == {p.name for p in STATIC_DIR.glob("*.js")}, seen
    assert not [p for p in STATIC_DIR.iterdir() if p.is_dir()], "package data ships only server/static/*"


WORKLET_CHECK = """
async () => {
  const sine = (n, rate, hz) => Float32Array.from({length: n}, (_, i) => 0.5 * Math.sin(2 * Math.PI * hz * i / rate));
  const crossings = (x) => {
    let c = 0;
    for (let i = 1; i < x.length; i++) if ((x[i - 1] < 0) !== (x[i] < 0)) c++;
    return c;
  };
  const settle = () => new Promise((r) => setTimeout(r, 200));

  // Player in a 48 kHz context (Firefox's fallback): two 24 kHz chunks of one item, back to back.
  const pctx = new OfflineAudioContext({numberOfChannels: 1, length: 48000, sampleRate: 48000});
  await pctx.audioWorklet.addModule('/static/worklets.js');
  const player = new AudioWorkletNode(pctx, 'voicecli-player', {numberOfInputs: 0, numberOfOutputs: 1,
                                                                outputChannelCount: [1]});
  player.connect(pctx.destination);
  const msgs = [];
  player.port.onmessage = (m) => msgs.push(m.data);
  const wave = sine(12000, 24000, 440);
  player.port.postMessage({type: 'push', item: 'a', samples: wave.slice(0, 6000)});
  player.port.postMessage({type: 'push', item: 'a', samples: wave.slice(6000)});
  await settle();
  const out = (await pctx.startRendering()).getChannelData(0);
  await settle();
  let last = 0, maxStep = 0;
  for (let i = 0; i < out.length; i++) if (out[i] !== 0) last = i;
  for (let i = 1; i < last; i++) maxStep = Math.max(maxStep, Math.abs(out[i] - out[i - 1]));
  const progress = msgs.filter((m) => m.type === 'progress').pop();

  // Capture in a 48 kHz context: an oscillator resampled to 24 kHz blocks.
  const cctx = new OfflineAudioContext({numberOfChannels: 1, length: 48000, sampleRate: 48000});
  await cctx.audioWorklet.addModule('/static/worklets.js');
  const osc = new OscillatorNode(cctx, {frequency: 440});
  const capture = new AudioWorkletNode(cctx, 'voicecli-capture', {numberOfInputs: 1, numberOfOutputs: 0,
      channelCount: 1, channelCountMode: 'explicit', processorOptions: {targetRate: 24000, blockSize: 1200}});
  const blocks = [];
  capture.port.onmessage = (m) => blocks.push(m.data);
  osc.connect(capture);
  osc.start();
  await cctx.startRendering();
  await settle();
  const captured = new Float32Array(blocks.length * 1200);
  blocks.forEach((b, i) => captured.set(b.samples, i * 1200));
  return {playedSamples: progress ? progress.played.a : 0, drained: msgs.some((m) => m.type === 'drained'),
          started: msgs.filter((m) => m.type === 'started').length, outputSamples: last + 1,
          outputCrossings: crossings(out.subarray(0, last + 1)), maxStep,
          capturedBlocks: blocks.length, capturedCrossings: crossings(captured),
          capturedRms: blocks.length ? blocks[0].rms : 0};
}
"""


def test_worklets_resample_and_play_gaplessly(web_server, browser):
    """The path the end-to-end test doesn't take: an AudioContext at 48 kHz (Firefox runs the
    microphone at the device rate). Offline rendering, so it is exact and fast."""
    page = browser.new_page()
    page.goto(web_server.url + "/")
    r = page.evaluate(WORKLET_CHECK)
    page.close()
    # 0.5 s of 24 kHz audio becomes 0.5 s at 48 kHz, counted in 24 kHz samples, with no gap at
    # the chunk boundary (a gap or a click shows as a jump between neighbouring samples).
    assert r["playedSamples"] == 12000 and r["drained"] and r["started"] == 1, r
    assert abs(r["outputSamples"] - 24000) <= 4, r
    assert abs(r["outputCrossings"] - 440) <= 4, r  # 440 Hz for 0.5 s
    assert r["maxStep"] < 0.5 * 2 * 3.1416 * 440 / 48000 * 1.2, r
    # 1 s at 48 kHz becomes 20 blocks of 50 ms at 24 kHz, still 440 Hz.
    assert r["capturedBlocks"] == 20, r
    assert abs(r["capturedCrossings"] - 880) <= 4, r
    assert 0.6 < r["capturedRms"] < 0.8, r  # a full-scale sine's RMS is 0.707


PLAYED_COUNT_AT_FLUSH = """
async () => {
  const { AudioOut } = await import('/static/audio-out.js');
  let published = null; // the count the page shows (#app data-played-samples)
  const hooks = {onStarted() {}, onStopped() {}, onPlayed: (n) => { published = n; }, onReceived() {},
                 onContextRate() {}};
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const runs = [];
  for (let run = 0; run < 5; run++) {
    published = null;
    const out = new AudioOut(hooks);
    await out.open();
    out.push('a', Float32Array.from({length: 24000}, (_, i) => 0.1 * Math.sin(2 * Math.PI * 440 * i / 24000)));
    await sleep(120 + 13 * run); // interrupt at a different point of the player's reporting cycle each time
    const flushed = await out.flush();
    const atFlush = published;
    await sleep(200);
    runs.push({flushed: flushed.played.a || 0, discarded: flushed.discarded.a || 0, atFlush, later: published});
    await out.ctx.close();
  }
  return runs;
}
"""


def test_played_count_is_final_when_the_flush_answers(web_server, browser):
    """Regression ("playback continued after Escape"): the player published its played-sample
    count only every 8 render quanta, and a flush did not publish it, so the count ticked up
    once more *after* the interrupt (audio rendered before the flush, counted late). The end-
    to-end test read it in between when the truncation round trip beat that last report."""
    page = browser.new_page()
    page.goto(web_server.url + "/")
    runs = page.evaluate(PLAYED_COUNT_AT_FLUSH)
    page.close()
    for r in runs:
        assert r["flushed"] > 0 and r["discarded"] > 0, runs  # stopped in the middle of the item
        assert r["atFlush"] == r["flushed"] and r["later"] == r["flushed"], runs


TRUNCATE_AFTER_EARLY_DONE = """
async () => {
  const { Conversation } = await import('/static/conversation.js');
  const { Latency } = await import('/static/latency.js');
  const { Store } = await import('/static/state.js');
  const { Transcript } = await import('/static/transcript.js');
  const sent = [];
  let answerFlush = null;
  const transcript = new Transcript(document.createElement('ol'), document.createElement('li'));
  const conv = new Conversation({
    store: new Store(), client: {send: (e) => sent.push(e)}, transcript,
    latency: new Latency({}, transcript, () => 0), app: document.createElement('div'), showError: () => {},
    audioOut: {push() {}, flush: () => new Promise((resolve) => { answerFlush = resolve; })},
  });
  const on = conv.handlers();
  on['response.created']({response: {id: 'r1'}});
  on['response.output_item.added']({response_id: 'r1', item: {id: 'i1'}});
  on['response.output_audio.delta']({response_id: 'r1', item_id: 'i1', delta: btoa('\\0'.repeat(4800))});
  const interrupted = conv.interrupt('test');
  // The response ends (it was complete, or the cancel was quick) before the player answers the flush.
  on['response.done']({response: {id: 'r1', status: 'cancelled', output: [{id: 'i1'}]}});
  answerFlush({played: {i1: 1200}, discarded: {i1: 1200}, wasPlaying: true});
  await interrupted;
  return sent.map((e) => [e.type, e.item_id || null, e.audio_end_ms ?? null]);
}
"""


def test_truncate_is_sent_when_the_response_ends_before_the_flush_answers(web_server, browser):
    """Regression: an interrupt keeps the truncation of the current reply until response.done,
    but it registered it only after the player answered the flush; a response.done arriving in
    between (a reply already complete on the server) left the item untruncated."""
    page = browser.new_page()
    page.goto(web_server.url + "/")
    sent = page.evaluate(TRUNCATE_AFTER_EARLY_DONE)
    page.close()
    assert ["response.cancel", None, None] in sent, sent
    assert ["conversation.item.truncate", "i1", 50] in sent, sent  # 1200 samples at 24 kHz
