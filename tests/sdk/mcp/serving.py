"""What the SDK-built HTTP upstreams share: the command line, a call log the
tests read (to prove a refused call never arrived, and in which protocol
revision an accepted one did), test-controlled barriers, a legacy-only mode
that answers modern requests as a 2025 server would, and serving on a socket
bound before uvicorn starts (so the harness knows the port, and a restart
can take the same one)."""

import argparse
import json
import os
import socket
import sys

from typing import Annotated

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import BaseModel
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def arguments(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--log", default=os.environ.get("MCP_CALL_LOG"), help="JSON lines, one per tool call")
    p.add_argument("--legacy-only", action="store_true", help="refuse 2026-07-28 requests as a 2025 server would")
    p.add_argument("--json-response", action="store_true", help="answer POSTs with JSON, never SSE")
    return p.parse_args()


class CallLog:
    """Appends one JSON line per tool call: the tool, its arguments and the
    protocol revision the request came in."""

    def __init__(self, path):
        self.path = path

    def record(self, tool, args, ctx: Context | None = None):
        if not self.path:
            return
        version = ctx.protocol_version if ctx is not None else None
        with open(self.path, "a") as f:
            f.write(json.dumps({"tool": tool, "args": args, "version": version}) + "\n")


class Confirmation(BaseModel):
    ok: bool


def add_confirm_tool(server: MCPServer, log: CallLog):
    """`confirm`: asks the user to confirm an action before doing it, as the
    SDK asks in the revision the call came in — an `input_required` round in
    2026-07-28, a request of the server's own mid-call before."""

    def ask(action: str) -> Elicit[Confirmation]:
        return Elicit(f"Go ahead with {action}?", Confirmation)

    def confirm(action: str, answer: Annotated[Confirmation, Resolve(ask)], ctx: Context) -> str:
        log.record("confirm", {"action": action, "ok": answer.ok}, ctx)
        return f"{action}: {'confirmed' if answer.ok else 'declined'}"

    server.add_tool(confirm, name="confirm", description="Asks the user to confirm an action before doing it.")


class Gates:
    """Named barriers a tool waits on until the test opens them
    (`POST /control/open/<name>`); one opened before the wait does not block."""

    def __init__(self):
        self.events = {}

    def event(self, name):
        return self.events.setdefault(name, anyio.Event())

    async def wait(self, name):
        await self.event(name).wait()

    def open(self, name):
        self.event(name).set()


def legacy_only(app):
    """Wraps an ASGI app so a request naming a protocol revision newer than
    the handshake era is refused the way a 2025-era SDK server refused it: 400
    with a plain -32600 error, which a modern client reads as "fall back"."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            version = headers.get(b"mcp-protocol-version", b"").decode("latin-1")
            if version and version not in HANDSHAKE_PROTOCOL_VERSIONS:
                body = json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": "server-error",
                        "error": {"code": -32600, "message": f"Bad Request: Unsupported protocol version: {version}"},
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return wrapped


def add_control_routes(server: MCPServer, gates: Gates):
    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True, "pid": os.getpid()})

    @server.custom_route("/control/open/{name}", methods=["POST"])
    async def open_gate(request: Request) -> Response:
        gates.open(request.path_params["name"])
        return JSONResponse({"opened": request.path_params["name"]})


def serve(server: MCPServer, opts):
    """Binds 127.0.0.1:<port> (SO_REUSEADDR: a restart takes the same port),
    says where on stderr, and serves Streamable HTTP at /mcp until killed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", opts.port))
    sock.listen(128)
    app = server.streamable_http_app(
        json_response=opts.json_response,
        # The gateway is the only client; Host checks would only get in its way.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    if opts.legacy_only:
        app = legacy_only(app)
    print(f"listening on 127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    anyio.run(lambda: uvicorn.Server(config).serve(sockets=[sock]))
