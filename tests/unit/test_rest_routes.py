"""The REST routes on fake engines: request → the options and text the engines get, and the
OpenAI-shaped answers. Real app, real executors and encoders; no model, milliseconds."""

from __future__ import annotations

import json

import pytest

from tests.unit.fake_engines import FakeChat, FakeEngines, FakeSpeaker, FakeTranscriber, rest_client, wav_bytes
from voicecli.config import Settings, SttConfig
from voicecli.stt.types import Segment, TranscribeOptions, Word
from voicecli.tts.speakable import split_for_speech

SEGMENTS = (Segment(0, 0.0, 0.5, " Hello", words=(Word(0.0, 0.4, " Hello", 0.9),)),
            Segment(1, 0.5, 1.0, " world.", words=(Word(0.5, 0.9, " world.", 0.8),)))


@pytest.fixture
def engines():
    return FakeEngines(FakeTranscriber(SEGMENTS), FakeChat("Paris is the capital."), FakeSpeaker(),
                       Settings(stt=SttConfig(beam_size=3, language="en")))


def _transcribe(client, **data):
    return client.post("/v1/audio/transcriptions", files={"file": ("a.wav", wav_bytes(), "audio/wav")},
                       data={"model": "whisper-1", **data})


def test_transcription_json_text_and_the_options_whisper_gets(engines):
    with rest_client(engines) as client:
        body = _transcribe(client).json()
        text = _transcribe(client, response_format="text", language="German", prompt="Names: Jo.",
                           temperature="0.2").text
    assert body == {"text": "Hello world.", "usage": {"type": "duration", "seconds": 1}}
    assert text == "Hello world.\n"
    assert engines.transcriber.calls == [
        TranscribeOptions(language="en", beam_size=3),
        TranscribeOptions(language="de", beam_size=3, initial_prompt="Names: Jo.", temperature=0.2)]


def test_transcription_verbose_json_with_words(engines):
    with rest_client(engines) as client:
        r = _transcribe(client, response_format="verbose_json", **{"timestamp_granularities[]": "word"})
    body = r.json()
    assert body["language"] == "english" and body["duration"] == 1.0 and body["text"] == "Hello world."
    assert body["words"] == [{"word": "Hello", "start": 0.0, "end": 0.4}, {"word": "world.", "start": 0.5, "end": 0.9}]
    assert "segments" not in body
    assert engines.transcriber.calls[0].word_timestamps


def test_transcription_stream_sends_deltas_then_done(engines):
    with rest_client(engines) as client:
        r = _transcribe(client, stream="true")
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events] == ["transcript.text.delta"] * 2 + ["transcript.text.done"]
    assert events[-1]["text"] == "Hello world."


@pytest.mark.parametrize("data,param", [
    ({"language": "klingon"}, "language"), ({"response_format": "diarized_json"}, "response_format"),
    ({"temperature": "1.5"}, "temperature"), ({"stream": "true", "response_format": "srt"}, "stream"),
])
def test_transcription_bad_requests(engines, data, param):
    with rest_client(engines) as client:
        r = _transcribe(client, **data)
    assert r.status_code == 400 and r.json()["error"]["param"] == param


def test_transcription_of_something_that_is_not_audio(engines):
    with rest_client(engines) as client:
        r = client.post("/v1/audio/transcriptions", files={"file": ("a.wav", b"not audio at all", "audio/wav")},
                        data={"model": "whisper-1"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_file"
    assert engines.transcriber.calls == []


def test_speech_speaks_the_split_for_speech_pieces(engines):
    text = "It costs $5. **Really**, it does! See https://example.com now."
    with rest_client(engines) as client:
        r = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": text,
                                                  "response_format": "pcm"})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/pcm"
    assert engines.speaker.spoken == split_for_speech(text) and len(engines.speaker.spoken) == 3
    assert len(r.content) > 0 and len(r.content) % 2 == 0


def test_speech_sse_and_unknown_voice(engines):
    with rest_client(engines) as client:
        r = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": {"id": "en_US-fake-medium"},
                                                  "input": "Hi.", "response_format": "wav", "stream_format": "sse"})
        bad = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "nobody", "input": "Hi."})
    types = [json.loads(line[6:])["type"] for line in r.text.splitlines() if line.startswith("data: ")]
    assert types[-1] == "speech.audio.done" and set(types[:-1]) == {"speech.audio.delta"}
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_voice"


def test_chat_completion_whole_and_streamed(engines):
    msgs = [{"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    with rest_client(engines) as client:
        whole = client.post("/v1/chat/completions", json={"model": "x", "messages": msgs}).json()
        streamed = client.post("/v1/chat/completions", json={"model": "x", "messages": msgs, "stream": True,
                                                             "stream_options": {"include_usage": True}}).text
    assert whole["choices"][0]["message"]["content"] == "Paris is the capital."
    assert whole["choices"][0]["finish_reason"] == "stop" and whole["usage"]["completion_tokens"] == 4
    chunks = [line[6:] for line in streamed.splitlines() if line.startswith("data: ")]
    assert chunks[-1] == "[DONE]"
    deltas = [json.loads(c)["choices"][0]["delta"].get("content", "") for c in chunks[:-2]]
    assert "".join(deltas) == "Paris is the capital." and json.loads(chunks[-2])["usage"]["total_tokens"] > 4


def test_models_list_and_lookup(engines):
    with rest_client(engines) as client:
        ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
        one = client.get("/v1/models/whisper-1")
        missing = client.get("/v1/models/nope")
    assert ids[:3] == ["fake-whisper", "fake-llm", "en_US-fake-medium"] and "gpt-realtime" in ids
    assert one.json()["id"] == "whisper-1" and missing.status_code == 404
