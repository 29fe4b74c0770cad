"""Upstream "delta" (Streamable HTTP), built with the official SDK. The
harness runs it `--legacy-only`: a 2025-era server, which asks for input
mid-call with a request of its own on the call's SSE stream (where a
2026-07-28 server answers `input_required`), so the gateway must pass the
request to the client and the client's answer back.

    python delta_http.py --port 0 --legacy-only --log /tmp/delta.jsonl
"""

from mcp.server.mcpserver import MCPServer
from serving import CallLog, Gates, add_confirm_tool, add_control_routes, arguments, serve

opts = arguments("delta: a 2025-era MCP upstream that elicits mid-call")
log = CallLog(opts.log)
server = MCPServer("delta", version="1.0.0")
add_confirm_tool(server, log)
add_control_routes(server, Gates())

if __name__ == "__main__":
    serve(server, opts)
