"""Upstream "delta" (Streamable HTTP), built with the official SDK. The
harness runs it `--legacy-only`: a 2025-era server, which asks for input
mid-call with a request of its own on the call's SSE stream (where a
2026-07-28 server answers `input_required`), so the gateway must pass the
request to the client and the client's answer back.

    python delta_http.py --port 0 --legacy-only --log /tmp/delta.jsonl
"""

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import BaseModel
from serving import CallLog, Gates, add_control_routes, arguments, serve

opts = arguments("delta: a 2025-era MCP upstream that elicits mid-call")
log = CallLog(opts.log)
server = MCPServer("delta", version="1.0.0")


class Confirmation(BaseModel):
    ok: bool


def ask(action: str) -> Elicit[Confirmation]:
    return Elicit(f"Go ahead with {action}?", Confirmation)


@server.tool(description="Asks the user to confirm an action before doing it.")
def confirm(action: str, answer: Annotated[Confirmation, Resolve(ask)], ctx: Context) -> str:
    log.record("confirm", {"action": action, "ok": answer.ok}, ctx)
    return f"{action}: {'confirmed' if answer.ok else 'declined'}"


add_control_routes(server, Gates())

if __name__ == "__main__":
    serve(server, opts)
