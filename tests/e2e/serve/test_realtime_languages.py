"""Realtime sessions in the user's language (``voicecli serve --model base``, the official ``openai``
SDK): a German question (espeak-ng) in a session that names no voice is answered by the voice of
German (an installed voice whose config says ``de_DE``); ``audio.input.transcription.language``
forces the turn's language (``es``: the voice ``tts.language_voices`` maps it to); a session that
names a voice keeps it whatever the language. Language and voice are read from voicecli's own
``voicecli.turn.latency`` event (``?voicecli_latency=1``). Both voices are the joe voice under
other names."""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

import numpy as np
import pytest

from tests.e2e.serve.conftest import API_KEY, server_env, start_server, stop_server
from tests.e2e.serve.rt_client import RATE, load_wav_24k, pcm16_b64
from tests.e2e.serve.test_talk_languages import spoken, voice_under_another_name

pytestmark = [pytest.mark.models, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")]


def turn_in(server: Any, clip: np.ndarray, session: dict[str, Any], timeout_s: float = 240) -> dict[str, Any]:
    """One spoken turn in a new session configured with ``session``: its latency event."""
    with server.client().realtime.connect(extra_query={"voicecli_latency": "1"}) as conn:
        conn.session.update(session={"type": "realtime", **session, "audio": {
            **session.get("audio", {}),
            "input": {"format": {"type": "audio/pcm", "rate": RATE}, "turn_detection": {"type": "server_vad"},
                      **session.get("audio", {}).get("input", {})}}})
        speech = np.concatenate([clip, np.zeros(int(1.5 * RATE), np.float32)])
        for i in range(0, len(speech), RATE // 25):
            conn.input_audio_buffer.append(audio=pcm16_b64(speech[i:i + RATE // 25]))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            event = json.loads(conn.recv_bytes())
            assert event["type"] != "error", event
            if event["type"] == "voicecli.turn.latency":
                return event
    raise AssertionError(f"no turn within {timeout_s} s")


def test_realtime_voice_follows_the_language_unless_the_client_named_one(tmp_path, settings):
    models = tmp_path / "models"
    models.mkdir()
    voice_under_another_name(settings, models, "de_DE-test-medium", "de_DE")
    voice_under_another_name(settings, models, "joe-spanish", "en_US")  # only the map makes it Spanish
    german = load_wav_24k(spoken(tmp_path, "de"))
    env = server_env(tmp_path, VOICECLI_MODELS_DIR=str(models), VOICECLI_TTS_LANGUAGE_VOICES="es=joe-spanish",
                     VOICECLI_LLM_MAX_REPLY_TOKENS="16", VOICECLI_VAD_SPECULATIVE_REPLY="false")
    server = start_server(tmp_path, "--api-key", API_KEY, "--model", "base", env=env)
    try:
        detected = turn_in(server, german, {})
        forced = turn_in(server, german, {"audio": {"input": {"transcription": {"model": "whisper-1",
                                                                                 "language": "es"}}}})
        named = turn_in(server, german, {"audio": {"output": {"voice": "joe-spanish"}}})
    finally:
        stop_server(server)
    assert (detected["language"], detected["voice"]) == ("de", "de_DE-test-medium"), detected
    assert (forced["language"], forced["voice"]) == ("es", "joe-spanish"), forced
    assert (named["language"], named["voice"]) == ("de", "joe-spanish"), named
    assert "Traceback" not in server.log_text()
