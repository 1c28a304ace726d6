"""The Wyoming connection handler with fake STT/TTS engines (no models): every error path answers
``error {code}`` as PROTOCOLS.md §3 and the server's ErrorCode say, and the connection then lives on
or closes as documented; plus the happy paths the errors are measured against. Milliseconds each."""

from __future__ import annotations

import pytest
from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.unit.wyoming_harness import (
    PCM_16K,
    VOICE,
    VOICE_RATE_HZ,
    Client,
    FakeTranscriber,
    chunk,
    error_of,
    make_engines,
    run,
)
from voicecli.server.wyoming import stt_flow

pytestmark = pytest.mark.timeout(30)


# ---------------------------------------------------------------------------------------------
# Control events


def test_describe_and_ping_are_answered_and_the_connection_stays():
    async def script(c: Client):
        await c.send(Describe().event(), Ping(text="x").event())
        return Info.from_event(await c.read()), await c.read()

    info, pong = run(make_engines(), script)
    assert [m.name for m in info.asr[0].models] == ["fake-stt"] and info.tts[0].voices[0].name == VOICE
    assert pong is not None and Pong.is_type(pong.type) and Pong.from_event(pong).text == "x"


# ---------------------------------------------------------------------------------------------
# Bad events: an error, and the connection lives


@pytest.mark.parametrize("events,code", [
    ([Event(type="frobnicate", data={"x": 1})], "unknown-event"),
    ([chunk(b"\0\0" * 512)], "unexpected-event"),
    ([AudioStop().event()], "unexpected-event"),
    ([AudioStart(rate=16000, width=7, channels=1).event()], "invalid-event"),
    ([AudioStart(rate=10, width=2, channels=1).event()], "invalid-event"),
    ([AudioStart(rate=16000, width=2, channels=0).event()], "invalid-event"),
    ([Event(type="audio-start", data={"rate": 16000})], "invalid-event"),
    ([PCM_16K.event(), chunk(b"\0\0", width=7)], "invalid-event"),
    ([PCM_16K.event(), chunk(b"\0\0\0")], "invalid-event"),
    ([Event(type="synthesize", data={})], "invalid-event"),
    ([SynthesizeChunk(text="hello").event()], "unexpected-event"),
    ([SynthesizeStop().event()], "unexpected-event"),
    ([SynthesizeStart().event(), SynthesizeStart().event()], "unexpected-event"),
    ([SynthesizeStart().event(), Event(type="synthesize-chunk", data={"text": 5})], "invalid-event"),
    ([Transcribe(name="large-v9").event()], "unknown-model"),
    ([Event(type="transcribe", data={"language": 5})], "invalid-event"),
    ([Event(type="select-program", data={"name": "nobody"})], "unknown-model"),
], ids=["unknown-type", "chunk-before-start", "stop-before-start", "bad-width", "bad-rate", "no-channels",
        "missing-fields", "chunk-bad-width", "chunk-partial-frame", "synthesize-no-text", "synth-chunk-outside-stream",
        "synth-stop-outside-stream", "synth-start-twice", "synth-chunk-not-text", "unknown-model",
        "language-not-text", "unknown-program"])
def test_bad_events_get_an_error_and_the_connection_lives(events, code):
    async def script(c: Client):
        await c.send(*events)
        got = await c.read_until("error")
        await c.assert_alive()
        return error_of(got[-1])

    assert run(make_engines(), script).code == code


def test_only_the_first_orphan_audio_chunk_is_reported():
    async def script(c: Client):
        await c.send(chunk(b"\0\0" * 512), chunk(b"\0\0" * 512), chunk(b"\0\0" * 512))
        error = error_of(await c.read())
        await c.assert_alive()  # no second error was queued before the info
        return error

    assert run(make_engines(), script).code == "unexpected-event"


# ---------------------------------------------------------------------------------------------
# Speech to text


def test_transcription_streams_segments_then_closes():
    transcriber = FakeTranscriber()

    async def script(c: Client):
        pcm_48k_stereo = b"\1\0" * 2 * 48000  # one second
        await c.send(Transcribe(language="en").event(), AudioStart(rate=48000, width=2, channels=2).event(),
                     chunk(pcm_48k_stereo, rate=48000, channels=2), AudioStop().event())
        return await c.read_to_close()

    events = run(make_engines(transcriber), script)
    assert [e.type for e in events] == ["transcript-start", "transcript-chunk", "transcript-chunk", "transcript",
                                        "transcript-stop"]
    assert TranscriptStart.from_event(events[0]).language == "en"
    assert [TranscriptChunk.from_event(e).text for e in events[1:3]] == ["Hello", " world."]
    assert Transcript.from_event(events[3]).text == "Hello world."
    assert 15000 <= transcriber.samples_heard[0] <= 17000  # converted to 16 kHz mono


def test_no_audio_is_an_empty_transcript():
    async def script(c: Client):
        await c.send(PCM_16K.event(), AudioStop().event())
        return await c.read_to_close()

    events = run(make_engines(), script)
    assert [e.type for e in events] == ["transcript-start", "transcript", "transcript-stop"]
    assert Transcript.from_event(events[1]).text == ""


@pytest.mark.parametrize("fail_at", [0, 1, 2], ids=["at-once", "first-segment", "second-segment"])
def test_a_failing_transcriber_is_stt_failed_and_closes(fail_at):
    async def script(c: Client):
        await c.send(PCM_16K.event(), chunk(b"\1\0" * 1600), AudioStop().event())
        return await c.read_to_close()

    events = run(make_engines(FakeTranscriber(fail_at=fail_at)), script)
    error = error_of(events[-1])
    assert error.code == "stt-failed" and "decoder exploded" in error.text
    assert "transcript" not in [e.type for e in events]


def test_a_model_that_cannot_load_is_model_load_failed():
    async def script(c: Client):
        await c.send(PCM_16K.event(), chunk(b"\1\0" * 1600), AudioStop().event())
        return await c.read()

    error = error_of(run(make_engines(broken=True), script))
    assert error.code == "model-load-failed" and "fake-stt" in error.text and "no such file" in error.text


def test_audio_over_the_limit_is_refused_then_closes(monkeypatch):
    monkeypatch.setattr(stt_flow, "MAX_UTTERANCE_S", 0.1)
    transcriber = FakeTranscriber()

    async def script(c: Client):
        await c.send(PCM_16K.event(), chunk(b"\1\0" * 3200))  # 0.2 s
        first = error_of(await c.read())
        await c.send(chunk(b"\1\0" * 3200), AudioStop().event())  # ignored, then refused again
        return first, await c.read_to_close()

    first, rest = run(make_engines(transcriber), script)
    assert first.code == "audio-too-long"
    assert [error_of(e).code for e in rest] == ["audio-too-long"]
    assert transcriber.samples_heard == []


# ---------------------------------------------------------------------------------------------
# Text to speech


def test_synthesize_is_one_audio_block():
    async def script(c: Client):
        await c.send(Synthesize(text="Hello there. How are you today?").event())
        events = await c.read_until("audio-stop")
        await c.assert_alive()
        return events

    events = run(make_engines(), script)
    types = [e.type for e in events]
    assert types[0] == "audio-start" and types[-1] == "audio-stop" and set(types[1:-1]) == {"audio-chunk"}, types
    assert {AudioChunk.from_event(e).rate for e in events[1:-1]} == {VOICE_RATE_HZ}


@pytest.mark.parametrize("text", ["", "   ", "**  **"])
def test_synthesize_with_empty_text_is_an_error_then_audio_stop(text):
    async def script(c: Client):
        await c.send(Synthesize(text=text).event())
        replies = [await c.read(), await c.read()]
        await c.assert_alive()  # and no audio follows
        return replies

    error, stop = run(make_engines(), script)
    assert error_of(error).code == "empty-text"
    assert stop is not None and AudioStop.is_type(stop.type)


@pytest.mark.parametrize("voice,code", [
    (SynthesizeVoice(name="nobody"), "unknown-voice"),
    (SynthesizeVoice(language="ja"), "unknown-voice"),
], ids=["by-name", "by-language"])
def test_unknown_voice_is_an_error_then_audio_stop(voice, code):
    async def script(c: Client):
        await c.send(Synthesize(text="Hello.", voice=voice).event())
        replies = [await c.read(), await c.read()]
        await c.assert_alive()
        return replies

    error, stop = run(make_engines(), script)
    assert error_of(error).code == code and "en_US" in error_of(error).text
    assert stop is not None and AudioStop.is_type(stop.type)


def test_synthesize_text_that_is_not_a_string_is_an_error_then_audio_stop():
    async def script(c: Client):
        await c.send(Event(type="synthesize", data={"text": 5}))
        return [await c.read(), await c.read()]

    error, stop = run(make_engines(), script)
    assert error_of(error).code == "invalid-event" and stop is not None and AudioStop.is_type(stop.type)


def test_a_voice_that_cannot_load_is_model_load_failed_then_audio_stop():
    async def script(c: Client):
        await c.send(Synthesize(text="Hello.").event())
        return [await c.read(), await c.read()]

    error, stop = run(make_engines(broken=True), script)
    assert error_of(error).code == "model-load-failed" and stop is not None and AudioStop.is_type(stop.type)


def test_a_failing_voice_is_tts_failed_inside_the_block():
    async def script(c: Client):
        await c.send(Synthesize(text="Boom goes the voice.").event())
        events = await c.read_until("audio-stop")
        await c.assert_alive()
        return events

    events = run(make_engines(), script)
    assert [e.type for e in events] == ["audio-start", "error", "audio-stop"]
    assert error_of(events[1]).code == "tts-failed" and "vocoder exploded" in error_of(events[1]).text


def test_streaming_synthesis_is_one_block_per_sentence_and_a_failing_one_is_tts_failed():
    async def script(c: Client):
        await c.send(SynthesizeStart().event(), SynthesizeChunk(text="The first sentence is fine. ").event(),
                     SynthesizeChunk(text="Then boom, this one fails. ").event(),
                     SynthesizeChunk(text="And the last one is fine.").event(),
                     Synthesize(text="ignored inside a stream").event(), SynthesizeStop().event())
        events = await c.read_until("synthesize-stopped")
        await c.assert_alive()
        return events

    types = [e.type for e in run(make_engines(), script)]
    assert types == ["audio-start", "audio-chunk", "audio-stop", "audio-start", "error", "audio-stop",
                     "audio-start", "audio-chunk", "audio-stop", "synthesize-stopped"], types


def test_a_stream_with_an_unknown_voice_is_an_error_and_its_text_is_swallowed():
    async def script(c: Client):
        await c.send(SynthesizeStart(voice=SynthesizeVoice(name="nobody")).event(),
                     SynthesizeChunk(text="Nobody says this. ").event(), SynthesizeStop().event())
        return await c.read_until("synthesize-stopped")

    events = run(make_engines(), script)
    assert [e.type for e in events] == ["error", "synthesize-stopped"]
    assert error_of(events[0]).code == "unknown-voice"
