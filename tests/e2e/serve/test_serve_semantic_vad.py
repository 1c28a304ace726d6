"""``semantic_vad`` through the official ``openai`` SDK: one real recording, cut at a word boundary
with a pause in the middle of the sentence, streamed in real time. The semantic turn detector
waits out the pause (one user item holding both halves) where ``server_vad`` (silence alone)
cuts the sentence in two; the recording ends trailing off (a comma: the reader goes on), and
``eagerness: "high"`` answers after its 2 s wait, ``"low"`` after 8 s; ``session.update``
switches between the detectors in the middle of a session."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from tests.conftest import SPEECH_DIR
from tests.e2e.serve.rt_client import RATE, Microphone, load_wav_24k
from tests.helpers import words

pytestmark = [pytest.mark.models]

CLIP = "en_ljspeech_LJ001-0006.wav"
""""And it is worth mention in passing that, as an example of fine typography," (a human
reader, and the sentence trails off: the book goes on)."""
SPLIT_S = 4.28
"""Between "as an example of" and "fine typography" (a gap in the recording: nothing voiced is
cut). Smart Turn gives the first half p(complete) 0.01, 0.01, 0.02 after 160, 300 and 500 ms of
silence; the whole recording 0.02, 0.16, 0.67 after 160, 300 and 1000 ms."""
PAUSE_S = 0.8
"""Longer than server_vad's 500 ms of silence, shorter than high eagerness's 2 s fallback."""
FIRST_HALF = {"worth", "mention", "mentioning", "passing", "example"}
SECOND_HALF = {"fine", "typography"}


@pytest.fixture(scope="module")
def paused_sentence() -> np.ndarray:
    x = load_wav_24k(SPEECH_DIR / CLIP)
    cut = int(SPLIT_S * RATE)
    return np.concatenate([x[:cut], np.zeros(int(PAUSE_S * RATE), np.float32), x[cut:]])


@dataclass
class Heard:
    items: list[str] = field(default_factory=list)
    transcripts: list[str] = field(default_factory=list)
    speech_end_at: float | None = None
    """When the client sent the last voiced sample (by speech_stopped's audio_end_ms)."""
    stopped_at: float | None = None
    response_at: float | None = None
    session: dict[str, Any] = field(default_factory=dict)

    @property
    def stopped_after_s(self) -> float:
        """End of speech → the turn ended (speech_stopped)."""
        assert self.stopped_at is not None and self.speech_end_at is not None
        return self.stopped_at - self.speech_end_at

    @property
    def response_after_s(self) -> float:
        """End of speech → response.created."""
        assert self.response_at is not None and self.speech_end_at is not None
        return self.response_at - self.speech_end_at


def speak(conn: Any, mic: Microphone, clip: np.ndarray, turn_detection: dict[str, Any],
          until: str, count: int, timeout_s: float = 90) -> Heard:
    """Configure the turn detection, speak ``clip`` (then silence), and collect events until
    ``count`` events of type ``until``."""
    heard = Heard()
    conn.session.update(session={"type": "realtime", "output_modalities": ["text"], "audio": {"input": {
        "turn_detection": turn_detection, "transcription": {"model": "whisper-1"}}}})
    deadline = time.monotonic() + timeout_s
    for event in conn:
        if event.type == "session.updated":
            heard.session = turn_detection_of(event)
            break
    mic.play(np.concatenate([clip, np.zeros(int(2.5 * RATE), np.float32)]))
    seen = 0
    for event in conn:
        assert time.monotonic() < deadline, "semantic_vad session timed out"
        assert event.type != "error", event.error
        if event.type == "input_audio_buffer.speech_stopped":
            heard.stopped_at = time.monotonic()
            heard.speech_end_at = mic.time_of_sample(int(event.audio_end_ms * RATE / 1000))
        elif event.type == "input_audio_buffer.committed":
            heard.items.append(event.item_id)
        elif event.type == "conversation.item.input_audio_transcription.completed":
            heard.transcripts.append(event.transcript)
        elif event.type == "response.created" and heard.response_at is None:
            heard.response_at = time.monotonic()
        seen += event.type == until
        if seen == count:
            return heard
    raise AssertionError("the connection closed")


def turn_detection_of(event: Any) -> dict[str, Any]:
    """The turn detection a ``session.updated`` echoes."""
    return event.session.audio.input.turn_detection.model_dump(exclude_none=True)


def one_turn(server, clip: np.ndarray, eagerness: str) -> Heard:
    with server.client().realtime.connect(model="voicecli") as conn:
        mic = Microphone(conn, realtime=True)
        mic.start()
        try:
            return speak(conn, mic, clip, {"type": "semantic_vad", "eagerness": eagerness}, "response.done", 1)
        finally:
            mic.stop()


def halves_heard(text: str) -> tuple[bool, bool]:
    """Does ``text`` hold (most of) the first half, the second half?"""
    said = set(words(text))
    return len(said & FIRST_HALF) >= 2, len(said & SECOND_HALF) >= 1


def assert_whole_sentence(heard: Heard) -> None:
    assert len(heard.items) == 1, f"the pause cut the sentence: {heard.transcripts}"
    assert halves_heard(heard.transcripts[0]) == (True, True), heard.transcripts


def test_eagerness_high_answers_sooner_than_low_and_neither_cuts_at_the_pause(server, paused_sentence):
    high = one_turn(server, paused_sentence, "high")
    low = one_turn(server, paused_sentence, "low")
    assert high.session["eagerness"] == "high" and low.session["eagerness"] == "low"
    assert_whole_sentence(high)
    assert_whole_sentence(low)
    print(f"\nafter the end of speech, high / low: turn ended (speech_stopped) {high.stopped_after_s * 1000:.0f}"
          f" / {low.stopped_after_s * 1000:.0f} ms, response.created {high.response_after_s * 1000:.0f}"
          f" / {low.response_after_s * 1000:.0f} ms")
    assert 0 < high.stopped_after_s < low.stopped_after_s
    assert high.response_after_s < low.response_after_s
    assert 1.9 < high.stopped_after_s < 4 and 7.9 < low.stopped_after_s < 10  # OpenAI's longest waits


def test_session_update_switches_between_silence_and_the_turn_detector(server, paused_sentence):
    """server_vad (silence alone) cuts at the pause: two items; semantic_vad in the same session
    keeps the sentence whole; and back. No responses (create_response: false): turns only."""
    silence = {"type": "server_vad", "silence_duration_ms": 500, "create_response": False}
    semantic = {"type": "semantic_vad", "eagerness": "medium", "create_response": False}
    with server.client().realtime.connect(model="voicecli") as conn:
        mic = Microphone(conn, realtime=True)
        mic.start()
        try:
            cut = speak(conn, mic, paused_sentence, silence, "conversation.item.input_audio_transcription.completed", 2)
            whole = speak(conn, mic, paused_sentence, semantic,
                          "conversation.item.input_audio_transcription.completed", 1)
            again = speak(conn, mic, paused_sentence, silence, "conversation.item.input_audio_transcription.completed", 2)
        finally:
            mic.stop()
    assert "eagerness" not in cut.session and cut.session["type"] == "server_vad"
    assert whole.session == {**semantic, "interrupt_response": True}
    assert len(cut.items) == 2 and len(again.items) == 2, (cut.transcripts, again.transcripts)
    assert halves_heard(cut.transcripts[1]) == halves_heard(again.transcripts[1]) == (False, True)
    assert_whole_sentence(whole)
