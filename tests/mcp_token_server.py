"""A tiny MCP server for the tools tests, on the official SDK's MCPServer (FastMCP in mcp 1.x):
``python tests/mcp_token_server.py TOKEN`` serves over stdio; ``--http PORT`` over streamable
HTTP on 127.0.0.1. ``secret_word`` returns TOKEN; ``broken`` raises; ``slow`` sleeps."""

from __future__ import annotations

import sys
import time

from mcp.server.mcpserver import MCPServer


def build(token: str) -> MCPServer:
    server = MCPServer("voicecli-test")

    @server.tool()
    def secret_word() -> str:
        """The secret word of the day."""
        return token

    @server.tool()
    def broken(reason: str = "on purpose") -> str:
        """A tool that always fails."""
        raise RuntimeError(f"broken {reason}")

    @server.tool()
    def slow(seconds: float) -> str:
        """Waits, then answers."""
        time.sleep(seconds)
        return "finally"

    return server


if __name__ == "__main__":
    args = sys.argv[1:]
    server = build(args[0])
    if len(args) == 3 and args[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(args[2]))
    else:
        server.run()
