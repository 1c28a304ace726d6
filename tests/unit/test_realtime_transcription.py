"""Transcription sessions through the WebSocket handler on fake engines (the harness of
test_realtime_handler.py): ``?intent=transcription``, GA ``session.type: "transcription"`` and beta
``transcription_session.update`` all transcribe VAD-committed speech into items (delta, then
completed) and never create a response; the session's language and prompt reach the STT; a long
session keeps at most ``max_items`` items."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from tests.unit.test_realtime_handler import (
    HEARD,
    WIRE_RATE_HZ,
    FakeEngines,
    FakeTranscriber,
    Session,
    open_session,
    pcm16_b64,
    tone,
)
from voicecli.server.app import create_app
from voicecli.server.config import Limits, ServerConfig
from voicecli.stt.types import TranscribeOptions, Transcription

VAD = {"type": "server_vad", "silence_duration_ms": 200}


class RecordingTranscriber(FakeTranscriber):
    def __init__(self) -> None:
        self.options: list[TranscribeOptions] = []

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions) -> Transcription:
        self.options.append(options)
        return super().transcribe(audio, options)


@pytest.fixture()
def engines() -> FakeEngines:
    e = FakeEngines()
    e.transcriber = RecordingTranscriber()
    return e


@pytest.fixture()
def rt(engines: FakeEngines) -> Iterator[Session]:
    yield from open_session(engines)


def connect(engines: FakeEngines, query: str = "", headers: dict[str, str] | None = None,
            limits: Limits | None = None) -> Iterator[Session]:
    app = create_app(engines, ServerConfig(limits=limits or Limits()))
    with TestClient(app) as client, client.websocket_connect(f"ws://localhost/v1/realtime{query}",
                                                             headers=headers or {}) as ws:
        session = Session(ws)
        session.created = session.recv()
        yield session
        ws.close(1000)
        while ws.receive()["type"] != "websocket.close":
            pass


def utterance() -> str:
    silence = np.zeros(WIRE_RATE_HZ // 2, np.float32)
    return pcm16_b64(np.concatenate([silence, tone(0.8), silence, silence]))


def speak_and_collect(rt: Session) -> list[dict[str, Any]]:
    """One utterance; the events up to its completed transcript and everything sent before the
    session answers a later event (a response would have started by then)."""
    rt.send({"type": "input_audio_buffer.append", "audio": utterance()})
    events = rt.until("conversation.item.input_audio_transcription.completed")
    return events + rt.drain()


def check_transcribed_only(events: list[dict[str, Any]], engines: FakeEngines, added: str = "added") -> None:
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                         "input_audio_buffer.committed", f"conversation.item.{added}"], kinds
    delta = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.delta")
    done = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    assert delta["delta"] == done["transcript"] == HEARD
    assert delta["item_id"] == done["item_id"] == events[0]["item_id"]
    assert not [k for k in kinds if k.startswith("response.")], kinds
    assert engines.chat.calls == []


def test_intent_transcription_transcribes_and_never_responds(engines: FakeEngines) -> None:
    for rt in connect(engines, "?intent=transcription"):
        session = rt.created["session"]
        assert (rt.created["type"], session["type"], session["object"]) == (
            "session.created", "transcription", "realtime.transcription_session")
        assert session["audio"]["input"]["transcription"]["model"] == "whisper-1"
        rt.update(type="transcription", audio={"input": {"turn_detection": VAD, "transcription": {
            "model": "whisper-1", "language": "en", "prompt": "Quilter"}}})
        check_transcribed_only(speak_and_collect(rt), engines)
        assert (engines.transcriber.options[-1].language, engines.transcriber.options[-1].initial_prompt) == (
            "en", "Quilter")
        err = rt.error_for({"type": "response.create"})
        assert (err["code"], err["message"]) == ("invalid_session_type", "a transcription session creates no "
                                                 "responses (session.type is 'transcription')")


def test_ga_session_update_turns_a_session_into_a_transcription_session(rt: Session, engines: FakeEngines) -> None:
    session = rt.update(type="transcription", audio={"input": {"turn_detection": VAD}})
    assert session["type"] == "transcription" and session["audio"]["input"]["transcription"] is not None
    assert "output_modalities" not in session
    check_transcribed_only(speak_and_collect(rt), engines)


def test_beta_transcription_session_update(engines: FakeEngines) -> None:
    for rt in connect(engines, "?intent=transcription", headers={"OpenAI-Beta": "realtime=v1"}):
        rt.send({"type": "transcription_session.update", "session": {
            "input_audio_format": "pcm16", "turn_detection": VAD,
            "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "de"}}})
        updated = rt.until("transcription_session.updated")[-1]["session"]
        assert updated["object"] == "realtime.transcription_session"
        assert updated["input_audio_transcription"]["language"] == "de"
        check_transcribed_only(speak_and_collect(rt), engines, added="created")
        assert engines.transcriber.options[-1].language == "de"


def test_a_bad_session_type_is_refused(rt: Session) -> None:
    err = rt.error_for({"type": "session.update", "session": {"type": "translation"}})
    assert (err["param"], err["message"]) == ("session.type", "'session.type' must be 'realtime' or 'transcription'")


def test_a_long_transcription_session_keeps_its_newest_items(engines: FakeEngines) -> None:
    for rt in connect(engines, "?intent=transcription", limits=Limits(max_items=2)):
        rt.update(type="transcription", audio={"input": {"turn_detection": VAD}})
        ids = [speak_and_collect(rt)[0]["item_id"] for _ in range(3)]
        assert rt.error_for({"type": "conversation.item.retrieve", "item_id": ids[0]})["code"] == "item_not_found"
        for item_id in ids[1:]:
            rt.send({"type": "conversation.item.retrieve", "item_id": item_id})
            assert rt.until("conversation.item.retrieved")[-1]["item"]["content"][0]["transcript"] == HEARD
