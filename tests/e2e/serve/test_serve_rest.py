"""The OpenAI-compatible REST API through the official ``openai`` SDK: transcription in every
format, speech in every format (decoded and transcribed back), chat completions, models, and
OpenAI-style errors for bad input."""

from __future__ import annotations

import json

import httpx
import numpy as np
import openai
import pytest

from tests.conftest import EXAMPLES
from tests.helpers import word_overlap

pytestmark = [pytest.mark.models]

QUESTION = EXAMPLES / "question.wav"


@pytest.fixture(scope="module")
def client(server):
    return server.client()


def test_transcription_json_and_text(client):
    r = client.audio.transcriptions.create(model="whisper-1", file=QUESTION.open("rb"))
    assert "capital" in r.text.lower() and "france" in r.text.lower()
    assert r.usage.type == "duration" and r.usage.seconds >= 2
    text = client.audio.transcriptions.create(model="whisper-1", file=QUESTION.open("rb"), response_format="text")
    assert isinstance(text, str) and "france" in text.lower()


def test_transcription_subtitles(client):
    srt = client.audio.transcriptions.create(model="whisper-1", file=QUESTION.open("rb"), response_format="srt")
    lines = srt.strip().splitlines()
    assert lines[0] == "1" and " --> " in lines[1] and "," in lines[1] and "france" in srt.lower()
    vtt = client.audio.transcriptions.create(model="whisper-1", file=QUESTION.open("rb"), response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n") and "00:00:00.000 --> " in vtt and "france" in vtt.lower()


def test_transcription_verbose_json_with_words_and_segments(client, speech_dir, manifest):
    clip = next(m for m in manifest if m["file"] == "en_librispeech_1272-128104-0000.wav")
    r = client.audio.transcriptions.create(model="whisper-1", file=(speech_dir / clip["file"]).open("rb"),
                                           response_format="verbose_json", language="en", temperature=0.0,
                                           timestamp_granularities=["word", "segment"])
    assert r.language == "english" and abs(r.duration - clip["duration_s"]) < 0.2
    assert word_overlap(r.text, clip["text"]) > 0.7
    assert r.segments and r.segments[0].start >= 0 and r.segments[-1].end <= r.duration + 0.5
    assert all(isinstance(t, int) for t in r.segments[0].tokens)
    words = r.words
    assert len(words) >= 10 and all(w.start <= w.end for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    # Word timestamps only: no segments key (as in OpenAI's example).
    only_words = client.audio.transcriptions.create(model="whisper-1", file=QUESTION.open("rb"),
                                                    response_format="verbose_json", timestamp_granularities=["word"])
    assert only_words.words and not getattr(only_words, "segments", None)


def test_transcription_stream_sends_deltas_then_done(client, speech_dir):
    stream = client.audio.transcriptions.create(model="gpt-4o-transcribe", stream=True,
                                                file=(speech_dir / "en_jfk_inaugural.wav").open("rb"))
    events = list(stream)
    deltas = [e for e in events if e.type == "transcript.text.delta"]
    done = events[-1]
    assert deltas and done.type == "transcript.text.done"
    assert "".join(d.delta for d in deltas).strip() == done.text
    assert "country" in done.text.lower()


@pytest.mark.parametrize("fmt", ["wav", "pcm", "mp3", "opus", "aac", "flac"])
def test_speech_in_every_format_says_the_input(client, fmt, transcribe):
    from voicecli.audio.decode import decode_audio

    text = "The quick brown fox jumps over the lazy dog. Then it runs away."
    chunks = []
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=text,
                                                            response_format=fmt) as r:
        assert r.headers["content-type"].startswith("audio/")
        for chunk in r.iter_bytes():
            chunks.append(chunk)
    data = b"".join(chunks)
    if fmt == "pcm":  # raw 24 kHz s16le, no header
        samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
        rate = 24000
    else:
        samples, rate = decode_audio(data, f"speech.{fmt}", sample_rate_hz=24000), 24000
    assert 2.0 < len(samples) / rate < 10.0
    assert word_overlap(transcribe(samples, rate), text) > 0.7


def test_speech_sse_voice_names_and_speed(server, client):
    base = {"model": "tts-1", "input": "Hello there, how are you today?", "response_format": "pcm"}
    slow = client.audio.speech.create(**base, voice="en_US-joe-medium", speed=0.8).content
    fast = client.audio.speech.create(**base, voice={"id": "nova"}, speed=1.6).content
    assert len(slow) > 1.5 * len(fast)
    with httpx.stream("POST", f"{server.base_url}/audio/speech", headers=server.headers(), timeout=60,
                      json={**base, "voice": "alloy", "stream_format": "sse"}) as r:
        lines = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert lines[-1]["type"] == "speech.audio.done" and lines[0]["type"] == "speech.audio.delta"


def test_chat_completion_and_stream(client):
    r = client.chat.completions.create(model="gpt-4o-mini", max_tokens=20,
                                       messages=[{"role": "system", "content": "Be brief."},
                                                 {"role": "user", "content": "What is the capital of France?"}])
    assert r.choices[0].message.role == "assistant" and r.choices[0].message.content
    assert r.choices[0].finish_reason in ("stop", "length") and r.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(
        model="x", stream=True, stream_options={"include_usage": True}, max_tokens=20,
        messages=[{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text and len(finals) == 1 and chunks[-1].usage.completion_tokens > 0


def test_models_health_metrics(server, client):
    ids = [m.id for m in client.models.list().data]
    assert {"whisper-1", "tts-1", "tiny.en", "en_US-joe-medium"} <= set(ids)
    assert client.models.retrieve("whisper-1").id == "whisper-1"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    health = httpx.get(f"{server.http}/health", headers=server.headers()).json()
    assert health["status"] == "ok" and health["models"]["stt"] == "tiny.en"
    metrics = httpx.get(f"{server.http}/metrics", headers=server.headers())
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "voicecli_http_requests_total{" in metrics.text and "voicecli_active_sessions " in metrics.text
    assert 'voicecli_stage_latency_seconds_bucket{stage="stt_file",le="+Inf"}' in metrics.text


def _error(server, method: str, path: str, **kwargs) -> tuple[int, dict]:
    r = httpx.request(method, f"{server.base_url}{path}", headers=server.headers(), timeout=60, **kwargs)
    body = r.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    return r.status_code, body["error"]


def test_bad_requests_get_openai_errors(server, client, tmp_path):
    wav = QUESTION.read_bytes()
    cases = [
        ("POST", "/audio/transcriptions", dict(files={"file": ("a.wav", b"this is not audio at all")}, data={"model": "w"}), 400, "file"),
        ("POST", "/audio/transcriptions", dict(files={"file": ("a.wav", wav[:60])}, data={"model": "w"}), 400, "file"),
        ("POST", "/audio/transcriptions", dict(files={"file": ("a.wav", b"")}, data={"model": "w"}), 400, "file"),
        ("POST", "/audio/transcriptions", dict(data={"model": "w"}), 400, "file"),
        ("POST", "/audio/transcriptions", dict(files={"file": ("a.wav", wav)}, data={"model": "w", "language": "xx"}), 400, "language"),
        ("POST", "/audio/transcriptions", dict(files={"file": ("a.wav", wav)}, data={"model": "w", "response_format": "docx"}), 400, "response_format"),
        ("POST", "/audio/transcriptions", dict(files={"file": ("a.wav", wav)}, data={"model": "w", "temperature": "hot"}), 400, "temperature"),
        ("POST", "/audio/speech", dict(content=b"{not json"), 400, None),
        ("POST", "/audio/speech", dict(json={"model": "tts-1", "input": "hi", "voice": "nobody"}), 400, "voice"),
        ("POST", "/audio/speech", dict(json={"model": "tts-1", "input": "x" * 5000, "voice": "alloy"}), 400, "input"),
        ("POST", "/audio/speech", dict(json={"model": "tts-1", "input": "hi", "voice": "alloy", "speed": 9}), 400, "speed"),
        ("POST", "/audio/speech", dict(json={"model": "tts-1", "input": 5, "voice": "alloy"}), 400, "input"),
        ("POST", "/chat/completions", dict(json={"model": "m", "messages": []}), 400, "messages"),
        ("POST", "/chat/completions", dict(json={"model": "m", "messages": [{"role": "wizard", "content": "x"}]}), 400, "messages.0.role"),
        ("POST", "/chat/completions", dict(json={"model": "m", "messages": "hello"}), 400, "messages"),
        ("GET", "/no/such/route", {}, 404, None),
    ]
    for method, path, kwargs, status, param in cases:
        got, err = _error(server, method, path, **kwargs)
        assert got == status, (path, kwargs.get("data"), err)
        if param is not None:
            assert err["param"] == param or (err["param"] or "").startswith(param), (path, err)
    # The SDK maps them to its exception classes.
    with pytest.raises(openai.BadRequestError):
        client.audio.transcriptions.create(model="whisper-1", file=("x.wav", b"RIFF....WAVEfmt garbage"))


def test_upload_limit_gives_413(server):
    big = b"\0" * (26 * 1024 * 1024)
    r = httpx.post(f"{server.base_url}/audio/transcriptions", headers=server.headers(), timeout=60,
                   files={"file": ("big.wav", big)}, data={"model": "w"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

    def chunked():  # no Content-Length: the limit applies while reading
        for _ in range(30):
            yield b"\0" * (1024 * 1024)
    r = httpx.post(f"{server.base_url}/audio/speech", headers={**server.headers(), "content-type": "application/json"},
                   content=chunked(), timeout=60)
    assert r.status_code == 413
