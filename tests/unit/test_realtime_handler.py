"""The realtime WebSocket handler driven end to end through Starlette's TestClient, on fake
engines (no models): every bad client event gets its exact ``error`` event and the session goes
on; the response lifecycle runs on a fake STT/LLM/TTS. Seconds, not minutes."""

from __future__ import annotations

import base64
import json
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from voicecli.audio.format import AudioChunk
from voicecli.llm.types import ChatMessage, GenerationOptions
from voicecli.server.app import create_app
from voicecli.server.config import Limits, ServerConfig
from voicecli.stt.types import Segment, TranscribeOptions, Transcription

WIRE_RATE_HZ = 24_000
ANSWER = ("Two plus two ", "is four.")
HEARD = "what is two plus two"


# --- fake engines ---------------------------------------------------------------------------
class FakeVad:
    """Speech is anything louder than a whisper."""

    def probability(self, frame: np.ndarray) -> float:
        return 0.95 if float(np.sqrt(np.mean(np.square(frame)))) > 0.01 else 0.0

    def reset(self) -> None:
        pass


class FakeTranscriber:
    name = "fake-stt"
    is_multilingual = False

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        duration_s = len(audio) / 16_000
        return Transcription(HEARD, "en", 1.0, duration_s, (Segment(0, 0.0, duration_s, HEARD),))


class FakeChat:
    """Streams ``ANSWER``; while ``hold`` is clear it waits first (a reply still running)."""

    name = "fake-llm"

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.hold.set()
        self.calls: list[list[ChatMessage]] = []

    def stream(self, messages: Sequence[ChatMessage], options: GenerationOptions) -> Iterator[str]:
        self.calls.append(list(messages))
        self.hold.wait(timeout=10)
        yield from ANSWER

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)


class FakeSpeaker:
    """0.2 s of a quiet tone per word, at Piper's usual rate."""

    name = "fake-voice"
    sample_rate_hz = 22_050

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[AudioChunk]:
        n = int(0.2 * self.sample_rate_hz) * max(1, len(text.split()))
        yield AudioChunk((0.001 * np.sin(np.arange(n) / 7.0)).astype(np.float32), self.sample_rate_hz)


class FakeEngines:
    def __init__(self) -> None:
        from voicecli.config import resolve

        self.settings = resolve({}, env={}, file=Path("/nonexistent/config.toml")).settings
        self.transcriber = FakeTranscriber()
        self.chat = FakeChat()
        self.speaker = FakeSpeaker()

    def new_vad(self) -> FakeVad:
        return FakeVad()


# --- harness ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    """A handler bug must fail the test, not hang it (TestClient reads have no timeout)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError("no event from the realtime session within 20 s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


class Session:
    """One realtime WebSocket: send events, read server events in order."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.created: dict[str, Any] = {}
        self._probes = 0

    def send(self, event: dict[str, Any]) -> None:
        self.ws.send_text(json.dumps(event))

    def recv(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.ws.receive_text())
        return event

    def until(self, kind: str) -> list[dict[str, Any]]:
        """Events up to and including the first of type ``kind``."""
        out = []
        while True:
            event = self.recv()
            out.append(event)
            if event["type"] == kind:
                return out

    def drain(self) -> list[dict[str, Any]]:
        """Every event the session sends before it answers a probe sent now (it handles events
        in order, so everything sent earlier has been handled)."""
        self._probes += 1
        probe = f"probe-{self._probes}"
        self.send({"type": "conversation.item.retrieve", "item_id": "none", "event_id": probe})
        out: list[dict[str, Any]] = []
        while True:
            event = self.recv()
            if event["type"] == "error" and event["error"]["event_id"] == probe:
                return out
            out.append(event)

    def error_for(self, event: dict[str, Any] | str | bytes, alone: bool = True) -> dict[str, Any]:
        """Send one event; it must cause exactly one error event (and nothing else if ``alone``,
        i.e. no pipeline work is running meanwhile): return the error's body."""
        if isinstance(event, bytes):
            self.ws.send_bytes(event)
        elif isinstance(event, str):
            self.ws.send_text(event)
        else:
            self.send(event)
        events = self.drain()
        errors = [e for e in events if e["type"] == "error"]
        assert len(errors) == 1 and (not alone or len(events) == 1), events
        assert errors[0]["event_id"].startswith("event_")
        body: dict[str, Any] = errors[0]["error"]
        return body

    def update(self, **session: Any) -> dict[str, Any]:
        self.send({"type": "session.update", "session": {"type": "realtime", **session}})
        updated = self.until("session.updated")[-1]
        return dict(updated["session"])


def error(message: str, param: str | None, code: str, event_id: str | None = None) -> dict[str, Any]:
    return {"type": "invalid_request_error", "code": code, "message": message, "param": param, "event_id": event_id}


@pytest.fixture()
def engines() -> FakeEngines:
    return FakeEngines()


def open_session(engines: FakeEngines, limits: Limits | None = None,
                 headers: dict[str, str] | None = None) -> Iterator[Session]:
    app = create_app(engines, ServerConfig(limits=limits or Limits()))
    with TestClient(app) as client, client.websocket_connect("ws://localhost/v1/realtime", headers=headers or {}) as ws:
        session = Session(ws)
        created = session.recv()
        assert created["type"] == "session.created"
        session.created = created
        yield session
        # Leave as a client does, and let the session wind down before the test client stops it.
        ws.close(1000)
        while ws.receive()["type"] != "websocket.close":
            pass


@pytest.fixture()
def rt(engines: FakeEngines) -> Iterator[Session]:
    yield from open_session(engines)


def pcm16_b64(samples: np.ndarray) -> str:
    return base64.b64encode((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()).decode("ascii")


def tone(seconds: float, level: float = 0.3) -> np.ndarray:
    n = int(seconds * WIRE_RATE_HZ)
    return (level * np.sin(2 * np.pi * 220 * np.arange(n) / WIRE_RATE_HZ)).astype(np.float32)


def user_text(text: str) -> dict[str, Any]:
    return {"type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}


# --- malformed events ---------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["{", "", "[" * 5000 + "]" * 5000, b"\xff\xfe binary garbage"])
def test_invalid_json_gets_invalid_json(rt: Session, raw: str | bytes) -> None:
    err = rt.error_for(raw)
    assert err["message"].startswith("invalid JSON: ")
    assert {**err, "message": "-"} == error("-", None, "invalid_json")


@pytest.mark.parametrize("raw", ["[]", "42", "null", '"type"'])
def test_json_that_is_not_an_object_gets_invalid_event(rt: Session, raw: str) -> None:
    assert rt.error_for(raw) == error("an event must be a JSON object", None, "invalid_event")


@pytest.mark.parametrize("raw", ['{"no_type": 1}', '{"type": 5}', '{"type": null, "event_id": "ev1"}'])
def test_event_without_a_type_string(rt: Session, raw: str) -> None:
    event_id = "ev1" if "ev1" in raw else None
    assert rt.error_for(raw) == error("the event has no 'type' string", "type", "invalid_event", event_id)


def test_unknown_event_type_names_the_type_and_echoes_the_event_id(rt: Session) -> None:
    err = rt.error_for({"type": "conversation.frobnicate", "event_id": "client-7"})
    assert err == error("unknown event type 'conversation.frobnicate'", "type", "unknown_event_type", "client-7")


def test_message_over_the_size_limit_is_refused(engines: FakeEngines) -> None:
    for rt in open_session(engines, Limits(max_ws_message_bytes=1000)):
        err = rt.error_for({"type": "input_audio_buffer.append", "audio": "A" * 2000})
        assert err == error("event is larger than 1000 bytes", None, "message_too_large")


# --- input audio buffer -----------------------------------------------------------------------
def test_append_with_bad_base64(rt: Session) -> None:
    err = rt.error_for({"type": "input_audio_buffer.append", "audio": "!!!not base64!!!", "event_id": "a1"})
    assert err == error("'audio' is not valid base64", "audio", "invalid_base64", "a1")


@pytest.mark.parametrize("audio", [None, 5, ["AAAA"]])
def test_append_without_a_base64_string(rt: Session, audio: Any) -> None:
    event: dict[str, Any] = {"type": "input_audio_buffer.append"}
    if audio is not None:
        event["audio"] = audio
    assert rt.error_for(event) == error("'audio' must be a base64 string", "audio", "invalid_type")


@pytest.mark.parametrize("seconds", [0.0, 0.05])
def test_commit_of_an_empty_or_too_short_buffer(rt: Session, seconds: float) -> None:
    rt.update(audio={"input": {"turn_detection": None}})
    if seconds:
        rt.send({"type": "input_audio_buffer.append", "audio": pcm16_b64(tone(seconds))})
    err = rt.error_for({"type": "input_audio_buffer.commit"})
    assert err == error("buffer too small: commit needs at least 100 ms of audio", None,
                        "input_audio_buffer_commit_empty")


def test_manual_buffer_beyond_its_limit_is_full_until_cleared(engines: FakeEngines) -> None:
    for rt in open_session(engines, Limits(max_buffered_audio_s=1.0)):
        rt.update(audio={"input": {"turn_detection": None}})
        rt.send({"type": "input_audio_buffer.append", "audio": pcm16_b64(tone(0.8))})
        err = rt.error_for({"type": "input_audio_buffer.append", "audio": pcm16_b64(tone(0.8))})
        assert err == error("input audio buffer is full (1 s); commit or clear it", "audio", "input_audio_buffer_full")
        rt.send({"type": "input_audio_buffer.clear"})
        assert [e["type"] for e in rt.drain()] == ["input_audio_buffer.cleared"]
        rt.send({"type": "input_audio_buffer.append", "audio": pcm16_b64(tone(0.8))})
        assert rt.drain() == []


def test_clear_of_an_empty_buffer_still_replies_cleared(rt: Session) -> None:
    rt.send({"type": "input_audio_buffer.clear"})
    assert [e["type"] for e in rt.drain()] == ["input_audio_buffer.cleared"]


# --- oversized and invalid fields ---------------------------------------------------------------
def test_session_instructions_over_the_cap(rt: Session) -> None:
    err = rt.error_for({"type": "session.update", "session": {"instructions": "x" * 32_001}})
    assert err == error("'session.instructions' is too long (32000 characters at most)", "session.instructions",
                        "invalid_value")


def test_response_instructions_length_capped_like_session_instructions(rt: Session) -> None:
    """Drift: ``session.instructions`` was capped at 32000 characters, ``response.instructions``
    (the same system prompt, for one response) was not."""
    rt.update(output_modalities=["text"])
    err = rt.error_for({"type": "response.create", "response": {"instructions": "x" * 32_001}})
    assert err == error("'response.instructions' is too long (32000 characters at most)", "response.instructions",
                        "invalid_value")
    assert rt.update(instructions="x" * 32_000)["instructions"] == "x" * 32_000  # the cap itself is allowed
    rt.send({"type": "response.create", "response": {"instructions": "x" * 32_000}})
    assert rt.until("response.done")[-1]["response"]["status"] == "completed"


def test_text_item_over_the_limit(rt: Session) -> None:
    err = rt.error_for(user_text("x" * 5000))
    assert err == error("text is longer than 4096 characters", "item.content", "string_above_max_length")


def test_item_id_too_long_or_reused(rt: Session) -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    err = rt.error_for({"type": "conversation.item.create", "item": {**item, "id": "i" * 65}})
    assert err == error("'item.id' must be new and at most 64 characters", "item.id", "invalid_value")
    rt.send({"type": "conversation.item.create", "item": {**item, "id": "mine"}})
    assert [e["type"] for e in rt.drain()] == ["conversation.item.added", "conversation.item.done"]
    err = rt.error_for({"type": "conversation.item.create", "item": {**item, "id": "mine"}})
    assert err == error("'item.id' must be new and at most 64 characters", "item.id", "invalid_value")


@pytest.mark.parametrize(("item", "expected"), [
    ("hi", error("'item' must be an object", "item", "invalid_type")),
    ({"type": "message", "role": "user", "content": "hi"},
     error("'item.content' must be a non-empty array", "item.content", "invalid_type")),
    ({"type": "message", "role": "robot", "content": [{"type": "input_text", "text": "x"}]},
     error("'item.role' must be 'user', 'system' or 'assistant'", "item.role", "invalid_value")),
    ({"type": "message", "role": "assistant", "content": [{"type": "text", "text": "x"}]},
     error("assistant items cannot be created; the assistant's replies come from responses", "item.role",
           "unsupported_item")),
    ({"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "%%%"}]},
     error("'audio' is not valid base64", "item.content.audio", "invalid_base64")),
    ({"type": "message", "role": "user", "content": [{"type": "input_image"}]},
     error("'item.content[0].type' 'input_image' is not supported here (use input_text or input_audio)",
           "item.content[0].type", "invalid_value")),
    ({"type": "function_call"}, error("item type 'function_call' is not supported (use 'message' or 'function_call_output')", "item.type",
                                      "invalid_value")),
])
def test_invalid_items(rt: Session, item: Any, expected: dict[str, Any]) -> None:
    assert rt.error_for({"type": "conversation.item.create", "item": item}) == expected


def test_item_after_an_unknown_previous_item(rt: Session) -> None:
    err = rt.error_for({**user_text("x"), "previous_item_id": "nope"})
    assert err == error("previous item 'nope' does not exist", "previous_item_id", "item_not_found")


@pytest.mark.parametrize(("session", "expected"), [
    ("now", error("'session' must be an object", "session", "invalid_type")),
    ({"audio": {"input": {"format": {"type": "audio/opus"}}}},
     error("'session.audio.input.format.type' must be 'audio/pcm', 'audio/pcmu' or 'audio/pcma', not 'audio/opus'",
           "session.audio.input.format.type", "unsupported_audio_format")),
    ({"audio": {"output": {"format": {"type": "audio/pcmu", "rate": 24000}}}},
     error("'session.audio.output.format.rate': audio/pcmu is 8000 Hz", "session.audio.output.format.rate",
           "unsupported_audio_format")),
    ({"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": "high"}}}},
     error("'session.audio.input.turn_detection.threshold' has the wrong type: expected integer or number",
           "session.audio.input.turn_detection.threshold", "invalid_type")),
    ({"output_modalities": ["audio", "smell"]},
     error("'session.output_modalities' may contain only 'audio' and 'text'", "session.output_modalities",
           "invalid_value")),
])
def test_invalid_session_updates(rt: Session, session: Any, expected: dict[str, Any]) -> None:
    assert rt.error_for({"type": "session.update", "session": session}) == expected


def test_unknown_voice(rt: Session) -> None:
    err = rt.error_for({"type": "session.update", "session": {"audio": {"output": {"voice": "nobody"}}}})
    assert err["message"].startswith("unknown voice 'nobody'; use one of: alloy, ash, ")
    assert {**err, "message": "-"} == error("-", "session.voice", "invalid_voice")


@pytest.mark.parametrize(("response", "expected"), [
    ("now", error("'response' must be an object", "response", "invalid_type")),
    ({"max_output_tokens": -1},
     error("'response.max_output_tokens' must be an integer from 1 to 4096 or 'inf'", "response.max_output_tokens",
           "invalid_value")),
    ({"conversation": "other"},
     error("'response.conversation' must be 'auto' or 'none'", "response.conversation", "invalid_value")),
    ({"instructions": 5}, error("'response.instructions' has the wrong type: expected string",
                                "response.instructions", "invalid_type")),
])
def test_invalid_response_create(rt: Session, response: Any, expected: dict[str, Any]) -> None:
    assert rt.error_for({"type": "response.create", "response": response}) == expected


# --- items and responses that do not exist ------------------------------------------------------
def test_truncate_of_an_unknown_item(rt: Session) -> None:
    err = rt.error_for({"type": "conversation.item.truncate", "item_id": "nope", "content_index": 0,
                        "audio_end_ms": 0})
    assert err == error("no assistant audio item 'nope'", "item_id", "item_not_found")
    err = rt.error_for({"type": "conversation.item.truncate", "item_id": 7, "audio_end_ms": 0})
    assert err == error("'item_id' must be a string", "item_id", "invalid_type")


def test_truncate_of_a_user_item_is_not_found(rt: Session) -> None:
    rt.send({**user_text("hello"), "item": {**user_text("hello")["item"], "id": "u1"}})
    rt.drain()
    err = rt.error_for({"type": "conversation.item.truncate", "item_id": "u1", "content_index": 0, "audio_end_ms": 0})
    assert err == error("no assistant audio item 'u1'", "item_id", "item_not_found")


@pytest.mark.parametrize("kind", ["conversation.item.retrieve", "conversation.item.delete"])
def test_retrieve_or_delete_of_an_unknown_item(rt: Session, kind: str) -> None:
    assert rt.error_for({"type": kind, "item_id": "ghost"}) == error("no item 'ghost'", "item_id", "item_not_found")


def test_response_cancel_with_nothing_running(rt: Session) -> None:
    assert rt.error_for({"type": "response.cancel"}) == error("there is no active response to cancel", None,
                                                                "response_cancel_not_active")
    err = rt.error_for({"type": "response.cancel", "response_id": {"x": 1}})
    assert err == error("there is no active response to cancel", None, "response_cancel_not_active")


def test_output_audio_buffer_clear_is_ignored(rt: Session) -> None:
    rt.send({"type": "output_audio_buffer.clear"})
    assert rt.drain() == []


# --- the lifecycle on fake engines (what the error paths must not break) ------------------------
def test_text_item_then_text_response(rt: Session) -> None:
    rt.update(output_modalities=["text"])
    rt.send(user_text("What is two plus two?"))
    added = rt.until("conversation.item.done")
    assert added[-1]["item"]["content"] == [{"type": "input_text", "text": "What is two plus two?"}]
    rt.send({"type": "response.create"})
    evs = rt.until("response.done")
    types = [e["type"] for e in evs]
    assert types == ["response.created", "response.output_item.added", "conversation.item.added",
                     "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
                     "response.output_text.done", "response.content_part.done",
                     "response.output_item.done", "conversation.item.done", "response.done"]
    done = evs[-1]["response"]
    assert done["status"] == "completed" and done["output_modalities"] == ["text"]
    assert done["output"][0]["content"] == [{"type": "output_text", "text": "".join(ANSWER)}]
    assert done["usage"]["output_tokens"] == len("".join(ANSWER)) // 4
    assert rt.drain() == []


def test_response_while_one_is_running_then_cancel(rt: Session, engines: FakeEngines) -> None:
    engines.chat.hold.clear()
    rt.send(user_text("Tell me a long story."))
    rt.send({"type": "response.create"})
    created = rt.until("response.created")[-1]["response"]
    rid = created["id"]
    started = [e["type"] for e in rt.drain()]
    assert started == ["response.output_item.added", "conversation.item.added", "response.content_part.added"]
    err = rt.error_for({"type": "response.create"})
    assert err == error(f"conversation already has an active response ({rid})", None,
                        "conversation_already_has_active_response")
    err = rt.error_for({"type": "response.cancel", "response_id": "resp_other"})
    assert err == error("response 'resp_other' is not the active response", "response_id", "response_not_found")
    rt.send({"type": "response.cancel", "response_id": rid})
    done = rt.until("response.done")[-1]["response"]
    engines.chat.hold.set()
    assert done["id"] == rid and done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert rt.error_for({"type": "response.cancel"}, alone=False)["code"] == "response_cancel_not_active"


def test_manual_commit_transcribes_then_spoken_response_and_truncate(rt: Session) -> None:
    rt.update(audio={"input": {"turn_detection": None}})
    rt.send({"type": "input_audio_buffer.append", "audio": pcm16_b64(tone(0.5))})
    rt.send({"type": "input_audio_buffer.commit"})
    rt.send({"type": "response.create"})
    evs = rt.until("response.done")
    types = [e["type"] for e in evs]
    assert types[:3] == ["input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
    transcribed = next(e for e in evs if e["type"] == "conversation.item.input_audio_transcription.completed")
    assert transcribed["transcript"] == HEARD and transcribed["item_id"] == evs[0]["item_id"]
    assert transcribed["usage"] == {"type": "duration", "seconds": 1}
    done = evs[-1]["response"]
    assert done["status"] == "completed" and done["output_modalities"] == ["audio"]
    content = done["output"][0]["content"][0]
    assert content["type"] == "output_audio" and content["transcript"].split() == "Two plus two is four.".split()
    audio = b"".join(base64.b64decode(e["delta"]) for e in evs if e["type"] == "response.output_audio.delta")
    total_ms = len(audio) // 2 * 1000 // WIRE_RATE_HZ
    assert total_ms > 500
    assert rt.drain() == []  # no voicecli.turn.latency unless the client asks for it
    item_id = done["output"][0]["id"]
    err = rt.error_for({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                        "audio_end_ms": total_ms + 10})
    assert err["param"] == "audio_end_ms" and err["code"] == "invalid_value"
    rt.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 1})
    truncated = rt.until("conversation.item.truncated")[-1]
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 1)
    rt.send({"type": "conversation.item.retrieve", "item_id": item_id})
    item = rt.until("conversation.item.retrieved")[-1]["item"]
    assert item["content"][0]["transcript"] == ""


def test_vad_turn_answers_by_itself(rt: Session) -> None:
    rt.update(audio={"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 200}}})
    audio = np.concatenate([np.zeros(WIRE_RATE_HZ // 2, np.float32), tone(0.8), np.zeros(WIRE_RATE_HZ, np.float32)])
    rt.send({"type": "input_audio_buffer.append", "audio": pcm16_b64(audio)})
    evs = rt.until("response.done")
    types = [e["type"] for e in evs if not e["type"].startswith("response.output_audio")]
    assert types[:4] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                         "input_audio_buffer.committed", "conversation.item.added"]
    assert evs[0]["item_id"] == evs[1]["item_id"] == evs[2]["item_id"]
    assert "conversation.item.input_audio_transcription.completed" in types
    assert evs[-1]["response"]["status"] == "completed"


def test_beta_dialect_names(engines: FakeEngines) -> None:
    for rt in open_session(engines, headers={"OpenAI-Beta": "realtime=v1"}):
        assert rt.created["session"]["input_audio_format"] == "pcm16"
        rt.send({"type": "session.update", "session": {"modalities": ["text"]}})
        rt.until("session.updated")
        rt.send(user_text("Hi"))
        assert [e["type"] for e in rt.drain()] == ["conversation.item.created"]
        rt.send({"type": "response.create"})
        evs = rt.until("response.done")
        assert "response.text.delta" in [e["type"] for e in evs]
        assert evs[-1]["response"]["output"][0]["content"][0]["type"] == "text"
        assert evs[-1]["response"]["modalities"] == ["text"]


def test_the_session_survives_every_error(rt: Session) -> None:
    for raw in ["{", "[]", '{"type": "nope"}', '{"type": "input_audio_buffer.append", "audio": "%"}']:
        rt.error_for(raw)
    assert rt.update(instructions="Be brief.")["instructions"] == "Be brief."


def test_tool_output_and_system_items_reach_the_llm(rt: Session, engines: FakeEngines) -> None:
    rt.update(output_modalities=["text"])
    rt.send({"type": "conversation.item.create",
             "item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be terse."}]}})
    rt.send({"type": "conversation.item.create",
             "item": {"type": "function_call_output", "id": "out1", "call_id": "c1", "output": "42"}})
    assert [e["type"] for e in rt.drain()] == ["conversation.item.added", "conversation.item.done"] * 2
    rt.send({"type": "conversation.item.retrieve", "item_id": "out1"})
    item = rt.until("conversation.item.retrieved")[-1]["item"]
    assert item == {"id": "out1", "object": "realtime.item", "type": "function_call_output", "status": "completed",
                    "call_id": "c1", "output": "42"}
    rt.send({"type": "response.create", "response": {"instructions": "Answer in French."}})
    assert rt.until("response.done")[-1]["response"]["status"] == "completed"
    system, *_, user = engines.chat.calls[-1]
    assert system == ChatMessage("system", "Answer in French.\n\nBe terse.")
    assert user == ChatMessage("user", "(tool result) 42")


def test_deleted_user_text_is_not_sent_with_the_next_response(rt: Session, engines: FakeEngines) -> None:
    rt.update(output_modalities=["text"])
    rt.send({"type": "conversation.item.create",
             "item": {"type": "message", "id": "gone", "role": "user",
                      "content": [{"type": "input_text", "text": "Forget this."}]}})
    added = rt.until("conversation.item.done")
    rt.send({"type": "conversation.item.delete", "item_id": "gone"})
    assert [e["type"] for e in rt.drain()] == ["conversation.item.deleted"]
    assert added[0]["previous_item_id"] is None
    assert rt.error_for({"type": "conversation.item.retrieve", "item_id": "gone"})["code"] == "item_not_found"
    rt.send({"type": "response.create"})
    rt.until("response.done")
    assert engines.chat.calls[-1][-1] == ChatMessage("user", "Continue.")


def test_audio_item_is_transcribed_into_the_item(rt: Session) -> None:
    rt.update(audio={"input": {"turn_detection": None}})
    rt.send({"type": "conversation.item.create",
             "item": {"type": "message", "id": "spoken", "role": "user",
                      "content": [{"type": "input_audio", "audio": pcm16_b64(tone(0.6))}]}})
    evs = rt.until("conversation.item.input_audio_transcription.completed")
    assert evs[0]["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    assert evs[-1]["item_id"] == "spoken" and evs[-1]["transcript"] == HEARD
    rt.send({"type": "conversation.item.retrieve", "item_id": "spoken"})
    item = rt.until("conversation.item.retrieved")[-1]["item"]
    assert item["content"] == [{"type": "input_audio", "transcript": HEARD}] and item["role"] == "user"


def test_commit_while_a_response_runs_waits_for_it(rt: Session, engines: FakeEngines) -> None:
    rt.update(output_modalities=["text"], audio={"input": {"turn_detection": None}})
    engines.chat.hold.clear()
    rt.send(user_text("Tell me a story."))
    rt.send({"type": "response.create"})
    rt.until("response.created")
    rt.send({"type": "input_audio_buffer.append", "audio": pcm16_b64(tone(0.5))})
    rt.send({"type": "input_audio_buffer.commit"})
    committed = rt.until("input_audio_buffer.committed")[-1]
    engines.chat.hold.set()
    evs = rt.until("conversation.item.input_audio_transcription.completed")
    types = [e["type"] for e in evs]
    assert types.index("response.done") < len(types) - 1
    assert evs[-1]["item_id"] == committed["item_id"]


def test_speech_over_a_reply_cancels_it_as_turn_detected(rt: Session, engines: FakeEngines) -> None:
    rt.update(output_modalities=["text"], audio={"input": {"turn_detection": {"type": "server_vad"}}})
    engines.chat.hold.clear()
    rt.send(user_text("Tell me a story."))
    rt.send({"type": "response.create"})
    first = rt.until("response.created")[-1]["response"]["id"]
    rt.send({"type": "input_audio_buffer.append", "audio": pcm16_b64(tone(1.0))})
    evs = rt.until("response.done")
    engines.chat.hold.set()
    assert "input_audio_buffer.speech_started" in [e["type"] for e in evs]
    done = evs[-1]["response"]
    assert done["id"] == first and done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
