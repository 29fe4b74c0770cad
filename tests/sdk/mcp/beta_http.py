"""Upstream "beta" (Streamable HTTP), built with the official SDK: simple
tools, and one whose name is 70 characters (federated, it passes MCP's 64).
The harness runs it `--legacy-only --json-response`: a 2025-era server that
answers with JSON, so the gateway must speak the handshake era to it.

    python beta_http.py --port 0 --legacy-only --json-response --log /tmp/beta.jsonl
"""

from mcp.server.mcpserver import Context, MCPServer
from serving import CallLog, Gates, add_control_routes, arguments, serve

LONG_TOOL = "summarize_quarterly_revenue_figures_for_every_region_and_product_lines"
assert len(LONG_TOOL) == 70

opts = arguments("beta: an MCP upstream for the gateway tests")
log = CallLog(opts.log)
server = MCPServer("beta", version="1.0.0")


@server.tool(description="Adds two integers.")
def add(a: int, b: int, ctx: Context) -> int:
    log.record("add", {"a": a, "b": b}, ctx)
    return a + b


@server.tool(description="Searches the catalogue.")
def search(query: str, ctx: Context) -> str:
    log.record("search", {"query": query}, ctx)
    return f"3 results for {query}"


@server.tool(name=LONG_TOOL, description="A tool whose name leaves no room for a prefix.")
def long_named(region: str, ctx: Context) -> str:
    log.record(LONG_TOOL, {"region": region}, ctx)
    return f"revenue summary for {region}"


add_control_routes(server, Gates())

if __name__ == "__main__":
    serve(server, opts)
