"""``voicecli talk --stt-url --tts-url``: speech is transcribed and spoken by a second, real
``voicecli serve`` on loopback (the remote engine tier); nothing of Whisper or Piper loads in
``talk`` itself. A remote tier that fails (HTTP 500, a slow answer, a body that is not the API's,
no server at all) costs the turn one clear line, and the next turn works."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLES
from tests.e2e.serve.conftest import API_KEY, free_port
from tests.e2e.serve.fault_proxy import STT, TTS, FaultProxy
from tests.helpers import concat_wavs, json_lines, read_wav, run_voicecli, voiced_regions, word_overlap

pytestmark = [pytest.mark.models, pytest.mark.slow]

KEYS = {"VOICECLI_STT_API_KEY": API_KEY, "VOICECLI_TTS_API_KEY": API_KEY}
STRICT_TURNS = {"VOICECLI_VAD_SPECULATIVE_STT": "false", "VOICECLI_VAD_SPECULATIVE_REPLY": "false",
                "VOICECLI_VAD_TURN_DETECTOR": "silence"}
"""One transcription and one reply per turn, so the proxy's scripted failures land on known turns."""
TIMEOUT_S = 8
"""Longer than a real answer takes on a loaded 2-core machine, shorter than the proxy's 'slow'."""


def test_talk_with_remote_stt_and_tts_completes_a_spoken_turn(tmp_path, server, transcribe):
    wav_in = concat_wavs(tmp_path / "in.wav", EXAMPLES / "question.wav", 7.0)
    wav_out = tmp_path / "out.wav"
    # whisper-1 and alloy are no local models: resolving either here would fail, so this also
    # shows that talk loads no Whisper and no Piper voice of its own.
    r = run_voicecli("talk", "--input", str(wav_in), "--output", str(wav_out), "--json", "--no-history",
                     "--llm-max-tokens", "40", "--stt-url", server.base_url, "--tts-url", server.base_url,
                     "--model", "whisper-1", "--voice", "alloy", env=KEYS)
    assert r.returncode == 0, r.stderr
    lines = json_lines(r.stdout)
    session = next(o for o in lines if o["type"] == "session")
    assert session["models"]["stt"] == f"whisper-1@127.0.0.1:{server.port}"
    assert session["models"]["tts"] == f"alloy@127.0.0.1:{server.port}"
    turns = [o for o in lines if o["type"] == "turn"]
    assert len(turns) == 1, r.stdout
    assert "capital" in turns[0]["user"].lower() and "france" in turns[0]["user"].lower()
    assert turns[0]["assistant"].strip()
    out, rate = read_wav(wav_out)
    regions = voiced_regions(out, rate, min_gap_s=1.5)
    assert regions, "no reply audio"
    heard = transcribe(out[int(max(0.0, regions[0][0] - 0.3) * rate):int((regions[-1][1] + 0.3) * rate)], rate)
    assert word_overlap(heard, turns[0]["assistant"]) > 0.6, (heard, turns[0]["assistant"])


def test_remote_failures_cost_one_line_each_and_the_session_goes_on(tmp_path, server):
    proxy = FaultProxy(server.http, slow_s=60.0).start()
    try:
        proxy.fail_next(STT, "500", "pass", "slow")  # turns 1 and 3 cannot be transcribed
        proxy.fail_next(TTS, "500")  # turn 2 is transcribed and answered, but its voice fails
        q = EXAMPLES / "question.wav"
        wav_in = concat_wavs(tmp_path / "in.wav", q, 6.0, q, 18.0, q, 14.0, q, 12.0)
        r = run_voicecli("talk", "--input", str(wav_in), "--output", str(tmp_path / "out.wav"), "--json",
                         "--no-history", "--llm-max-tokens", "12", "--stt-url", proxy.base_url,
                         "--tts-url", proxy.base_url,
                         env={**KEYS, **STRICT_TURNS, "VOICECLI_STT_URL_TIMEOUT_S": str(TIMEOUT_S),
                              "VOICECLI_TTS_URL_TIMEOUT_S": str(TIMEOUT_S)})
    finally:
        proxy.stop()
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    lines = json_lines(r.stdout)
    errors = [o["message"] for o in lines if o["type"] == "error"]
    assert not any(o["fatal"] for o in lines if o["type"] == "error"), lines
    assert all("\n" not in e for e in errors), errors
    # In the order the turns failed (a reply whose voice failed reports it once its text is complete).
    expected = [f"the STT server at {proxy.base_url} answered HTTP 500: engine exploded",
                f"the TTS server at {proxy.base_url} answered HTTP 500: engine exploded",
                f"the STT server at {proxy.base_url} did not answer within {TIMEOUT_S} s"]
    assert len(errors) == 3 and all(e.startswith(x) for e, x in zip(errors, expected, strict=True)), (errors, proxy.seen)
    turns = [o for o in lines if o["type"] == "turn"]
    last = turns[-1]
    assert "capital" in last["user"].lower() and last["assistant"].strip(), turns
    assert last["latency_ms"]["tts_first_audio"] is not None, last
    assert [p for p, mode in proxy.seen if mode != "pass"] == [STT, TTS, STT], proxy.seen


def test_talk_with_the_remote_down_at_startup_says_so_in_one_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    r = run_voicecli("talk", "--input", str(EXAMPLES / "question.wav"), "--output", str(tmp_path / "out.wav"),
                     "--json", "--no-history",
                     "--stt-url", url, timeout=120)
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert lines[0].startswith(f"error: the STT server at {url} cannot be reached"), lines
    assert "--stt-url" in lines[0], lines


def test_transcribe_with_stt_url(server):
    r = run_voicecli("transcribe", str(EXAMPLES / "question.wav"), "--stt-url", server.base_url, "--model", "whisper-1",
                     "-f", "srt", env=KEYS, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "-->" in r.stdout and "capital" in r.stdout.lower(), r.stdout
