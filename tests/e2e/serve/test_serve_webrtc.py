"""WebRTC (``POST /v1/realtime/calls``) from Python: aiortc as the caller, the official ``openai``
SDK posting the offer, a spoken question on the microphone track; the server transcribes it,
answers on the ``oai-events`` channel with the WebSocket's events, and the reply plays on the
remote track, which the project's STT hears as the reply's transcript."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import EXAMPLES, SPEECH_DIR
from tests.e2e.serve.rt_client import load_wav_24k
from tests.helpers import word_overlap

pytest.importorskip("aiortc")

from tests.e2e.serve.webrtc_client import TRACK_RATE, ScriptedMic, run_call  # noqa: E402

pytestmark = [pytest.mark.models]


def test_spoken_question_over_webrtc_gets_a_spoken_reply(server, transcribe):
    mic = ScriptedMic()
    mic.say(load_wav_24k(EXAMPLES / "question.wav"), 24_000)
    result = run_call(server, mic, {"type": "realtime", "instructions": "Answer in one short sentence."})
    assert result.status == 201 and result.location.startswith("/v1/realtime/calls/rtc_"), result.location
    types = [e["type"] for e in result.events]
    assert types[0] == "session.created", types[:5]
    assert result.events[0]["session"]["instructions"] == "Answer in one short sentence."
    user = result.of("conversation.item.input_audio_transcription.completed")
    assert user, types
    heard_question = user[0]["transcript"].lower()
    assert "capital" in heard_question and "france" in heard_question, heard_question
    done = result.of("response.done")
    assert done and done[0]["response"]["status"] == "completed", done
    assert "response.output_audio.delta" not in types  # the audio went over the track
    transcript = result.of("response.output_audio_transcript.done")[0]["transcript"]
    assert transcript.strip()
    assert types.index("output_audio_buffer.started") < types.index("output_audio_buffer.stopped")
    wait_s = result.at("output_audio_buffer.started") - result.at("input_audio_buffer.speech_stopped")
    print(f"WebRTC: end of speech detected → reply playing on the track: {wait_s * 1000:.0f} ms")
    reply = result.reply_audio
    assert len(reply) / TRACK_RATE > 0.5, len(reply)
    heard = transcribe(reply, TRACK_RATE)
    assert word_overlap(heard, transcript) > 0.6, (heard, transcript)


def test_speech_over_the_reply_stops_it_and_truncates_to_what_was_played(server):
    """Barge-in: a second of the reply plays, then the caller speaks; the server's player stops,
    and the assistant item keeps only what was played."""
    mic = ScriptedMic()
    mic.say(load_wav_24k(EXAMPLES / "question.wav"), 24_000)
    interruption = load_wav_24k(SPEECH_DIR / "en_goforward.wav")

    def on_event(event: dict) -> None:
        if event["type"] == "output_audio_buffer.started":
            asyncio.get_running_loop().call_later(1.0, mic.say, interruption, 24_000)

    session = {"type": "realtime", "instructions": "Answer in three long sentences about the city."}
    result = run_call(server, mic, session, until="conversation.item.truncated", on_event=on_event)
    types = [e["type"] for e in result.events]
    assert "conversation.item.truncated" in types, types
    assert types.index("output_audio_buffer.started") < types.index("output_audio_buffer.cleared")
    truncated = result.of("conversation.item.truncated")[0]
    assert 500 < truncated["audio_end_ms"] < 10_000, truncated
    assert types.count("input_audio_buffer.speech_started") >= 2


def test_bad_offers_get_one_clear_error(server):
    url = f"{server.base_url}/realtime/calls"
    sdp = {"Content-Type": "application/sdp"}
    r = httpx.post(url, content=b"v=0\r\n", headers=sdp)
    assert r.status_code == 401  # the API key, as on the WebSocket
    r = httpx.post(url, content=b"hello", headers={**server.headers(), **sdp})
    assert r.status_code == 400 and "SDP offer" in r.json()["error"]["message"]
    r = httpx.post(url, content=b"v=0\r\nnonsense\r\n", headers={**server.headers(), **sdp})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_offer", r.text
    r = httpx.post(url, content=b"v=0\r\n" + b"a" * 70_000, headers={**server.headers(), **sdp})
    assert r.status_code == 413, r.text
    r = httpx.post(url, json={"sdp": "v=0"}, headers=server.headers())
    assert r.status_code == 415 and "application/sdp" in r.json()["error"]["message"]
