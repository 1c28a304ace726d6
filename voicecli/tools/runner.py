"""talk's :class:`~voicecli.llm.tools.ToolRunner`: the built-in tools plus the tools of the MCP
servers in ``config.toml``, filtered by ``tools.enabled`` / ``tools.disabled``, offered with the
configured ``tools.tool_choice``. Built by :meth:`LocalTools.start` (which connects to the MCP
servers; one that cannot start is reported through ``on_notice`` and left out), closed with
:meth:`LocalTools.close`."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from voicecli.config import ToolsConfig
from voicecli.errors import ConfigError, VoicecliError
from voicecli.llm.tool_checks import ToolSpecError, check_tool_request
from voicecli.llm.tools import ToolCall, ToolChoice, ToolOutcome, ToolRequest, ToolSpec
from voicecli.tools.builtin import LocalTool, builtin_tools
from voicecli.tools.mcp_client import LoopThread, McpServer, McpServerSpec
from voicecli.tools.reminders import Reminder, Reminders

CONNECT_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ToolInfo:
    """One line of ``voicecli tools``."""

    name: str
    source: str
    """``builtin`` or ``mcp:SERVER``."""
    description: str
    enabled: bool


def is_enabled(name: str, source: str, config: ToolsConfig) -> bool:
    """A tool is on unless ``disabled`` names it or its source; with ``enabled`` given, only the
    tools it names (or whose source it names) are on. Sources: ``builtin`` or an MCP server name."""
    server = source.removeprefix("mcp:")
    if name in config.disabled or server in config.disabled:
        return False
    return not config.enabled or name in config.enabled or server in config.enabled


def closed(schema: dict[str, object]) -> dict[str, object]:
    """``schema`` with ``additionalProperties: false`` unless it says otherwise: the model sends
    only the declared arguments (a grammar for ``{"properties": {}}`` alone would let it write any
    keys — the tiny model copies the schema itself into them)."""
    if schema.get("type", "object") == "object" and "additionalProperties" not in schema:
        return {**schema, "additionalProperties": False}
    return schema


def tool_choice(value: str) -> ToolChoice:
    return ToolChoice(value) if value in ("auto", "none", "required") else ToolChoice.function(value)  # type: ignore[arg-type]


class LocalTools:
    """The tools talk runs on this machine (see the module docstring)."""

    def __init__(self, config: ToolsConfig, tools: Iterable[LocalTool], reminders: Reminders,
                 servers: Mapping[str, McpServer] | None = None, loop: LoopThread | None = None) -> None:
        self.config = config
        self.reminders = reminders
        self._servers = dict(servers or {})
        self._loop = loop
        self._tools: dict[str, LocalTool] = {}
        self._remote: dict[str, tuple[McpServer, str]] = {}
        """Offered name → (its server, the server's own name for it)."""
        for tool in tools:
            self._tools[tool.spec.name] = tool
        self.choice = tool_choice(config.tool_choice)
        self._skip = threading.Semaphore(0)
        """Replies to offer no tools (a due reminder's turn)."""

    @classmethod
    def start(cls, config: ToolsConfig, on_due: Callable[[Reminder], None] | None = None,
              on_notice: Callable[[str], None] = lambda _: None,
              connect_timeout_s: float = CONNECT_TIMEOUT_S) -> LocalTools:
        """Built-ins plus every enabled MCP server that starts; raises ConfigError (one line) when
        ``tool_choice`` names a tool that is not there or not enabled."""
        reminders = Reminders(on_due)
        runner = cls(config, builtin_tools(reminders), reminders)
        servers = {name: server for name, server in config.mcp.items() if server.enabled}
        if servers and importlib.util.find_spec("mcp") is None:
            on_notice("MCP servers need the mcp SDK: pip install 'voicecli[tools]'; going on without them")
            servers = {}
        if servers:
            runner._loop = LoopThread()
        connections = [McpServer(McpServerSpec(name, s.command, tuple(s.args), dict(s.env), s.cwd, s.url),
                                 runner._loop) for name, s in servers.items()]  # type: ignore[arg-type]
        for connection in connections:
            connection.begin()
        deadline = time.monotonic() + connect_timeout_s
        for connection in connections:
            name = connection.spec.name
            try:
                specs = connection.start(max(0.1, deadline - time.monotonic()))
            except VoicecliError as exc:
                on_notice(f"{exc.message}; going on without it")
                connection.close()
                continue
            runner._servers[name] = connection
            for spec_ in specs:
                problem = runner.add_remote(connection, spec_)
                if problem:
                    on_notice(problem)
        try:
            runner.check()
        except VoicecliError:
            runner.close()
            raise
        return runner

    def add_remote(self, server: McpServer, spec: ToolSpec) -> str | None:
        """Offer ``spec`` from ``server`` (renamed ``SERVER_NAME`` if the name is taken); the
        reason it is left out, if it is."""
        name = spec.name
        if name in self._tools or name in self._remote:
            name = f"{server.spec.name}_{name}"[:64]
        offered = ToolSpec.of(name, spec.description, closed(spec.parameters))
        try:
            check_tool_request(ToolRequest((offered,)))
        except ToolSpecError as exc:
            return f"MCP tool '{spec.name}' of '{server.spec.name}' left out: {exc.message}"
        self._tools[name] = LocalTool(offered, lambda _: "", f"mcp:{server.spec.name}")
        self._remote[name] = (server, spec.name)
        return None

    def check(self) -> None:
        if self.choice.mode == "function":
            tool = self._tools.get(self.choice.name or "")
            if tool is None or not is_enabled(tool.spec.name, tool.source, self.config):
                raise ConfigError(f"tools.tool_choice names '{self.choice.name}', which is not an enabled tool",
                                  "see `voicecli tools`, or set tools.tool_choice = \"auto\"")
        elif self.choice.forces_call and not self.offered():
            raise ConfigError(f"tools.tool_choice is '{self.choice.mode}' but no tool is enabled",
                              "see `voicecli tools`")

    def listing(self) -> list[ToolInfo]:
        return [ToolInfo(t.spec.name, t.source, t.spec.description, is_enabled(t.spec.name, t.source, self.config))
                for t in self._tools.values()]

    def offered(self) -> tuple[ToolSpec, ...]:
        return tuple(t.spec for t in self._tools.values() if is_enabled(t.spec.name, t.source, self.config))

    # --- ToolRunner --------------------------------------------------------------------------
    def skip_next_request(self) -> None:
        """Offer no tools for the next reply (thread-safe): a due reminder's turn is just said."""
        self._skip.release()

    def request(self) -> ToolRequest | None:
        if self._skip.acquire(blocking=False):
            return None
        tools = self.offered()
        if not tools or self.choice.mode == "none":
            return None
        return ToolRequest(tools, self.choice)

    def run(self, call: ToolCall, timeout_s: float) -> ToolOutcome:
        t0 = time.monotonic()
        output, error = self._run(call, min(timeout_s, self.config.timeout_s))
        if error:
            output = " ".join(output.split()) or f"tool '{call.name}' failed"
        return ToolOutcome(call, output, error, (time.monotonic() - t0) * 1000)

    def _run(self, call: ToolCall, timeout_s: float) -> tuple[str, bool]:
        tool = self._tools.get(call.name)
        if tool is None or not is_enabled(tool.spec.name, tool.source, self.config):
            return f"there is no tool named '{call.name[:64]}'", True
        try:
            args = json.loads(call.arguments or "{}")
        except ValueError:
            return f"the arguments for '{call.name}' are not valid JSON", True
        if not isinstance(args, dict):
            return f"the arguments for '{call.name}' must be a JSON object", True
        remote = self._remote.get(call.name)
        try:
            if remote is not None:
                return remote[0].call(remote[1], args, timeout_s)
            return tool.handler(args), False
        except VoicecliError as exc:
            return exc.message, True
        except Exception as exc:  # noqa: BLE001 - a tool's failure is an outcome for the model
            return f"tool '{call.name}' failed: {type(exc).__name__}: {exc}", True

    def close(self) -> None:
        self.reminders.close()
        for server in self._servers.values():
            server.close()
        if self._loop is not None:
            self._loop.stop()

