"""talk's tool runner with real MCP servers started here (tests/mcp_token_server.py, on the
official ``mcp`` SDK): over stdio and over streamable HTTP on loopback, the runner lists the
server's tools and a call returns the server's unique token; a failing tool, a slow tool and a
server that cannot start each become one clear line."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from voicecli.config import McpServerConfig, ToolsConfig
from voicecli.llm.tools import ToolCall
from voicecli.tools.runner import LocalTools

pytest.importorskip("mcp")
SERVER = str(ROOT / "tests" / "mcp_token_server.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_server() -> Iterator[tuple[str, str]]:
    token, port = secrets.token_hex(4), free_port()
    proc = subprocess.Popen([sys.executable, SERVER, token, "--http", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert proc.poll() is None, "the MCP test server exited"
                time.sleep(0.2)
        yield token, f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:  # uvicorn waits for the slow tool's thread
            proc.kill()
            proc.wait(5)


def start(notices: list[str], **servers: McpServerConfig) -> LocalTools:
    return LocalTools.start(ToolsConfig(mcp=servers, timeout_s=3), on_notice=notices.append, connect_timeout_s=60)


def test_stdio_and_http_servers_list_their_tools_and_return_the_token(http_server):
    http_token, url = http_server
    stdio_token = secrets.token_hex(4)
    notices: list[str] = []
    runner = start(notices, local=McpServerConfig(command=sys.executable, args=[SERVER, stdio_token]),
                   web=McpServerConfig(url=url))
    try:
        assert notices == []
        listed = {i.name: i.source for i in runner.listing()}
        assert listed["secret_word"] == "mcp:local" and listed["web_secret_word"] == "mcp:web"  # a clash is renamed
        request = runner.request()
        assert request is not None
        spec = next(t for t in request.tools if t.name == "slow")
        assert spec.parameters["properties"]["seconds"]["type"] == "number" and spec.description == "Waits, then answers."
        stdio = runner.run(ToolCall("c1", "secret_word"), 10)
        http = runner.run(ToolCall("c2", "web_secret_word"), 10)
        assert (stdio.output, stdio.error) == (stdio_token, False)
        assert (http.output, http.error) == (http_token, False)
    finally:
        runner.close()


def test_failures_are_error_outcomes_of_one_line(http_server):
    _, url = http_server
    notices: list[str] = []
    runner = start(notices, web=McpServerConfig(url=url))
    try:
        broken = runner.run(ToolCall("c1", "broken", '{"reason": "by design"}'), 10)
        assert broken.error and broken.output.startswith("tool 'broken' (web) failed:"), broken
        t0 = time.monotonic()
        slow = runner.run(ToolCall("c2", "slow", '{"seconds": 30}'), 1.0)
        assert time.monotonic() - t0 < 5
        assert slow.error and slow.output == "tool 'slow' (web) did not answer within 1 s", slow
        after = runner.run(ToolCall("c3", "secret_word"), 10)  # the session survives a timed-out call
        assert not after.error, after
        for outcome in (broken, slow):
            assert "\n" not in outcome.output and "Traceback" not in outcome.output
    finally:
        runner.close()


def test_servers_that_cannot_start_are_notices(tmp_path):
    notices: list[str] = []
    crash = McpServerConfig(command=sys.executable,
                            args=["-c", "import sys; print('no token given', file=sys.stderr); sys.exit(2)"])
    runner = start(notices, gone=McpServerConfig(command=str(tmp_path / "missing-server")), crash=crash,
                   closed=McpServerConfig(url=f"http://127.0.0.1:{free_port()}/mcp"))
    try:
        assert len(notices) == 3, notices
        gone, crashed, closed = notices
        assert gone.startswith("MCP server 'gone' cannot start: ") and "missing-server" in gone
        assert crashed.startswith("MCP server 'crash' cannot start: ") and "no token given" in crashed
        assert closed.startswith("MCP server 'closed' cannot start: ")
        assert all("\n" not in n for n in notices)
        assert all(i.source == "builtin" for i in runner.listing())
    finally:
        runner.close()


def test_forced_choice_of_a_server_tool(http_server):
    _, url = http_server
    runner = LocalTools.start(ToolsConfig(mcp={"web": McpServerConfig(url=url)}, tool_choice="secret_word"),
                              connect_timeout_s=60)
    try:
        request = runner.request()
        assert request is not None and request.choice.name == "secret_word"
    finally:
        runner.close()


def test_voicecli_tools_lists_builtins_and_the_servers_tools(tmp_path, http_server):
    import json

    from tests.helpers import run_voicecli

    _, url = http_server
    config = tmp_path / "config.toml"
    config.write_text(f'[tools]\ndisabled = ["calculate", "slow"]\n[tools.mcp.web]\nurl = "{url}"\n'
                      f'[tools.mcp.gone]\ncommand = "{tmp_path / "missing-server"}"\n')
    r = run_voicecli("tools", "--json", env={"VOICECLI_CONFIG": str(config)})
    assert r.returncode == 0, r.stderr
    listed = {t["name"]: (t["source"], t["enabled"]) for t in json.loads(r.stdout)["tools"]}
    assert listed["secret_word"] == ("mcp:web", True) and listed["slow"] == ("mcp:web", False)
    assert listed["get_time"] == ("builtin", True) and listed["calculate"] == ("builtin", False)
    assert "note: MCP server 'gone' cannot start" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    piped = run_voicecli("tools", env={"VOICECLI_CONFIG": str(config)}).stdout.splitlines()
    assert piped[0] == "tool\tsource\tenabled\tdescription" and "secret_word\tmcp:web\tyes\tThe secret word of the day." in piped
    config.write_text('[tools]\ntool_choice = "nope"\n')
    bad = run_voicecli("talk", "--tools", "--text", "--output", str(tmp_path / "out.wav"),
                       env={"VOICECLI_CONFIG": str(config)}, input="")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: tools.tool_choice names 'nope', which is not an enabled tool (see `voicecli tools`, or set "
        "tools.tool_choice = \"auto\")"]
