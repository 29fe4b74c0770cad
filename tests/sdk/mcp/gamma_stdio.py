"""Upstream "gamma" (stdio), built with the official SDK. `whoami` answers
with its process id, so tests can tell whether two keys share a process
(they must not) and one key reuses its own (it should).

    python gamma_stdio.py
"""

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("gamma", version="1.0.0", log_level="WARNING")


@server.tool(description="This server process's id, and whether its token reached it.")
def whoami() -> dict:
    return {"pid": os.getpid(), "token_set": bool(os.environ.get("GAMMA_TOKEN"))}


@server.tool(description="Echoes the text back.")
def echo(text: str) -> str:
    return text


if __name__ == "__main__":
    server.run("stdio")
