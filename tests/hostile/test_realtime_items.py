"""A client piling items into a realtime conversation (issue 12: 30k items = +70 MB, and a
response.create after 2000 items burned 110 s of CPU tokenising before failing on the context
size), against the real ``voicecli serve`` with its real models: items stop at the cap with a clear
error, memory stays bounded, and the next response costs what a prompt of the LLM's history budget
costs (CPU time: this shared machine's wall clock says little), whatever the items hold."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

from tests.e2e.serve.conftest import server_env, start_server, stop_server
from tests.hostile.realtime_fixtures import user_text

pytestmark = [pytest.mark.models]

ITEM_CHARS = 1000
BATCH = 100
MAX_RSS_GROWTH_MB = 60
HISTORY_TOKENS = 256
"""The LLM's history budget for this server: what a response may put in the prompt."""
MAX_RESPONSE_CPU_S = 15.0
MAX_RESPONSE_S = 120.0
"""Wall-clock sanity bound only."""


def cpu_s(pid: int) -> float:
    """User plus system CPU time of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def events_until(ws, kind: str, timeout_s: float = 60) -> list[dict]:
    out = []
    deadline = time.monotonic() + timeout_s
    while True:
        event = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        out.append(event)
        if event["type"] == kind:
            return out


def test_items_stop_at_the_cap_and_the_next_response_stays_fast(tmp_path) -> None:
    env = server_env(tmp_path, VOICECLI_LLM_HISTORY_TOKENS=str(HISTORY_TOKENS))
    server = start_server(tmp_path, "--max-sessions", "2", env=env)
    try:
        with ws_connect(f"{server.ws_url}/realtime", max_size=None) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
            ws.send(json.dumps({"type": "session.update", "session": {
                "type": "realtime", "output_modalities": ["text"], "max_output_tokens": 8}}))
            events_until(ws, "session.updated")
            rss_before = rss_mb(server.proc.pid)
            added, refused = 0, []
            for batch in range(11):  # 1100 items, in batches (a client restoring a long conversation)
                batch_started = time.monotonic()
                for i in range(BATCH):
                    n = batch * BATCH + i
                    ws.send(user_text(f"Note {n}: " + "lorem ipsum dolor sit amet " * (ITEM_CHARS // 27)))
                ws.send(json.dumps({"type": "conversation.item.retrieve", "item_id": "none", "event_id": "probe"}))
                for event in events_until(ws, "error"):
                    if event["type"] == "conversation.item.done":
                        added += 1
                while True:  # errors up to the probe's
                    if event["type"] == "error" and event["error"]["event_id"] == "probe":
                        break
                    if event["type"] == "error":
                        refused.append(event["error"]["code"])
                    event = json.loads(ws.recv(timeout=30))
                # within the documented event rate (Limits.realtime_events_per_s, 250/s): this test is
                # about the item cap, not the flood limit (test_realtime_flood.py)
                time.sleep(max(0.0, (BATCH + 1) / 200 - (time.monotonic() - batch_started)))
            rss_after = rss_mb(server.proc.pid)
            assert added == 1000 and set(refused) == {"conversation_full"} and len(refused) == 100, (added, refused)
            t0, cpu0 = time.monotonic(), cpu_s(server.proc.pid)
            ws.send(json.dumps({"type": "response.create"}))
            done = events_until(ws, "response.done", timeout_s=MAX_RESPONSE_S)[-1]
            response_s, response_cpu_s = time.monotonic() - t0, cpu_s(server.proc.pid) - cpu0
        print(f"\nRSS {rss_before:.0f} → {rss_after:.0f} MB over 1100 items; response after 1000 items: "
              f"{response_s:.1f} s, {response_cpu_s:.1f} s CPU ({done['response']['status']})")
        assert done["response"]["status"] == "completed", done
        assert response_cpu_s < MAX_RESPONSE_CPU_S
        assert rss_after - rss_before < MAX_RSS_GROWTH_MB
    finally:
        stop_server(server)
    log = server.log_text()
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]
