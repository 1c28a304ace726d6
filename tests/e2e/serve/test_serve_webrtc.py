"""WebRTC (``POST /v1/realtime/calls``) from Python: aiortc as the caller, the official ``openai``
SDK posting the offer, a spoken question on the microphone track; the server transcribes it,
answers on the ``oai-events`` channel with the WebSocket's events, and the reply plays on the
remote track, which the project's STT hears as the reply's transcript."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import EXAMPLES
from tests.e2e.serve.rt_client import load_wav_24k
from tests.e2e.serve.webrtc_client import TRACK_RATE, run_call, write_mic_wav
from tests.helpers import word_overlap

pytestmark = [pytest.mark.models]

pytest.importorskip("aiortc")


def test_spoken_question_over_webrtc_gets_a_spoken_reply(server, transcribe, tmp_path):
    mic = write_mic_wav(tmp_path / "mic.wav", load_wav_24k(EXAMPLES / "question.wav"), 24_000, silence_s=40)
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
    reply = result.reply_audio
    assert len(reply) / TRACK_RATE > 0.5, len(reply)
    heard = transcribe(reply, TRACK_RATE)
    assert word_overlap(heard, transcript) > 0.6, (heard, transcript)


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
