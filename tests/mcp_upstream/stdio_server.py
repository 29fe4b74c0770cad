"""A stdio MCP server for tests/mcp_upstream.rs (dual-era, the SDK's own)."""

from tools import build

if __name__ == "__main__":
    build("upstream-test-stdio").run("stdio")
