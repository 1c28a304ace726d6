"""Realtime voice sessions through the official SDK's ``client.realtime.connect`` (GA events), the
beta dialect over a raw WebSocket, manual turns, text items, cancellation, barge-in, truncation."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from websockets.sync.client import connect as ws_connect

from tests.conftest import EXAMPLES, SPEECH_DIR
from tests.e2e.serve.rt_client import (
    RATE,
    Turn,
    collect,
    load_wav_24k,
    pcm16_b64,
    run_voice_session,
)
from tests.helpers import word_overlap

pytestmark = [pytest.mark.models]


@pytest.fixture(scope="module")
def question():
    return load_wav_24k(EXAMPLES / "question.wav")


@pytest.fixture(scope="module")
def question2():
    return load_wav_24k(EXAMPLES / "question2.wav")


@pytest.fixture(scope="module")
def interruption():
    """Speech to barge in with: a real recording tiny.en hears the same on every install.
    (examples/question.wav, a synthetic voice, is heard as "the capital and France" or "… and
    friends" on the short encoder window depending on the preroll and package versions.)"""
    return load_wav_24k(SPEECH_DIR / "en_goforward.wav")


def events_until(conn, stop_type: str, timeout_s: float = 120) -> list:
    out = []
    deadline = time.monotonic() + timeout_s
    for ev in conn:
        out.append(ev)
        if ev.type == stop_type or time.monotonic() > deadline:
            break
    return out


def test_spoken_question_gets_a_spoken_answer_that_says_its_transcript(server, question, transcribe):
    turns = run_voice_session(server.client(), [question])
    t = turns[0]
    assert t.user_transcript and "capital" in t.user_transcript.lower() and "france" in t.user_transcript.lower()
    assert t.status == "completed" and t.transcript.strip()
    audio = t.samples
    assert len(audio) / RATE > 0.5
    heard = transcribe(audio, RATE)
    assert word_overlap(heard, t.transcript) > 0.6, (heard, t.transcript)


def test_event_sequence_of_a_vad_turn_follows_the_ga_protocol(server, question):
    with server.client().realtime.connect(model="voicecli") as conn:
        first = conn.recv()
        assert first.type == "session.created" and first.session.id
        conn.session.update(session={"type": "realtime", "instructions": "Answer in one short sentence.",
                                     "audio": {"input": {"turn_detection": {"type": "server_vad",
                                                                            "silence_duration_ms": 400}}}})
        audio = np.concatenate([question, np.zeros(RATE, np.float32)])
        for i in range(0, len(audio), 4800):
            conn.input_audio_buffer.append(audio=pcm16_b64(audio[i:i + 4800]))
        evs = events_until(conn, "response.done")
    types = [e.type for e in evs if e.type not in ("response.output_audio.delta",
                                                     "response.output_audio_transcript.delta")]
    assert types[0] == "session.updated"
    assert evs[0].session.audio.input.turn_detection.silence_duration_ms == 400
    expected = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done",
                "conversation.item.input_audio_transcription.completed", "response.created",
                "response.output_item.added", "conversation.item.added", "response.content_part.added",
                "response.output_audio.done", "response.output_audio_transcript.done", "response.content_part.done",
                "response.output_item.done", "conversation.item.done", "response.done"]
    it = iter(types)
    assert all(any(t == want for t in it) for want in expected), types  # in this order
    started = next(e for e in evs if e.type == "input_audio_buffer.speech_started")
    stopped = next(e for e in evs if e.type == "input_audio_buffer.speech_stopped")
    committed = next(e for e in evs if e.type == "input_audio_buffer.committed")
    assert started.item_id == stopped.item_id == committed.item_id
    assert 0 <= started.audio_start_ms < stopped.audio_end_ms <= len(audio) * 1000 / RATE
    done = evs[-1].response
    assert done.status == "completed" and done.output[0].content[0].transcript
    deltas = [e for e in evs if e.type == "response.output_audio.delta"]
    assert deltas and all(e.response_id == done.id for e in deltas)


def test_barge_in_cancels_the_reply_and_truncate_trims_it(server, interruption, question2):
    with server.client().realtime.connect(model="voicecli") as conn:
        conn.session.update(session={
            "type": "realtime", "max_output_tokens": 300,
            "instructions": "You are a storyteller. Reply to every message with a long story, in many sentences.",
            "audio": {"input": {"turn_detection": {"type": "server_vad"}}}})
        # Ask for a story (a long reply), then ask another question while it is being spoken.
        audio = np.concatenate([question2, np.zeros(RATE, np.float32)])
        conn.input_audio_buffer.append(audio=pcm16_b64(audio))
        first, second = Turn(), Turn()
        barged = False
        deadline = time.monotonic() + 150
        turn = first
        for ev in conn:
            assert time.monotonic() < deadline, "timed out"
            assert ev.type != "error", ev
            collect(ev, turn)
            if ev.type == "response.output_audio.delta" and turn is first and not barged:
                barged = True  # the user starts talking over the reply
                conn.input_audio_buffer.append(audio=pcm16_b64(
                    np.concatenate([interruption, np.zeros(int(1.5 * RATE), np.float32)])))
            if ev.type == "response.done":
                if turn is first:
                    turn = second
                else:
                    break
            if turn is second and ev.type == "conversation.item.input_audio_transcription.completed":
                second.user_transcript = ev.transcript
        assert first.status == "cancelled" and first.reason == "turn_detected", first
        assert second.status == "completed" and second.transcript
        assert second.user_transcript and "forward" in second.user_transcript.lower()  # "go forward ten meters"
        # The client played only part of the cancelled reply: trim it to that.
        played_ms = min(400, int(len(first.samples) * 1000 / RATE))
        conn.conversation.item.truncate(item_id=first.item_id, content_index=0, audio_end_ms=played_ms)
        evs = events_until(conn, "conversation.item.truncated", 20)
        assert evs[-1].type == "conversation.item.truncated" and evs[-1].audio_end_ms == played_ms
        conn.send({"type": "conversation.item.retrieve", "item_id": first.item_id})
        item = events_until(conn, "conversation.item.retrieved", 20)[-1].item
        kept = item.content[0].transcript
        assert len(kept) < len(first.transcript), (kept, first.transcript)
        # Truncating past the end of the audio is an error; the session goes on.
        conn.conversation.item.truncate(item_id=first.item_id, content_index=0, audio_end_ms=10**7)
        assert events_until(conn, "error", 20)[-1].error.param == "audio_end_ms"


def test_manual_turns_commit_then_response_create(server, question):
    with server.client().realtime.connect(model="voicecli") as conn:
        conn.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
        assert events_until(conn, "session.updated")[-1].session.audio.input.turn_detection is None
        conn.input_audio_buffer.append(audio=pcm16_b64(question))
        conn.input_audio_buffer.commit()
        conn.response.create()
        evs = events_until(conn, "response.done")
        types = [e.type for e in evs]
        assert "input_audio_buffer.speech_started" not in types  # VAD is off
        assert types.index("input_audio_buffer.committed") < types.index("response.created")
        transcript = next(e for e in evs if e.type == "conversation.item.input_audio_transcription.completed")
        assert "france" in transcript.transcript.lower()
        assert evs[-1].response.status == "completed"
        assert any(e.type == "response.output_audio.delta" for e in evs)
        # An empty commit is an error, and the session keeps working.
        conn.input_audio_buffer.commit()
        assert events_until(conn, "error", 20)[-1].error.code == "input_audio_buffer_commit_empty"
        conn.input_audio_buffer.clear()
        assert events_until(conn, "input_audio_buffer.cleared", 20)[-1].type == "input_audio_buffer.cleared"


def test_text_item_and_text_only_response_and_cancel(server):
    with server.client().realtime.connect(model="voicecli") as conn:
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        events_until(conn, "session.updated")
        conn.response.cancel()  # nothing to cancel: an error, not a crash
        assert events_until(conn, "error", 20)[-1].error.code == "response_cancel_not_active"
        conn.conversation.item.create(item={"type": "message", "role": "user",
                                            "content": [{"type": "input_text", "text": "What is two plus two?"}]})
        added = events_until(conn, "conversation.item.done", 20)
        assert added[-1].item.content[0].text == "What is two plus two?"
        conn.response.create()
        evs = events_until(conn, "response.done")
        assert not any("audio" in e.type for e in evs)
        text = "".join(e.delta for e in evs if e.type == "response.output_text.delta")
        assert text and evs[-1].response.status == "completed"
        assert evs[-1].response.output[0].content[0].text == text
        # Cancel a response in flight.
        conn.conversation.item.create(item={"type": "message", "role": "user",
                                            "content": [{"type": "input_text", "text": "Tell me a long story."}]})
        conn.response.create(response={"output_modalities": ["audio"]})
        created = events_until(conn, "response.created", 30)[-1]
        conn.response.cancel()
        done = events_until(conn, "response.done", 60)[-1]
        assert done.response.id == created.response.id
        assert done.response.status == "cancelled" and done.response.status_details.reason == "client_cancelled"


def _raw_events(ws, stop_type: str, timeout_s: float = 60) -> list[dict]:
    out = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ev = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        out.append(ev)
        if ev["type"] == stop_type:
            return out
    raise TimeoutError(stop_type)


def test_beta_dialect_with_openai_beta_header(server, question):
    headers = {**server.headers(), "OpenAI-Beta": "realtime=v1"}
    with ws_connect(f"{server.ws_url}/realtime?model=gpt-4o-realtime-preview", additional_headers=headers,
                    max_size=None) as ws:
        created = json.loads(ws.recv(timeout=10))
        assert created["type"] == "session.created" and created["session"]["input_audio_format"] == "pcm16"
        ws.send(json.dumps({"type": "session.update", "session": {"modalities": ["text", "audio"], "voice": "alloy",
                                                                  "turn_detection": {"type": "server_vad"}}}))
        assert _raw_events(ws, "session.updated")[-1]["session"]["turn_detection"]["type"] == "server_vad"
        ws.send(json.dumps({"type": "input_audio_buffer.append",
                            "audio": pcm16_b64(np.concatenate([question, np.zeros(RATE, np.float32)]))}))
        evs = _raw_events(ws, "response.done", 120)
    types = {e["type"] for e in evs}
    assert {"conversation.item.created", "response.audio.delta", "response.audio_transcript.delta",
            "response.audio.done", "response.audio_transcript.done"} <= types
    assert not {"conversation.item.added", "response.output_audio.delta"} & types
    item = evs[-1]["response"]["output"][0]
    assert item["content"][0]["type"] == "audio" and item["content"][0]["transcript"]


def test_client_vanishing_mid_response_leaves_the_server_healthy(server, question):
    import httpx

    ws = ws_connect(f"{server.ws_url}/realtime", additional_headers=server.headers(), max_size=None)
    json.loads(ws.recv(timeout=10))
    ws.send(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Tell me a long story."}]}}))
    ws.send(json.dumps({"type": "response.create"}))
    _raw_events(ws, "response.created")
    ws.close()  # gone mid-response
    # Another session works normally right after.
    turns = run_voice_session(server.client(), [question])
    assert turns[0].status == "completed"
    deadline = time.monotonic() + 10
    while httpx.get(f"{server.http}/health", headers=server.headers()).json()["active_sessions"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert httpx.get(f"{server.http}/health", headers=server.headers()).json()["active_sessions"] == 0


def test_a_client_that_stops_reading_does_not_stall_others(server, question):
    # One client asks for a long spoken reply and never reads; another converses meanwhile.
    stalled = ws_connect(f"{server.ws_url}/realtime", additional_headers=server.headers(), max_size=None)
    stalled.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "max_output_tokens": 300}}))
    stalled.send(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Tell me a long story."}]}}))
    stalled.send(json.dumps({"type": "response.create"}))
    try:
        t0 = time.monotonic()
        turns = run_voice_session(server.client(), [question])
        assert turns[0].status == "completed"
        assert time.monotonic() - t0 < 90
    finally:
        stalled.close()


def test_sessions_beyond_the_limit_get_a_clear_503(server):
    import httpx
    from websockets.exceptions import InvalidStatus

    deadline = time.monotonic() + 20
    while httpx.get(f"{server.http}/health", headers=server.headers()).json()["active_sessions"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    limit = httpx.get(f"{server.http}/health", headers=server.headers()).json()["max_sessions"]
    open_ = []
    try:
        for _ in range(limit):
            ws = ws_connect(f"{server.ws_url}/realtime", additional_headers=server.headers())
            assert json.loads(ws.recv(timeout=20))["type"] == "session.created"
            open_.append(ws)
        with pytest.raises(InvalidStatus) as exc:
            ws_connect(f"{server.ws_url}/realtime", additional_headers=server.headers())
        assert exc.value.response.status_code == 503
        assert json.loads(exc.value.response.body)["error"]["code"] == "session_limit_reached"
    finally:
        for ws in open_:
            ws.close()
    # A slot frees as soon as a session ends.
    time.sleep(0.5)
    with ws_connect(f"{server.ws_url}/realtime", additional_headers=server.headers()) as ws:
        assert json.loads(ws.recv(timeout=20))["type"] == "session.created"
