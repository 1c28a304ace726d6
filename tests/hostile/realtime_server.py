"""``python -m tests.hostile.realtime_server CONFIG_JSON``: the real server (``voicecli serve``'s
own uvicorn setup and app) on fake engines, for the hostile realtime tests. CONFIG_JSON holds
``port``, optional ``api_key``, ``limits`` (Limits fields) and ``fakes`` (FakeBehaviour fields)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from tests.hostile.realtime_fakes import FakeBehaviour, FakeEngines
from voicecli.cli.serve import _run
from voicecli.server.config import Limits, ServerConfig


def main(raw: str) -> None:
    spec = json.loads(raw)
    config = ServerConfig(host="127.0.0.1", port=spec["port"], api_key=spec.get("api_key"),
                          limits=Limits(**spec.get("limits", {})))
    engines = FakeEngines(FakeBehaviour(**spec.get("fakes", {})))
    # What `voicecli serve` does (cli/serve.py): warnings and errors, one line each.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(_run(engines, config, None, False, False))


if __name__ == "__main__":
    main(sys.argv[1])
