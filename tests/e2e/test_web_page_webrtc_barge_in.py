"""Barge-in by speech on the browser page over WebRTC (``/?transport=webrtc``): headless
Chromium's fake microphone asks for a story, and a few seconds into the spoken reply it asks
another question over it. The server's VAD hears that speech on the call's audio track while its
player sends the reply: it stops the player (``output_audio_buffer.cleared``), the reply ends
``cancelled`` (or, if it had all been generated already, only its playback is cut), the assistant
item is truncated to what had played, and the question spoken over the reply is transcribed and
answered as the next turn. Everything is asserted on the events the page's ``oai-events`` data
channel carried (recorded by an init script), not on wall-clock time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.e2e.test_web_page import browser, sent, serving, wait_for  # noqa: F401
from tests.helpers import read_wav, word_overlap, write_wav

pytest.importorskip("aiortc")

pytestmark = [pytest.mark.models, pytest.mark.slow, pytest.mark.timeout(300)]

QUESTION = "What is the capital of France?"
"""examples/question.wav, spoken over the story."""
STORYTELLER = "You are a storyteller. Reply to every message with a long story, in many sentences."
BARGE_IN_AFTER_S = 10.0
"""Silence between the end of the request for a story and the question spoken over the reply:
the reply starts 2–5 s after the request ends (more on a loaded machine) and lasts far longer."""

RECORD_EVENTS = """
(() => {
  const log = [];
  window.__rtcEvents = log;
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const channel = create.apply(this, args);
    channel.addEventListener("message", (m) => log.push({ dir: "in", t: performance.now(), e: JSON.parse(m.data) }));
    const send = channel.send.bind(channel);
    channel.send = (data) => { log.push({ dir: "out", t: performance.now(), e: JSON.parse(data) }); send(data); };
    return channel;
  };
})();
"""

SECOND_ANSWERED = """() => {
  const log = window.__rtcEvents || [];
  const barge = log.findIndex((x) => x.dir === "in" && x.e.type === "input_audio_buffer.speech_started" &&
                                     log.slice(0, log.indexOf(x)).some((y) => y.e.type === "output_audio_buffer.started"));
  return barge >= 0 && log.slice(barge).some((x) => x.e.type === "response.done" && x.e.response.status === "completed");
}"""


@pytest.fixture(scope="module")
def web_server(tmp_path_factory):
    """``voicecli serve`` allowing replies long enough to talk over (the suite's default is 40 tokens)."""
    with serving(tmp_path_factory.mktemp("web-barge"), VOICECLI_LLM_MAX_REPLY_TOKENS="160") as server:
        yield server


@pytest.fixture(scope="module")
def fake_mic(tmp_path_factory) -> Path:
    """"Tell me a short story …", silence into the reply, "What is the capital of France?", then
    a long silence (Chromium loops the file)."""
    story, rate = read_wav(EXAMPLES / "question2.wav")
    question, q_rate = read_wav(EXAMPLES / "question.wav")
    assert q_rate == rate
    pad, gap = np.zeros(2 * rate, np.float32), np.zeros(int(BARGE_IN_AFTER_S * rate), np.float32)
    tail = np.zeros(120 * rate, np.float32)
    return write_wav(tmp_path_factory.mktemp("mic") / "story-then-question.wav",
                     np.concatenate([pad, story, gap, question, tail]), rate)


def first(events: list[dict], kind: str, start: int = 0, **fields) -> int:
    """Index of the first event of ``kind`` at or after ``start`` whose fields match; -1 if none."""
    for i in range(start, len(events)):
        e = events[i]
        if e["type"] == kind and all(e.get(k) == v for k, v in fields.items()):
            return i
    return -1


def test_speech_over_the_reply_stops_it_and_is_answered(web_server, browser):  # noqa: F811
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(RECORD_EVENTS)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(web_server.url + "/?transport=webrtc")
    page.get_by_text("Settings", exact=True).click()
    page.get_by_label("System prompt").fill(STORYTELLER)
    page.get_by_role("button", name="Apply settings").click()
    page.get_by_text("Settings", exact=True).click()
    page.get_by_role("button", name="Start").click()
    wait_for(page, "() => document.getElementById('app').dataset.connection === 'connected'", 30, "connected")
    assert page.evaluate("() => window.voicecli.transport") == "webrtc", errors
    wait_for(page, SECOND_ANSWERED, 120, "speech over the reply, answered")

    log = page.evaluate("() => window.__rtcEvents")
    inbound = [x for x in log if x["dir"] == "in"]
    events = [x["e"] for x in inbound]
    at = [x["t"] for x in inbound]
    types = [e["type"] for e in events]
    timeline = [f"{(t - at[0]) / 1000:6.2f} {k}" for t, k in zip(at, types, strict=True)
                if not k.endswith(".delta")]
    print("\n".join(timeline))

    # The story was asked for (the system prompt from the page's settings) and began to play.
    asked = first(events, "conversation.item.input_audio_transcription.completed")
    assert asked >= 0 and "story" in events[asked]["transcript"].lower(), timeline
    created = first(events, "response.created", asked)
    story_id = events[created]["response"]["id"]
    playing = first(events, "output_audio_buffer.started", created, response_id=story_id)
    assert playing >= 0, timeline
    # Speech on the microphone track while the server's player sends the story: a barge-in.
    barge = first(events, "input_audio_buffer.speech_started", playing)
    assert barge >= 0, timeline
    # The server's player stops, the story ends cancelled, its item keeps only what was played.
    cleared = first(events, "output_audio_buffer.cleared", barge, response_id=story_id)
    assert cleared >= 0, timeline
    assert first(events, "output_audio_buffer.stopped", playing, response_id=story_id) == -1, \
        f"the story played to its end: {timeline}"
    # The story's response is cancelled if it was still being generated; if it had been (the
    # player is behind the generation, as on OpenAI's WebRTC), it stays completed and only its
    # playback is cut.
    done = first(events, "response.done", playing)
    story_done = events[done]["response"]
    generating = done > barge
    assert story_done["id"] == story_id, story_done
    if generating:
        assert story_done["status"] == "cancelled", story_done
        assert story_done["status_details"]["reason"] in ("turn_detected", "client_cancelled"), story_done
    else:
        assert story_done["status"] == "completed", story_done
    story_item = story_done["output"][0]["id"]
    truncated = first(events, "conversation.item.truncated", barge, item_id=story_item)
    assert truncated >= 0, timeline
    played_ms = at[cleared] - at[playing]
    end_ms = events[truncated]["audio_end_ms"]
    assert 1000 < end_ms < played_ms + 1000, (end_ms, played_ms)  # what had played: seconds, not the story
    full_text = "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"
                        and e["item_id"] == story_item)
    retrieved = first(events, "conversation.item.retrieved", truncated)
    heard = events[retrieved]["item"]["content"][0]["transcript"]
    assert heard.split() and len(heard.split()) < len(full_text.split()), (heard, full_text)
    story_entry = page.locator(f".msg.assistant[data-item-id='{story_item}']")
    assert "interrupted" in (story_entry.get_attribute("class") or "")

    # The question spoken over the story is the next turn, transcribed and answered.
    heard_question = first(events, "conversation.item.input_audio_transcription.completed", barge)
    assert heard_question >= 0, timeline
    question = events[heard_question]["transcript"]
    # (tiny.en hears this synthetic voice as "… capital of France" or "… capital and friends")
    assert word_overlap(question, QUESTION) >= 0.6, question
    answer = first(events, "response.done", done + 1)
    assert events[answer]["response"]["status"] == "completed", events[answer]
    assert first(events, "output_audio_buffer.started", done + 1,
                 response_id=events[answer]["response"]["id"]) >= 0, timeline
    users = page.locator(".msg.user[data-final] .text").all_inner_texts()
    assert len(users) == 2 and users[1] == question.strip(), users
    answer_entry = page.locator(".msg.assistant").last
    assert answer_entry.get_attribute("data-item-id") != story_item
    assert len(answer_entry.locator(".text").inner_text().strip()) > 2

    # The page stopped the reply too (response.cancel, output_audio_buffer.clear: whichever comes
    # first, the page's or the server's own VAD, cancels it); the microphone went on the track and
    # the server truncated: the page sent no audio and no truncate.
    after = [x["e"]["type"] for x in log if x["dir"] == "out" and x["t"] >= at[barge]]
    assert "output_audio_buffer.clear" in after and ("response.cancel" in after) == generating, after
    assert sent(page, "input_audio_buffer.append") == 0 and sent(page, "conversation.item.truncate") == 0
    print(f"barge-in: {(at[barge] - at[playing]) / 1000:.1f} s into the story; player cleared "
          f"{at[cleared] - at[barge]:.0f} ms after speech_started; truncated at {end_ms} ms; "
          f"story response {story_done['status']} "
          f"({(story_done.get('status_details') or {}).get('reason', 'generated before the barge-in')}); heard {len(heard.split())} of {len(full_text.split())} words")
    assert not errors, errors
    page.get_by_role("button", name="Stop").click()
    context.close()
