"""MCP servers for talk, through the official ``mcp`` SDK: a stdio command or a streamable
HTTP url, one client session per server, all on one event-loop thread of their own (the SDK
is async; talk's tools run on a blocking worker). :meth:`McpServer.start` connects and lists
the tools; :meth:`McpServer.call` calls one with a timeout. Failures raise
:class:`McpFailure` whose message is one line naming the server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from voicecli.errors import VoicecliError
from voicecli.llm.tools import ToolSpec

MAX_OUTPUT_CHARS = 4000
T = TypeVar("T")


class McpFailure(VoicecliError):
    """An MCP server that cannot be reached, or a call that failed or timed out."""


@dataclass(frozen=True)
class McpServerSpec:
    """How to reach one server: ``command`` (+ ``args``, ``env``, ``cwd``) for stdio, or ``url``."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None


class LoopThread:
    """An asyncio loop on a daemon thread; :meth:`run` waits for a coroutine from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="mcp-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


class McpServer:
    """One server's session, open from :meth:`start` to :meth:`close`."""

    def __init__(self, spec: McpServerSpec, loop: LoopThread) -> None:
        self.spec = spec
        self._loop = loop
        self._client: Any = None
        self._stop: asyncio.Event | None = None
        self._task: concurrent.futures.Future[None] | None = None
        self._ready: concurrent.futures.Future[list[ToolSpec]] | None = None
        self._errlog: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        """The server's stderr (stdio): its last line explains a failed start."""

    def begin(self) -> None:
        """Start connecting (servers given to one loop start side by side); :meth:`start` waits."""
        if self._ready is None:
            self._ready = concurrent.futures.Future()
            self._task = asyncio.run_coroutine_threadsafe(self._session(self._ready), self._loop.loop)

    def start(self, timeout_s: float) -> list[ToolSpec]:
        """Connect (if :meth:`begin` has not) and list the server's tools (their MCP input
        schemas as parameters), waiting at most ``timeout_s``."""
        self.begin()
        assert self._ready is not None
        try:
            return self._ready.result(timeout_s)
        except concurrent.futures.TimeoutError:
            self.close()
            raise McpFailure(f"MCP server '{self.spec.name}' did not answer within {timeout_s:g} s",
                             "check the server's command or url in config.toml") from None
        except McpFailure:
            raise
        except BaseException as exc:  # noqa: BLE001 - any failure to connect is one line
            raise McpFailure(f"MCP server '{self.spec.name}' cannot start: {self._why(exc)}",
                             "check the server's command or url in config.toml (`voicecli tools`)") from None

    async def _session(self, ready: concurrent.futures.Future[list[ToolSpec]]) -> None:
        from mcp import Client

        try:
            async with Client(self._transport()) as client:
                listed = await client.list_tools()
                self._client = client
                self._stop = asyncio.Event()
                ready.set_result([ToolSpec.of(t.name, t.description or "", t.input_schema) for t in listed.tools])
                await self._stop.wait()
        except BaseException as exc:  # noqa: BLE001 - handed to the thread waiting in start()
            if not ready.done():
                ready.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._client = None

    def _transport(self) -> Any:
        if self.spec.url is not None:
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(self.spec.url)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=self.spec.command or "", args=list(self.spec.args),
                                       env=dict(self.spec.env) or None, cwd=self.spec.cwd)
        return stdio_client(params, errlog=self._errlog)

    def call(self, name: str, arguments: Mapping[str, Any], timeout_s: float) -> tuple[str, bool]:
        """The tool's text output and whether it reported an error."""
        client = self._client
        if client is None:
            raise McpFailure(f"MCP server '{self.spec.name}' is not connected{self._last_log()}")
        try:
            result = self._loop.run(client.call_tool(name, dict(arguments)), timeout_s)
        except concurrent.futures.TimeoutError:
            raise McpFailure(f"tool '{name}' ({self.spec.name}) did not answer within {timeout_s:g} s") from None
        except Exception as exc:  # noqa: BLE001 - a failed call is an outcome, never a crash
            raise McpFailure(f"tool '{name}' ({self.spec.name}) failed: {self._why(exc)}") from None
        text = _text_of(result)
        if result.is_error:
            return f"tool '{name}' ({self.spec.name}) failed: {text or 'no reason given'}", True
        return text, False

    def close(self) -> None:
        stop, task = self._stop, self._task
        if task is not None and not task.done():
            if stop is not None and self._loop.loop.is_running():
                self._loop.loop.call_soon_threadsafe(stop.set)  # leave the session: the SDK closes the transport
            else:
                task.cancel()
            try:
                task.result(5)
            except BaseException:  # noqa: BLE001 - closing: nothing left to report
                task.cancel()
        self._errlog.close()

    def _why(self, exc: BaseException) -> str:
        while (inner := getattr(exc, "exceptions", None)) and isinstance(inner[0], BaseException):
            exc = inner[0]  # an exception group from the SDK's task groups: its first cause
        text = " ".join(str(exc).split()) or type(exc).__name__
        return text[:200] + self._last_log()

    def _last_log(self) -> str:
        try:
            self._errlog.seek(0)
            lines = [line.strip() for line in self._errlog.read()[-2000:].splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return f" (server said: {lines[-1][:160]})" if lines else ""


def _text_of(result: Any) -> str:
    parts = []
    for block in result.content:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')}]")
    if not parts and result.structured_content is not None:
        import json

        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(parts).strip()
    return text[:MAX_OUTPUT_CHARS] + ("…" if len(text) > MAX_OUTPUT_CHARS else "")
