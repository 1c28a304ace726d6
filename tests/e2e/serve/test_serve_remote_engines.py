"""``voicecli serve --stt-url --tts-url``: a front end whose speech tiers are another real
``voicecli serve`` (the session's ``server``, behind a :class:`FaultProxy`), driven with the
official ``openai`` SDK over REST and realtime. Failures of the remote tier are a 502 with one
clear message (REST) or an ``error`` event (realtime), and the next request or turn works."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import openai
import pytest

from tests.conftest import EXAMPLES
from tests.e2e.serve.conftest import API_KEY, free_port, server_env, start_server, stop_server
from tests.e2e.serve.fault_proxy import STT, TTS, FaultProxy
from tests.e2e.serve.rt_client import Microphone, Turn, collect, load_wav_24k, run_voice_session
from tests.helpers import word_overlap

pytestmark = [pytest.mark.models, pytest.mark.slow]


@pytest.fixture(scope="module")
def proxy(server):
    p = FaultProxy(server.http, slow_s=60.0).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def front(proxy, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("front")
    env = server_env(tmp, VOICECLI_STT_API_KEY=API_KEY, VOICECLI_TTS_API_KEY=API_KEY,
                     VOICECLI_STT_URL_TIMEOUT_S="8", VOICECLI_TTS_URL_TIMEOUT_S="8")
    wyoming_port = free_port()
    s = start_server(tmp, "--stt-url", proxy.base_url, "--tts-url", proxy.base_url,
                     "--wyoming", f"tcp://127.0.0.1:{wyoming_port}", env=env)
    s.wyoming_port = wyoming_port  # type: ignore[attr-defined]
    yield s
    stop_server(s)
    assert "Traceback" not in s.log_text(), s.log_text()[-4000:]


def transcribe_question(client) -> str:
    with (EXAMPLES / "question.wav").open("rb") as f:
        return client.audio.transcriptions.create(model="whisper-1", file=f).text


def test_front_end_serves_rest_and_realtime_through_the_remote_tier(front, proxy, transcribe):
    client = front.client()
    models = httpx.get(f"{front.http}/health").json()["models"]
    assert models["stt"] == f"tiny.en@127.0.0.1:{proxy.port}" and models["tts"].endswith(f"@127.0.0.1:{proxy.port}")
    with (EXAMPLES / "question.wav").open("rb") as f:
        verbose = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="verbose_json")
    assert "capital" in verbose.text.lower() and verbose.language == "english" and verbose.segments
    pcm = client.audio.speech.create(model="tts-1", voice="alloy", input="The capital of France is Paris.",
                                     response_format="pcm").content
    samples = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    assert word_overlap(transcribe(samples, 24_000), "The capital of France is Paris.") > 0.6
    turns = run_voice_session(client, [load_wav_24k(EXAMPLES / "question.wav")])
    assert "france" in (turns[0].user_transcript or "").lower(), turns[0]
    assert turns[0].status == "completed" and turns[0].transcript and len(turns[0].samples) > 0
    assert word_overlap(transcribe(turns[0].samples, 24_000), turns[0].transcript) > 0.5


@pytest.mark.parametrize(("path", "mode", "says"), [
    (STT, "500", "answered HTTP 500: engine exploded"),
    (STT, "slow", "did not answer within 8 s"),
    (STT, "garbage", "sent something that is not an OpenAI transcription"),
    (TTS, "500", "answered HTTP 500: engine exploded"),
    (TTS, "slow", "did not answer within 8 s"),
    (TTS, "garbage", "not 16-bit PCM audio"),
])
def test_rest_reports_a_failing_remote_tier_and_the_next_request_works(front, proxy, path, mode, says):
    client = front.client()
    proxy.fail_next(path, mode)

    def call() -> object:
        if path == STT:
            return transcribe_question(client)
        return client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there.",
                                          response_format="pcm").content

    with pytest.raises(openai.APIStatusError) as err:
        call()
    assert err.value.status_code == 502
    message = err.value.body["message"] if isinstance(err.value.body, dict) else str(err.value.body)
    what = "STT" if path == STT else "TTS"
    assert message.startswith(f"the {what} server at {proxy.base_url} ") and says in message, message
    ok = call()
    assert ("capital" in ok.lower()) if isinstance(ok, str) else len(ok) > 24_000, ok


def test_realtime_turn_with_the_remote_down_is_an_error_event_and_the_next_turn_works(front, proxy):
    client = front.client()
    clip = load_wav_24k(EXAMPLES / "question.wav")
    pause = np.zeros(int(1.2 * 24_000), np.float32)
    with client.realtime.connect(model="voicecli") as conn:
        conn.session.update(session={"type": "realtime", "audio": {"input": {
            "turn_detection": {"type": "server_vad"}, "transcription": {"model": "whisper-1"}}}})
        mic = Microphone(conn, realtime=False)
        mic.start()
        try:
            proxy.stop()  # the remote tier is down for the first turn
            mic.play(np.concatenate([clip, pause]))
            error = None
            deadline = time.monotonic() + 60
            for event in conn:
                assert time.monotonic() < deadline, "no error event"
                if event.type == "error":
                    error = event.error
                    break
            proxy.start()  # back up for the second turn
            assert error is not None and error.code == "pipeline_error", error
            assert error.message.startswith(f"the STT server at {proxy.base_url} cannot be reached"), error
            turn = Turn()
            mic.play(np.concatenate([clip, pause]))
            for event in conn:
                assert time.monotonic() < deadline + 120, "second turn timed out"
                assert event.type != "error", json.dumps(event.to_dict())
                collect(event, turn, mic)
                if event.type == "response.done":
                    break
        finally:
            mic.stop()
    assert "france" in (turn.user_transcript or "").lower(), turn
    assert turn.status == "completed" and turn.transcript and len(turn.samples) > 0


def test_wyoming_transcribes_through_the_remote_tier(front, proxy):
    import asyncio

    from tests.e2e.test_wyoming import transcribe, transcript_of, wav_events

    before = sum(1 for path, _ in proxy.seen if path == STT)
    events = asyncio.run(transcribe(front.wyoming_port, wav_events(EXAMPLES / "question.wav")))
    assert "capital" in transcript_of(events).text.lower()
    assert sum(1 for path, _ in proxy.seen if path == STT) == before + 1  # it went to the engine server
