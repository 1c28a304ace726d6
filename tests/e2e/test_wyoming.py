"""The Wyoming server (Home Assistant's voice protocol) driven by the `wyoming` package's own
client classes against a real server on loopback: every flow of PROTOCOLS.md §3, the errors a
client can provoke, and the transcripts checked against the eval references (speech) and the
text (TTS round trip)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart
from wyoming.audio import AudioChunk, AudioStart, AudioStop, wav_to_chunks
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.conftest import ROOT
from tests.helpers import read_wav, word_overlap

HOST = "127.0.0.1"
VOICE = "en_US-joe-medium"
READ_TIMEOUT_S = 60.0
JFK = "en_jfk_inaugural.wav"
SPEECH_TEXT = ("The weather today is sunny with a light breeze. Tomorrow it will rain in the afternoon. "
               "Remember to take an umbrella when you go out.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def reference(manifest: list[dict], name: str) -> str:
    return next(m["text"] for m in manifest if m["file"] == name)


# ---------------------------------------------------------------------------------------------
# Client side: only the wyoming package's classes


async def read_until(client: AsyncTcpClient, *types: str) -> list[Event]:
    """Events up to and including the first of ``types`` (or an ``error``)."""
    events = []
    while True:
        event = await asyncio.wait_for(client.read_event(), READ_TIMEOUT_S)
        assert event is not None, f"connection closed after {[e.type for e in events]}"
        events.append(event)
        if event.type in types or Error.is_type(event.type):
            return events


async def read_to_close(client: AsyncTcpClient) -> list[Event]:
    events = []
    while (event := await asyncio.wait_for(client.read_event(), READ_TIMEOUT_S)) is not None:
        events.append(event)
    return events


def pcm_chunks(pcm: bytes, rate: int, width: int, channels: int, samples_per_chunk: int = 1024) -> list[Event]:
    step = samples_per_chunk * width * channels
    return ([AudioStart(rate=rate, width=width, channels=channels).event()]
            + [AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[i:i + step]).event()
               for i in range(0, len(pcm), step)]
            + [AudioStop().event()])


def wav_events(path: Path) -> list[Event]:
    with wave.open(str(path), "rb") as w:
        return [e.event() for e in wav_to_chunks(w, 1024, start_event=True, stop_event=True)]


async def transcribe(port: int, audio_events: list[Event], language: str | None = "en") -> list[Event]:
    """One utterance, as Home Assistant sends it; every event until the server closes."""
    async with AsyncTcpClient(HOST, port) as client:
        await client.write_event(Transcribe(language=language).event())
        for event in audio_events:
            await client.write_event(event)
        return await read_to_close(client)


def transcript_of(events: list[Event]) -> Transcript:
    """Checks the streaming order: transcript-start, chunks, transcript, transcript-stop; chunks join to the text."""
    types = [e.type for e in events]
    assert types[0] == "transcript-start", types
    assert types[-2:] == ["transcript", "transcript-stop"], types
    assert set(types[1:-2]) <= {"transcript-chunk"}, types
    transcript = Transcript.from_event(events[-2])
    chunks = [TranscriptChunk.from_event(e).text for e in events[1:-2]]
    assert "".join(chunks) == transcript.text, (chunks, transcript.text)
    return transcript


def pcm_of(events: list[Event]) -> tuple[bytes, set[tuple[int, int, int]]]:
    formats = {(AudioStart.from_event(e).rate, AudioStart.from_event(e).width, AudioStart.from_event(e).channels)
               for e in events if AudioStart.is_type(e.type)}
    chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
    formats |= {(c.rate, c.width, c.channels) for c in chunks}
    return b"".join(c.audio for c in chunks), formats


async def roundtrip_text(port: int, pcm: bytes, rate: int) -> str:
    """What the server's own STT hears in TTS audio (sent at the voice's rate: the server converts)."""
    return transcript_of(await transcribe(port, pcm_chunks(pcm, rate, 2, 1))).text


# ---------------------------------------------------------------------------------------------
# Servers


class ServerThread:
    """serve_wyoming in its own event loop and thread (models loaded once for the module)."""

    def __init__(self, engines, port: int) -> None:
        self.engines = engines
        self.port = port
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="wyoming-test-server", daemon=True)

    def _run(self) -> None:
        from voicecli.server.wyoming import serve_wyoming

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            await serve_wyoming(f"tcp://{HOST}:{self.port}", self.engines, stop=self.stop,
                                on_ready=lambda _uri: self.ready.set())

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported by the fixture
            self.error = exc
        finally:
            self.ready.set()

    def start(self) -> None:
        self.thread.start()
        assert self.ready.wait(120), "server did not start"
        assert self.error is None, self.error

    def close(self) -> None:
        assert self.loop is not None and self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


@pytest.fixture(scope="module")
def wy_engines(settings, tmp_path_factory):
    from voicecli.server.wyoming import WyomingEngines

    with pytest.MonkeyPatch.context() as mp:  # same isolation as conftest's autouse fixture
        home = tmp_path_factory.getbasetemp() / "xdg"
        mp.setenv("XDG_DATA_HOME", str(home / "data"))
        mp.setenv("XDG_CACHE_HOME", str(ROOT / ".venv" / "cache"))
        engines = WyomingEngines.from_settings(settings)
    yield engines
    engines.close()


@pytest.fixture(scope="module")
def port(wy_engines) -> Iterator[int]:
    server = ServerThread(wy_engines, free_port())
    server.start()
    try:
        yield server.port
        assert server.thread.is_alive(), "the server died during the tests"
    finally:
        server.close()


def run(coro):
    return asyncio.run(coro)


# ---------------------------------------------------------------------------------------------
# Tests that need no model


def test_engines_pick_voice_and_model_by_name_and_language():
    from voicecli.languages import base_language
    from voicecli.server.wyoming import (
        ModelCard,
        ModelSlot,
        ProtocolError,
        WyomingEngines,
    )

    def slot(name, *langs):
        return ModelSlot(ModelCard(name, langs, name), lambda: None)

    eng = WyomingEngines(stt=[slot("tiny.en", "en"), slot("base", "en", "de", "fr")],
                         tts=[slot("en_US-joe-medium", "en_US"), slot("de_DE-thorsten-medium", "de_DE")])
    try:
        table = [(None, "tiny.en"), ("en", "tiny.en"), ("en-US", "tiny.en"), ("de", "base"), ("DE_de", "base"),
                 ("xx", "tiny.en")]
        for language, want in table:
            assert eng.pick_stt(None, language).card.name == want, language
        assert eng.pick_stt("base", "en").card.name == "base"
        voices = [(None, "en_US-joe-medium"), (SynthesizeVoice(language="de-DE"), "de_DE-thorsten-medium"),
                  (SynthesizeVoice(language="de"), "de_DE-thorsten-medium"),
                  (SynthesizeVoice(name="en_US-joe-medium", speaker="0"), "en_US-joe-medium")]
        for voice, want in voices:
            assert eng.pick_voice(voice).card.name == want, voice
        for bad in (lambda: eng.pick_stt("large-v9", None), lambda: eng.pick_voice(SynthesizeVoice(name="nobody")),
                    lambda: eng.pick_voice(SynthesizeVoice(language="ja"))):
            with pytest.raises(ProtocolError):
                bad()
        assert [base_language(x) for x in ("en_US", "pt-BR", "", None)] == ["en", "pt", None, None]
        Info.from_event(eng.info().event())  # what Home Assistant parses
    finally:
        eng.close()


def test_from_engines_serves_the_loaded_models_as_defaults(settings):
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from voicecli.server.wyoming import WyomingEngines

    transcriber = SimpleNamespace(name="tiny.en", is_multilingual=False)
    speaker = SimpleNamespace(name=VOICE, sample_rate_hz=22050)
    shared = ThreadPoolExecutor(1)
    eng = WyomingEngines.from_engines(SimpleNamespace(settings=settings, transcriber=transcriber, speaker=speaker),
                                      executors={"tts": shared})
    try:
        assert eng.stt[0].get() is transcriber and eng.tts[0].get() is speaker  # nothing loaded again
        assert eng.stt[0].card.languages == ("en",) and eng.tts[0].card.languages == ("en_US",)
        assert eng.tts[0].executor is shared  # e.g. shared with the HTTP server: one Piper thread
        assert len({s.card.name for s in eng.stt}) == len(eng.stt)  # the default is not listed twice
    finally:
        eng.close()
        shared.shutdown()


def _run_module(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicecli.server.wyoming", *args], check=False, capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_bad_uri_is_one_clear_error():
    r = _run_module("--uri", "http://127.0.0.1:10300")
    assert r.returncode != 0
    assert "error: bad Wyoming URI" in r.stderr and "tcp://HOST:PORT" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_zeroconf_without_its_package_is_one_clear_error():
    import importlib.util

    if importlib.util.find_spec("zeroconf") is not None:
        pytest.skip("zeroconf is installed (registering would multicast on the LAN: not tested here)")
    r = _run_module("--uri", f"tcp://0.0.0.0:{free_port()}", "--zeroconf")
    assert r.returncode != 0
    assert "zeroconf" in r.stderr and "pip install zeroconf" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    r = _run_module("--uri", f"tcp://127.0.0.1:{free_port()}", "--zeroconf")  # loopback cannot be announced
    assert r.returncode != 0 and "cannot reach" in r.stderr, r.stderr


# ---------------------------------------------------------------------------------------------
# As a user runs it: a subprocess


@pytest.mark.models
def test_standalone_server_subprocess_describe_transcribe_synthesize(speech_dir, manifest):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "voicecli.server.wyoming", "--uri", f"tcp://{HOST}:{port}"],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "ready on" in line or not line:
                break
        assert "ready on" in lines[-1], "".join(lines)

        async def flows():
            async with AsyncTcpClient(HOST, port) as client:
                t0 = time.perf_counter()
                await client.write_event(Describe().event())
                event = await asyncio.wait_for(client.read_event(), 1.0)  # Home Assistant waits 1 s
                describe_s = time.perf_counter() - t0
                info = Info.from_event(event)
            heard = transcript_of(await transcribe(port, wav_events(speech_dir / "en_goforward.wav")))
            async with AsyncTcpClient(HOST, port) as client:
                await client.write_event(Synthesize(text="Hello from voice C L I.").event())
                audio = await read_until(client, "audio-stop")
            return info, describe_s, heard, audio

        info, describe_s, heard, audio = run(flows())
        assert describe_s < 1.0
        assert info.asr[0].name == "voicecli-stt" and info.asr[0].supports_transcript_streaming
        assert {"tiny.en": ["en"]}.items() <= {m.name: m.languages for m in info.asr[0].models}.items()
        assert info.tts[0].supports_synthesize_streaming
        assert {VOICE: ["en_US"]}.items() <= {v.name: v.languages for v in info.tts[0].voices}.items()
        assert word_overlap(heard.text, reference(manifest, "en_goforward.wav")) >= 0.75, heard.text
        pcm, formats = pcm_of(audio)
        assert formats == {(22050, 2, 1)} and len(pcm) > 22050  # more than half a second of speech
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, proc.stderr.read() if proc.stderr else code


# ---------------------------------------------------------------------------------------------
# Speech to text (in-process server)


@pytest.mark.models
def test_describe_lists_models_and_voices_with_languages(port):
    async def go():
        async with AsyncTcpClient(HOST, port) as client:
            await client.write_event(Describe().event())
            info = Info.from_event(await asyncio.wait_for(client.read_event(), 1.0))
            await client.write_event(Ping(text="x").event())  # the connection stays open
            pong = await asyncio.wait_for(client.read_event(), 1.0)
            return info, pong

    info, pong = run(go())
    assert Pong.is_type(pong.type) and Pong.from_event(pong).text == "x"
    (asr,), (tts,) = info.asr, info.tts
    assert asr.installed and all(m.installed and m.languages for m in asr.models)
    assert asr.models[0].name == "tiny.en" and asr.models[0].languages == ["en"]
    assert tts.installed and tts.voices[0].name == VOICE and tts.voices[0].languages == ["en_US"]
    for model in asr.models:
        if model.name == "base":  # multilingual: Whisper's language list
            assert {"en", "de", "fr", "ja"} <= set(model.languages)


@pytest.mark.models
@pytest.mark.parametrize("clip", [JFK, "en_librispeech_1272-128104-0000.wav", "en_ljspeech_LJ001-0001.wav"])
def test_transcribe_streams_segments_then_closes(port, speech_dir, manifest, clip):
    events = run(transcribe(port, wav_events(speech_dir / clip)))
    transcript = transcript_of(events)  # ... and then the server closed the connection
    assert transcript.language == "en"
    assert TranscriptStart.from_event(events[0]).language == "en"
    assert len(events) >= 4  # at least one transcript-chunk
    assert word_overlap(transcript.text, reference(manifest, clip)) >= 0.8, transcript.text


@pytest.mark.models
@pytest.mark.parametrize("rate,width,channels", [(48000, 2, 2), (8000, 2, 1), (22050, 4, 1)])
def test_transcribe_converts_any_pcm_format(port, speech_dir, manifest, rate, width, channels):
    from voicecli.audio.resample import resample

    samples, src_rate = read_wav(speech_dir / JFK)
    x = resample(samples, src_rate, rate) * 0.9
    ints = (x * (2 ** (8 * width - 1) - 1)).astype(f"<i{width}")
    pcm = np.repeat(ints[:, None], channels, axis=1).tobytes()
    transcript = transcript_of(run(transcribe(port, pcm_chunks(pcm, rate, width, channels))))
    assert word_overlap(transcript.text, reference(manifest, JFK)) >= 0.8, transcript.text


@pytest.mark.models
def test_transcribe_routes_a_language_to_a_model_that_speaks_it(port, wy_engines, speech_dir, manifest):
    if not any("de" in s.card.languages for s in wy_engines.stt):
        pytest.skip("no multilingual Whisper installed (pip install 'voicecli[multilingual]')")
    transcript = transcript_of(run(transcribe(port, wav_events(speech_dir / "de_leopard_test.wav"), language="de")))
    assert transcript.language == "de"
    assert word_overlap(transcript.text, reference(manifest, "de_leopard_test.wav")) >= 0.5, transcript.text


@pytest.mark.models
def test_empty_audio_gives_an_empty_transcript(port):
    events = run(transcribe(port, [AudioStart(rate=16000, width=2, channels=1).event(), AudioStop().event()]))
    assert transcript_of(events).text == ""


@pytest.mark.models
def test_info_arrives_within_a_second_while_models_are_busy(port, speech_dir):
    async def go():
        busy = asyncio.create_task(transcribe(port, wav_events(speech_dir / JFK)))
        async with AsyncTcpClient(HOST, port) as tts_client:
            await tts_client.write_event(Synthesize(text=SPEECH_TEXT * 3).event())
            await asyncio.sleep(0.3)  # both models are working now
            delays = []
            for _ in range(3):
                async with AsyncTcpClient(HOST, port) as client:
                    t0 = time.perf_counter()
                    await client.write_event(Describe().event())
                    Info.from_event(await asyncio.wait_for(client.read_event(), 1.0))
                    delays.append(time.perf_counter() - t0)
            await read_until(tts_client, "audio-stop")
        await busy
        return delays

    assert max(run(go())) < 1.0


# ---------------------------------------------------------------------------------------------
# Text to speech


@pytest.mark.models
def test_synthesize_is_one_audio_block_and_says_the_text(port):
    async def go():
        async with AsyncTcpClient(HOST, port) as client:
            await client.write_event(Synthesize(text=SPEECH_TEXT, voice=SynthesizeVoice(name=VOICE)).event())
            events = await read_until(client, "audio-stop")
            await client.write_event(Describe().event())  # nothing else was queued after audio-stop
            after = await asyncio.wait_for(client.read_event(), 5)
            return events, after

    events, after = run(go())
    types = [e.type for e in events]
    assert types[0] == "audio-start" and types[-1] == "audio-stop" and types.count("audio-start") == 1, types
    assert set(types[1:-1]) == {"audio-chunk"}
    assert Info.is_type(after.type)
    pcm, formats = pcm_of(events)
    assert formats == {(22050, 2, 1)}
    duration_s = len(pcm) / 2 / 22050
    assert 4.0 < duration_s < 20.0, duration_s
    heard = run(roundtrip_text(port, pcm, 22050))
    assert word_overlap(heard, SPEECH_TEXT) >= 0.8, heard


@pytest.mark.models
def test_streaming_synthesis_speaks_each_sentence_as_it_arrives(port):
    sentences = ["The weather today is sunny with a light breeze. ",
                 "Tomorrow it will rain in the afternoon. ",
                 "Remember to take an umbrella when you go out."]

    async def go():
        async with AsyncTcpClient(HOST, port) as client:
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=VOICE)).event())
            for word in sentences[0].split(" "):
                await client.write_event(SynthesizeChunk(text=word + " ").event())
            # The first sentence is spoken while the stream is still open.
            first = await read_until(client, "audio-chunk")
            for sentence in sentences[1:]:
                for word in sentence.split(" "):
                    await client.write_event(SynthesizeChunk(text=word + " ").event())
            await client.write_event(Synthesize(text="".join(sentences)).event())  # for old servers: ignored
            await client.write_event(SynthesizeStop().event())
            rest = await read_until(client, "synthesize-stopped")
            await client.write_event(Describe().event())  # the connection stays open
            after = await asyncio.wait_for(client.read_event(), 5)
            return first + rest, after

    events, after = run(go())
    types = [e.type for e in events]
    assert not any(Error.is_type(t) for t in types), events
    assert types[:2] == ["audio-start", "audio-chunk"] and types[-1] == "synthesize-stopped", types
    assert types.count("audio-start") == types.count("audio-stop") >= 3  # one block per sentence
    assert Info.is_type(after.type)
    pcm, formats = pcm_of(events)
    assert formats == {(22050, 2, 1)}  # one constant rate for the whole stream
    heard = run(roundtrip_text(port, pcm, 22050))
    assert word_overlap(heard, "".join(sentences)) >= 0.8, heard


# ---------------------------------------------------------------------------------------------
# Bad clients: an error event, never a dead server


async def _error_then_alive(port: int, events: list[Event]) -> Error:
    """Send ``events`` on one connection; return the error; check the same connection still works."""
    async with AsyncTcpClient(HOST, port) as client:
        for event in events:
            await client.write_event(event)
        got = await read_until(client, "error")
        assert Error.is_type(got[-1].type), got
        await client.write_event(Describe().event())
        reply = await read_until(client, "info")
        assert Info.is_type(reply[-1].type), reply
        return Error.from_event(got[-1])


@pytest.mark.models
@pytest.mark.parametrize("events,code", [
    ([Event(type="frobnicate", data={"x": 1})], "unknown-event"),
    ([AudioChunk(rate=16000, width=2, channels=1, audio=b"\0\0" * 512).event()], "unexpected-event"),
    ([AudioStop().event()], "unexpected-event"),
    ([AudioStart(rate=16000, width=7, channels=1).event()], "invalid-event"),
    ([Event(type="audio-start", data={"rate": 16000})], "invalid-event"),
    ([Event(type="synthesize", data={})], "invalid-event"),
    ([SynthesizeChunk(text="hello").event()], "unexpected-event"),
    ([SynthesizeStop().event()], "unexpected-event"),
    ([Transcribe(name="large-v9").event()], "unknown-model"),
], ids=["unknown-type", "chunk-before-start", "stop-before-start", "bad-width", "missing-fields",
        "synthesize-no-text", "synth-chunk-outside-stream", "synth-stop-outside-stream", "unknown-model"])
def test_bad_events_get_an_error_and_the_connection_lives(port, events, code):
    assert run(_error_then_alive(port, events)).code == code


@pytest.mark.models
@pytest.mark.parametrize("text", ["", "   ", "**  **"])
def test_synthesize_with_empty_text_is_an_error_then_audio_stop(port, text):
    async def go():
        async with AsyncTcpClient(HOST, port) as client:
            await client.write_event(Synthesize(text=text).event())
            replies = [await asyncio.wait_for(client.read_event(), 5) for _ in range(2)]
            await client.write_event(Describe().event())
            return replies, await asyncio.wait_for(client.read_event(), 5)

    (error, stop), after = run(go())
    assert Error.from_event(error).code == "empty-text"
    assert AudioStop.is_type(stop.type)  # clients that wait for audio-stop (older Home Assistant) do not hang
    assert Info.is_type(after.type)  # and no audio follows


@pytest.mark.models
def test_unknown_voice_is_an_error_then_audio_stop(port):
    async def go():
        async with AsyncTcpClient(HOST, port) as client:
            await client.write_event(Synthesize(text="Hello.", voice=SynthesizeVoice(name="nobody")).event())
            return [await asyncio.wait_for(client.read_event(), 5) for _ in range(2)]

    error, stop = run(go())
    assert Error.from_event(error).code == "unknown-voice" and VOICE in Error.from_event(error).text
    assert AudioStop.is_type(stop.type)


@pytest.mark.models
@pytest.mark.parametrize("line,code", [(b"this is not json\n", "invalid-json"), (b"[1, 2, 3]\n", "invalid-event"),
                                       (b'{"data": {"text": "no type"}}\n', "invalid-event"),
                                       (b'{"type": "synthesize", "data_length": 5}\n{oops', "invalid-json")])
def test_garbage_lines_get_an_error_and_the_connection_lives(port, line, code):
    async def go():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(line)
            await writer.drain()
            error = await asyncio.wait_for(async_read_event(reader), 5)
            await async_write_event(Describe().event(), writer)
            info = await asyncio.wait_for(async_read_event(reader), 5)
            return error, info
        finally:
            writer.close()

    error, info = run(go())
    assert error is not None and Error.from_event(error).code == code
    assert info is not None and Info.is_type(info.type)


@pytest.mark.models
def test_clients_disconnecting_mid_stream_leave_the_server_serving(port, speech_dir, manifest):
    long_text = " ".join(f"This is sentence number {n} of a long story." for n in range(30))

    async def vanish(events: list[Event], read_first: str | None = None) -> None:
        async with AsyncTcpClient(HOST, port) as client:
            for event in events:
                await client.write_event(event)
            if read_first:
                await read_until(client, read_first)
        # leaving the block closes the socket

    async def go():
        jfk = wav_events(speech_dir / JFK)
        await vanish([Transcribe(language="en").event(), *jfk[: len(jfk) // 2]])  # mid-upload
        await vanish([Transcribe(language="en").event(), *jfk])  # right after audio-stop
        await vanish([Synthesize(text=long_text).event()], read_first="audio-chunk")  # mid-audio
        await vanish([SynthesizeStart().event(), SynthesizeChunk(text=long_text).event()],
                     read_first="audio-chunk")  # mid-stream
        # The long syntheses were cancelled: a new request is not stuck behind ~40 s of speech.
        async with AsyncTcpClient(HOST, port) as client:
            t0 = time.perf_counter()
            await client.write_event(Synthesize(text="Still here.").event())
            events = await read_until(client, "audio-stop")
            tts_s = time.perf_counter() - t0
        return events, tts_s, await transcribe(port, wav_events(speech_dir / "en_goforward.wav"))

    events, tts_s, stt_events = run(go())
    assert not any(Error.is_type(e.type) for e in events)
    assert pcm_of(events)[0]
    assert tts_s < 10.0, tts_s  # generous: uncancelled, the queue ahead would take far longer
    heard = transcript_of(stt_events).text
    assert word_overlap(heard, reference(manifest, "en_goforward.wav")) >= 0.75, heard
