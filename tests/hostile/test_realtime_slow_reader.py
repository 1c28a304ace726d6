"""A realtime client that stops reading while the server streams it audio (issue 12: it was
dropped without the documented 1008 close frame and without the documented log line). Past the
outbox bound the session logs one line and closes with 1008: a client that reads again finds the
close frame after what the socket already held; the server's memory stays bounded meanwhile."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.hostile.realtime_fixtures import realtime_server, user_text

OUTBOX_BYTES = 1_000_000
# 60 sentences of 4 s: ~15 MB of base64 audio, more than the loopback socket buffers hold.
FAKES = {"sentences": 60, "token_delay_s": 0.001, "seconds_per_sentence": 4.0}
MAX_RSS_GROWTH_MB = 100


def test_a_client_that_stops_reading_is_closed_with_1008_and_logged(tmp_path) -> None:
    with realtime_server(tmp_path, limits={"max_outbound_bytes": OUTBOX_BYTES}, fakes=FAKES) as server:
        rss_before = server.rss_mb()
        ws = server.connect(max_queue=4)  # the client's own buffer: 4 frames, then TCP pushes back
        ws.send(user_text("Tell me a long story."))
        ws.send(json.dumps({"type": "response.create"}))
        deadline = time.monotonic() + 60
        while "is not reading" not in server.log_text():
            assert time.monotonic() < deadline, server.log_text()[-2000:]
            time.sleep(0.2)
        rss_peak = server.rss_mb()
        # The client reads again: everything the socket held, then the close frame.
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                ws.recv(timeout=20)
        assert exc.value.rcvd is not None, "closed without a close frame"
        assert (exc.value.rcvd.code, exc.value.rcvd.reason) == (1008, "client too slow: too many unsent events")
        server.wait_idle()
        print(f"\nRSS {rss_before:.0f} MB → {rss_peak:.0f} MB at the overflow")
        assert rss_peak - rss_before < MAX_RSS_GROWTH_MB
        log = server.log_text()
        assert log.count("is not reading") == 1, log
        server.assert_clean_log()
