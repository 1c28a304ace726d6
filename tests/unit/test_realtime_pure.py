"""The pure parts of the realtime server as tables: session config → Conversation options, and
milliseconds of a spoken reply played → the words heard."""

from __future__ import annotations

from dataclasses import replace

import pytest

from voicecli.pipeline.conversation import ConversationOptions
from voicecli.server.realtime.options import NO_BARGE_IN_MS, conversation_options
from voicecli.server.realtime.parsing import parse_turn_detection
from voicecli.server.realtime.protocol import (
    ClientEventError,
    InputTranscription,
    ResponseParams,
    SessionConfig,
    TurnDetection,
)
from voicecli.server.realtime.responses import SpokenReply
from voicecli.vad.turn import SemanticTurnParams, params_for_eagerness

BASE = ConversationOptions(system_prompt="base prompt")
CAP = 1024


def test_defaults_answer_by_themselves_and_allow_barge_in() -> None:
    o = conversation_options(BASE, SessionConfig(instructions="Be brief."), CAP)
    assert o.auto_respond and o.barge_in_ms == BASE.barge_in_ms
    assert o.system_prompt == "Be brief."
    assert o.endpointer.preroll_ms == 300 and o.endpointer.end_silence_ms == 500


@pytest.mark.parametrize(("td", "auto_respond", "barge_in_ms"), [
    (None, False, NO_BARGE_IN_MS),
    (TurnDetection(create_response=False), False, BASE.barge_in_ms),
    (TurnDetection(interrupt_response=False), True, NO_BARGE_IN_MS),
    (TurnDetection(type="semantic_vad"), True, BASE.barge_in_ms),
])
def test_turn_detection_switches(td: TurnDetection | None, auto_respond: bool, barge_in_ms: int) -> None:
    o = conversation_options(BASE, SessionConfig(turn_detection=td), CAP)
    assert (o.auto_respond, o.barge_in_ms) == (auto_respond, barge_in_ms)
    if td is None or td.type == "semantic_vad":
        assert o.endpointer == BASE.endpointer


@pytest.mark.parametrize(("eagerness", "fallback_ms"), [("high", 2000), ("medium", 4000), ("auto", 4000),
                                                      (None, 4000), ("low", 8000)])
def test_semantic_vad_uses_the_turn_detector_at_its_eagerness(eagerness: str | None, fallback_ms: int) -> None:
    td = TurnDetection(type="semantic_vad", eagerness=eagerness)
    o = conversation_options(BASE, SessionConfig(turn_detection=td), CAP)
    assert o.semantic_turn == params_for_eagerness(eagerness)
    assert o.semantic_turn is not None and o.semantic_turn.max_silence_ms == fallback_ms


def test_server_vad_and_manual_turns_end_after_silence_alone() -> None:
    """Even when the server's own settings use the turn detector (talk's default)."""
    base = replace(BASE, semantic_turn=SemanticTurnParams())
    for td in (TurnDetection(), None):
        assert conversation_options(base, SessionConfig(turn_detection=td), CAP).semantic_turn is None


def test_switching_type_resets_the_eagerness_and_the_echo_shows_it() -> None:
    high = parse_turn_detection({"type": "semantic_vad", "eagerness": "high"}, None, "turn_detection")
    assert high.to_wire()["eagerness"] == "high" and "silence_duration_ms" not in high.to_wire()
    server = parse_turn_detection({"type": "server_vad"}, high, "turn_detection")
    assert "eagerness" not in server.to_wire() and server.silence_duration_ms == 500
    assert parse_turn_detection({"type": "semantic_vad"}, server, "turn_detection").to_wire()["eagerness"] == "auto"
    assert parse_turn_detection({"eagerness": "low"}, high, "turn_detection").to_wire()["eagerness"] == "low"


@pytest.mark.parametrize(("threshold", "silence_ms", "want_threshold", "want_release", "want_silence_ms"), [
    (0.5, 500, 0.5, 0.15, 500),
    (0.0, 0, 0.05, 0.0, 96),
    (1.0, 10_000, 0.98, 0.15, 10_000),
    (0.2, 200, 0.2, 0.1, 200),
])
def test_server_vad_maps_onto_the_endpointer(threshold: float, silence_ms: int, want_threshold: float,
                                             want_release: float, want_silence_ms: int) -> None:
    td = TurnDetection(threshold=threshold, silence_duration_ms=silence_ms, prefix_padding_ms=100)
    p = conversation_options(BASE, SessionConfig(turn_detection=td), CAP).endpointer
    assert (p.threshold, p.release, p.end_silence_ms, p.preroll_ms) == (want_threshold, want_release,
                                                                        want_silence_ms, 100)


@pytest.mark.parametrize(("session_max", "response_max", "want"), [
    (None, None, BASE.generation.max_tokens),
    (50, None, 50),
    (50, 20, 20),
    (4096, None, CAP),
    (None, 4096, CAP),
])
def test_reply_length(session_max: int | None, response_max: int | None, want: int) -> None:
    params = ResponseParams(max_output_tokens=response_max)
    o = conversation_options(BASE, SessionConfig(max_output_tokens=session_max), CAP, params=params)
    assert o.generation.max_tokens == want


def test_transcription_language_and_prompt_and_extra_system() -> None:
    cfg = SessionConfig(instructions="A.", speed=1.25, transcription=InputTranscription(language="de", prompt="Namen"))
    o = conversation_options(replace(BASE, stt=replace(BASE.stt, language="en")), cfg, CAP, ["B.", ""])
    assert (o.stt.language, o.stt.initial_prompt) == ("de", "Namen")
    assert o.system_prompt == "A.\n\nB." and o.speed == 1.25
    o = conversation_options(BASE, replace(cfg, transcription=InputTranscription()), CAP)
    assert (o.stt.language, o.stt.initial_prompt) == (BASE.stt.language, None)


REPLY = SpokenReply(turn=3, pieces=("One two three four.", "Five six."), piece_samples=(24_000, 12_000))


@pytest.mark.parametrize(("end_ms", "heard"), [
    (0, ""),
    (86, ""),  # a word counts once its middle has played; words share a piece by their letters
    (87, "One"),
    (260, "One"),
    (261, "One two"),
    (479, "One two three"),
    (804, "One two three"),
    (805, "One two three four."),
    (1096, "One two three four."),
    (1097, "One two three four. Five"),
    (1347, "One two three four. Five six."),
    (1500, "One two three four. Five six."),
])
def test_heard_until(end_ms: int, heard: str) -> None:
    assert REPLY.heard_until(end_ms) == heard


def test_heard_until_beyond_the_audio_names_the_field() -> None:
    with pytest.raises(ClientEventError) as exc:
        REPLY.heard_until(1501)
    assert (exc.value.param, exc.value.code) == ("audio_end_ms", "invalid_value")
    assert exc.value.message == "audio_end_ms 1501 is beyond the item's audio (1500 ms)"
