"""Realtime function calling with real models, through the official ``openai`` SDK
(``client.realtime.connect``): a spoken question (Piper's voice, sent as microphone audio) with a
session tool and ``tool_choice: required`` makes the bundled SmolLM2 call the function with
arguments that validate against its schema (a grammar-constrained forced call); the client's
``function_call_output`` and ``response.create`` then get a spoken answer whose transcription
holds the tool's result."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tests.e2e.serve.conftest import API_KEY, server_env, start_server, stop_server
from tests.e2e.serve.rt_client import RATE, b64_to_float, pcm16_b64, until
from tests.e2e.serve.test_serve_tools import schema_errors
from voicecli.bench.wer import normalize_text

pytestmark = [pytest.mark.models, pytest.mark.slow]

QUESTION = "What is the weather like in Oslo today?"
WEATHER = {"type": "function", "name": "get_weather", "description": "Get the current weather in a city",
           "parameters": {"type": "object", "additionalProperties": False, "required": ["city"],
                          "properties": {"city": {"type": "string", "description": "The city name", "maxLength": 40}}}}
RESULT = {"temperature_c": 17, "city": "Oslo"}


@pytest.fixture(scope="module")
def spoken_question(settings) -> np.ndarray:
    """The question in the bundled Piper voice, at the wire rate."""
    from voicecli.audio.resample import resample
    from voicecli.engines import load_speaker

    speaker = load_speaker(settings)
    audio = np.concatenate([c.samples for c in speaker.synthesize(QUESTION)])
    return resample(audio, speaker.sample_rate_hz, RATE)


@pytest.fixture(scope="module")
def greedy_server(tmp_path_factory):
    """A server whose LLM samples greedily: SmolLM2-135M at the default temperature sometimes
    answers "The weather in Oslo is quite pleasant." and leaves the result out (seen in CI);
    greedy decoding makes what it says from the result reproducible."""
    tmp = tmp_path_factory.mktemp("serve-greedy")
    s = start_server(tmp, "--api-key", API_KEY, env=server_env(tmp, VOICECLI_LLM_TEMPERATURE="0"))
    yield s
    stop_server(s)
    assert "Traceback" not in s.log_text(), s.log_text()[-4000:]


def test_spoken_question_forced_call_then_spoken_result(greedy_server, spoken_question, transcribe):
    with greedy_server.client().realtime.connect(model="voicecli") as conn:
        conn.session.update(session={"type": "realtime", "tools": [WEATHER], "tool_choice": "required",
                                     "audio": {"input": {"turn_detection": {"type": "server_vad"},
                                                         "transcription": {"model": "whisper-1"}}}})
        until(conn, "session.updated")
        speech = np.concatenate([spoken_question, np.zeros(int(1.2 * RATE), np.float32)])
        for i in range(0, len(speech), RATE // 25):
            conn.input_audio_buffer.append(audio=pcm16_b64(speech[i:i + RATE // 25]))
        t0 = time.monotonic()
        evs = until(conn, "response.done")
        call_s = time.monotonic() - t0
        heard = next(e.transcript for e in evs if e.type == "conversation.item.input_audio_transcription.completed")
        assert "oslo" in heard.lower(), heard
        done = next(e for e in evs if e.type == "response.function_call_arguments.done")
        arguments = json.loads(done.arguments)
        assert done.name == "get_weather" and schema_errors(arguments, WEATHER["parameters"]) == [], done.arguments
        deltas = "".join(e.delta for e in evs if e.type == "response.function_call_arguments.delta")
        assert deltas == done.arguments
        response = evs[-1].response
        assert response.status == "completed"
        (item,) = response.output
        assert (item.type, item.call_id, item.name, item.arguments) == ("function_call", done.call_id,
                                                                         "get_weather", done.arguments)
        order = [e.type for e in evs if e.type.startswith(("response.output_item", "response.function_call"))]
        assert order == ["response.output_item.added", "response.function_call_arguments.delta",
                         "response.function_call_arguments.done", "response.output_item.done"]

        conn.conversation.item.create(item={"type": "function_call_output", "call_id": done.call_id,
                                            "output": json.dumps(RESULT)})
        until(conn, "conversation.item.done")
        t0 = time.monotonic()
        conn.response.create()
        evs = until(conn, "response.done")
        answer_s = time.monotonic() - t0
        assert evs[-1].response.status == "completed"
        audio = np.concatenate([b64_to_float(e.delta) for e in evs if e.type == "response.output_audio.delta"])
        said = "".join(e.delta for e in evs if e.type == "response.output_audio_transcript.delta")
    words = normalize_text(transcribe(audio, RATE)).split()
    print(f"call {call_s:.1f} s after the audio was sent, spoken answer {answer_s:.1f} s after response.create; "
          f"model said: {said!r}; heard back: {' '.join(words)!r}")
    assert "seventeen" in words, (said, words)
