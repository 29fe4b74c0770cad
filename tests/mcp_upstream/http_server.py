"""A Streamable HTTP MCP server for tests/mcp_upstream.rs.

usage: http_server.py PORT [--legacy]

Dual-era by default (the SDK's own). With --legacy it behaves as a server
that predates 2026-07-28: a request at a version the handshake does not
know is served as the legacy transport serves a request without a session
(400), so clients must fall back to `initialize`.
"""

import sys

import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from tools import build

HEADER = b"mcp-protocol-version"


def legacy_only(app):
    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            headers = [
                (k, v)
                for k, v in scope["headers"]
                if k != HEADER or v.decode("latin-1") in HANDSHAKE_PROTOCOL_VERSIONS
            ]
            scope = dict(scope, headers=headers)
        await app(scope, receive, send)

    return wrapped


def main() -> None:
    port = int(sys.argv[1])
    legacy = "--legacy" in sys.argv[2:]
    server = build("upstream-test-legacy" if legacy else "upstream-test")
    app = server.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    if legacy:
        app = legacy_only(app)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
