"""Conversation in the user's language (``talk`` with the multilingual Whisper ``base``): a German
and a Spanish spoken question (espeak-ng) in one session. Each turn's language is detected, the
LLM (a real ``voicecli serve`` behind a recording proxy, as ``--llm-url``) is asked to reply in
it, and the reply is spoken by the voice of that language: German by an installed voice whose
config says ``de_DE``, Spanish by the voice ``tts.language_voices`` maps ``es`` to (both are the
joe voice under other names)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.e2e.serve.conftest import API_KEY
from tests.e2e.serve.fault_proxy import FaultProxy
from tests.helpers import concat_wavs, json_lines, run_voicecli, write_wav

pytestmark = [pytest.mark.models, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")]

QUESTIONS = {"de": "Was ist die Hauptstadt von Frankreich?", "es": "¿Cuál es la capital de Francia?"}


def spoken(tmp_path, language: str):
    from voicecli.audio.decode import decode_audio

    raw = tmp_path / f"{language}-raw.wav"
    subprocess.run(["espeak-ng", "-v", language, "-s", "140", "-w", str(raw), QUESTIONS[language]], check=True)
    return write_wav(tmp_path / f"{language}.wav", decode_audio(raw))  # 16 kHz, as the pipeline hears it


def voice_under_another_name(settings, models, name: str, locale: str) -> None:
    from voicecli.engines import resolver

    joe = resolver(settings).resolve("tts", "en_US-joe-medium").path
    (models / f"{name}.onnx").symlink_to(joe)
    config = json.loads(joe.with_name(joe.name + ".json").read_text())
    config["language"] = {**config.get("language", {}), "code": locale}
    (models / f"{name}.onnx.json").write_text(json.dumps(config))


def test_each_turn_is_answered_in_its_language_with_its_voice(tmp_path, server, settings):
    models = tmp_path / "models"
    models.mkdir()
    voice_under_another_name(settings, models, "de_DE-test-medium", "de_DE")
    voice_under_another_name(settings, models, "joe-spanish", "en_US")  # only the map makes it Spanish
    wav_in = concat_wavs(tmp_path / "in.wav", spoken(tmp_path, "de"), 9.0, spoken(tmp_path, "es"), 9.0)
    proxy = FaultProxy(server.http).start()
    try:
        r = run_voicecli("talk", "--input", str(wav_in), "--output", str(tmp_path / "out.wav"), "--json",
                         "--history", str(tmp_path / "h.sqlite3"), "--model", "base", "--llm-max-tokens", "24",
                         "--llm-url", proxy.base_url,
                         env={"VOICECLI_MODELS_DIR": str(models), "VOICECLI_TTS_LANGUAGE_VOICES": "es=joe-spanish",
                              "VOICECLI_LLM_API_KEY": API_KEY, "VOICECLI_VAD_SPECULATIVE_REPLY": "false"})
    finally:
        proxy.stop()
    assert r.returncode == 0, r.stderr
    lines = json_lines(r.stdout)
    users = [o for o in lines if o["type"] == "user"]
    turns = [o for o in lines if o["type"] == "turn"]
    assert [u["language"] for u in users] == ["de", "es"], users
    assert [(t["language"], t["voice"]) for t in turns] == [("de", "de_DE-test-medium"), ("es", "joe-spanish")], turns
    assert all(t["assistant"].strip() and t["latency_ms"]["tts_first_audio"] for t in turns), turns
    # The LLM was asked for the turn's language: the system message of the chat request that
    # carried each transcript.
    asked = {}
    for path, body in proxy.bodies:
        if path.endswith("/chat/completions"):
            messages = json.loads(body)["messages"]
            asked[messages[-1]["content"]] = messages[0]["content"]
    assert "always reply in German" in asked[turns[0]["user"]], asked
    assert "always reply in Spanish" in asked[turns[1]["user"]], asked
    # History keeps the language and the voice.
    from voicecli.pipeline.history import HistoryStore

    store = HistoryStore(tmp_path / "h.sqlite3")
    sid = store.find_session("last")
    assert sid is not None
    assert [(t["language"], t["voice"]) for t in store.turns(sid)] == [("de", "de_DE-test-medium"),
                                                                       ("es", "joe-spanish")]
