"""The remote STT/TTS clients' own logic: reading OpenAI bodies, turning every failure of the
remote tier into one RemoteEngineError line, and bounding what they accept. The HTTP server is
httpx's MockTransport (the surroundings); the e2e tests run them against a real voicecli serve."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest

from voicecli.audio.format import float_to_pcm16
from voicecli.config import explain, resolve
from voicecli.errors import RemoteEngineError
from voicecli.remote_http import RemoteEndpoint, error_detail
from voicecli.stt.remote import RemoteTranscriber, parse_transcription, wav_bytes
from voicecli.stt.types import TranscribeOptions
from voicecli.tts.remote import WIRE_RATE_HZ, RemoteSpeaker

URL = "http://engine.test:9000/v1"


def mocked(endpoint: RemoteEndpoint, handler) -> None:
    endpoint._client = httpx.Client(base_url=endpoint.base_url, transport=httpx.MockTransport(handler))


def test_verbose_json_gives_language_segments_and_text():
    body = json.dumps({"task": "transcribe", "language": "german", "duration": 2.5, "text": " Wie spät ist es?",
                       "segments": [{"id": 0, "start": 0.0, "end": 2.4, "text": " Wie spät ist es?",
                                     "avg_logprob": -0.2, "no_speech_prob": 0.01}]}).encode()
    t = parse_transcription(body, 2.6, None)
    assert (t.text, t.language, t.duration_s) == ("Wie spät ist es?", "de", 2.5)
    assert len(t.segments) == 1 and t.segments[0].end == 2.4


def test_plain_json_gives_the_text_and_the_asked_language():
    t = parse_transcription(b'{"text": "hello there"}', 1.5, "en")
    assert (t.text, t.language, t.duration_s) == ("hello there", "en", 1.5)
    assert t.segments[0].text.strip() == "hello there"


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"txt": 1}', b"[1, 2]", b'{"text": "a", "segments": [{}]}'])
def test_a_body_that_is_not_a_transcription_is_one_clear_error(body):
    with pytest.raises(RemoteEngineError) as err:
        parse_transcription(body, 1.0, None, URL)
    assert "not an OpenAI transcription" in err.value.message and "\n" not in err.value.one_line()


@pytest.mark.parametrize(("body", "says"), [
    (b'{"error": {"message": "model not loaded", "type": "server_error"}}', "model not loaded"),
    (b'{"detail": "Not Found"}', "Not Found"),
    (b"upstream\n  exploded", "upstream exploded"),
])
def test_error_detail_reads_openai_fastapi_and_text_bodies(body, says):
    assert error_detail(body) == says


def test_transcriber_sends_a_wav_and_the_openai_form_fields():
    seen: dict[str, object] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["path"] = request.url.path
        seen["body"] = request.read()
        return httpx.Response(200, json={"text": "ok", "language": "spanish"})

    stt = RemoteTranscriber(URL, "whisper-1")
    mocked(stt.endpoint, handler)
    audio = np.zeros(16000, np.float32)
    t = stt.transcribe(audio, TranscribeOptions(language="es", initial_prompt="hola"))
    assert seen["path"] == "/v1/audio/transcriptions" and t.language == "es"
    body = seen["body"]
    assert isinstance(body, bytes)
    for field in (b'name="model"', b"whisper-1", b'name="response_format"', b"verbose_json", b'name="language"',
                  b'name="prompt"', b"hola", b"RIFF"):
        assert field in body, field
    assert wav_bytes(audio)[:4] == b"RIFF" and stt.name == "whisper-1@engine.test:9000"


def test_http_errors_name_the_server_the_status_and_the_flag():
    stt = RemoteTranscriber(URL, "whisper-1")
    mocked(stt.endpoint, lambda r: httpx.Response(500, json={"error": {"message": "engine exploded"}}))
    with pytest.raises(RemoteEngineError) as err:
        stt.transcribe(np.zeros(1600, np.float32), TranscribeOptions())
    assert err.value.one_line() == (f"the STT server at {URL} answered HTTP 500: engine exploded "
                                    "(check --stt-url and the server's log)")


def test_refused_and_timed_out_are_one_line_each():
    tts = RemoteSpeaker(URL, "alloy", timeout_s=0.2)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    mocked(tts.endpoint, refuse)
    with pytest.raises(RemoteEngineError, match=r"the TTS server at .* cannot be reached \(\[Errno 111\]"):
        list(tts.synthesize("hello"))

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    mocked(tts.endpoint, slow)
    with pytest.raises(RemoteEngineError) as err:
        list(tts.synthesize("hello"))
    assert "did not answer within 0.2 s" in err.value.message and "tts.url_timeout_s" in (err.value.hint or "")


def test_a_body_that_trickles_past_the_deadline_is_cut_off():
    class Trickle(httpx.SyncByteStream):
        def __iter__(self):
            for _ in range(100):
                time.sleep(0.05)
                yield b"\0\0"

    tts = RemoteSpeaker(URL, "alloy", timeout_s=0.3)
    mocked(tts.endpoint, lambda r: httpx.Response(200, stream=Trickle(), headers={"content-type": "audio/pcm"}))
    t0 = time.monotonic()
    with pytest.raises(RemoteEngineError, match="did not answer within 0.3 s"):
        list(tts.synthesize("hello"))
    assert time.monotonic() - t0 < 1.5


def test_an_oversized_body_is_refused_before_it_is_all_read():
    endpoint = RemoteEndpoint(URL, "the STT server", "--stt-url")
    mocked(endpoint, lambda r: httpx.Response(200, content=b"x" * 3_000_000))
    with pytest.raises(RemoteEngineError, match="sent more than 2 MB"):
        endpoint.post("/audio/transcriptions", max_bytes=2_000_000)


def test_speech_pcm_and_wav_answers_are_24khz_samples_and_other_bodies_are_errors():
    tone = (0.3 * np.sin(np.arange(WIRE_RATE_HZ // 2) / 10)).astype(np.float32)
    tts = RemoteSpeaker(URL, "alloy")
    mocked(tts.endpoint, lambda r: httpx.Response(200, content=float_to_pcm16(tone),
                                                   headers={"content-type": "audio/pcm"}))
    (chunk,) = list(tts.synthesize("hello"))
    assert chunk.sample_rate_hz == WIRE_RATE_HZ and len(chunk.samples) == len(tone)
    wav_16k = wav_bytes(tone[:8000], 16000)  # 0.5 s at 16 kHz
    mocked(tts.endpoint, lambda r: httpx.Response(200, content=wav_16k, headers={"content-type": "audio/wav"}))
    (chunk,) = list(tts.synthesize("hello"))
    assert chunk.sample_rate_hz == WIRE_RATE_HZ and abs(len(chunk.samples) - WIRE_RATE_HZ // 2) < 200
    mocked(tts.endpoint, lambda r: httpx.Response(200, text="<html>gateway</html>",
                                                   headers={"content-type": "text/html"}))
    with pytest.raises(RemoteEngineError, match="not 16-bit PCM audio"):
        list(tts.synthesize("hello"))
    assert list(tts.synthesize("   ")) == []  # nothing to say: no request


def test_remote_settings_come_from_env_and_keys_are_masked():
    resolved = resolve({}, env={"VOICECLI_STT_URL": URL, "VOICECLI_TTS_API_KEY": "sekrit",
                                "VOICECLI_STT_URL_TIMEOUT_S": "5"}, file=None)
    assert resolved.settings.stt.url == URL and resolved.settings.stt.url_timeout_s == 5
    rows = {row.key: row.value for row in explain(resolved)}
    assert rows["tts.api_key"] == "***" and rows["tts.url"] is None and rows["tts.model"] == "tts-1"


def test_audio_too_long_for_one_upload_is_refused_before_sending():
    from voicecli.errors import AudioInputError

    stt = RemoteTranscriber(URL, "whisper-1")
    mocked(stt.endpoint, lambda r: pytest.fail("nothing should be sent"))
    with pytest.raises(AudioInputError, match="more than an OpenAI-compatible server accepts"):
        stt.transcribe(np.zeros(16000 * 60 * 14, np.float32), TranscribeOptions())
