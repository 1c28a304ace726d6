"""``python -m tests.hostile.realtime_flood URL SECONDS [HEADERS_JSON]``: a hostile realtime client
in its own process. It sends invalid events as fast as it can, reads and discards what comes back,
and reconnects whenever the server closes it, for SECONDS; then prints its counts as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

INVALID = '{"type": "nope.nope"}'
BATCH = 64


async def one_connection(url: str, headers: dict[str, str], stats: Counter[str], deadline: float) -> None:
    async with connect(url, additional_headers=headers, max_size=None, open_timeout=10) as ws:
        stats["connections"] += 1

        async def drain() -> None:
            async for _ in ws:
                stats["received"] += 1

        reader = asyncio.create_task(drain())
        try:
            while time.monotonic() < deadline:
                for _ in range(BATCH):
                    await ws.send(INVALID)
                stats["sent"] += BATCH
                await asyncio.sleep(0)  # let the reader see the server's close
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        code = ws.close_code
        stats[f"close_{code}"] += 1


async def flood(url: str, seconds: float, headers: dict[str, str]) -> dict[str, Any]:
    stats: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            await one_connection(url, headers, stats, deadline)
        except InvalidStatus as exc:
            stats[f"refused_{exc.response.status_code}"] += 1
            await asyncio.sleep(0.01)
        except (OSError, ConnectionClosed, TimeoutError):
            stats["failed"] += 1
            await asyncio.sleep(0.01)
    return dict(stats)


if __name__ == "__main__":
    headers = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    print(json.dumps(asyncio.run(flood(sys.argv[1], float(sys.argv[2]), headers))))
