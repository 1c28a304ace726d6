"""Eight realtime voice sessions at once on one server (this 2-core machine), each speaking two
questions in real time like a microphone, each getting both transcripts right and both replies.
Latency figures per session count live in benchmarks/results-serve.md (bench_realtime_sessions.py)."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from tests.conftest import EXAMPLES
from tests.e2e.serve.rt_client import load_wav_24k, run_voice_session

pytestmark = [pytest.mark.models, pytest.mark.slow]

SESSIONS = 8


def test_eight_concurrent_sessions_two_turns_each(server):
    clips = [load_wav_24k(EXAMPLES / "question.wav"), load_wav_24k(EXAMPLES / "question2.wav")]

    def one(i: int):
        return run_voice_session(server.client(), clips, realtime=True, timeout_s=300)

    with concurrent.futures.ThreadPoolExecutor(SESSIONS) as pool:
        results = list(pool.map(one, range(SESSIONS)))
    latencies = []
    for i, turns in enumerate(results):
        assert len(turns) == 2, i
        first, second = turns
        assert first.user_transcript and "france" in first.user_transcript.lower(), (i, first.user_transcript)
        assert second.user_transcript and "story" in second.user_transcript.lower(), (i, second.user_transcript)
        for t in turns:
            assert t.status == "completed" and t.transcript.strip() and len(t.samples) > 0, (i, t.status)
            latencies.append(t.latency_s)
    assert all(x is not None and 0 < x < 60 for x in latencies), latencies  # generous sanity bound
    health = httpx.get(f"{server.http}/health", headers=server.headers()).json()
    assert health["active_sessions"] == 0
