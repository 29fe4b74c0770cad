"""The MCP tests' harness: SDK-built upstreams started on free 127.0.0.1
ports (and restarted on the same one), the gateway's config for them, the
SDK client with a gateway key, the pin hash, the admin approvals API and
bounded polling. No fixed sleeps anywhere: everything waits on a condition
with a deadline."""

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import time

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable

FULL_KEY = "tg-mcp-full-key-0123456789"
OPS_KEY = "tg-mcp-ops-key-0123456789"
APPROVER = "tg-mcp-approver-0123456789"
GAMMA_TOKEN = "gamma-secret-token-0123456789"

LEGACY = "legacy"
MODERN = "2026-07-28"
MODES = [LEGACY, MODERN]

# A Python upstream imports the SDK in a few seconds on a busy machine.
START_DEADLINE = 60
# How long a test waits for the gateway to notice a change (isolation,
# recovery, a pinned tool redefined): many probe intervals, never a sleep.
CHANGE_DEADLINE = 20


def sha(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def eventually(what, check, deadline=CHANGE_DEADLINE):
    """Polls `check` until it returns something truthy, which it returns;
    fails naming `what` when the deadline passes first."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def eventually_async(what, check, deadline=CHANGE_DEADLINE):
    """`eventually` for an async `check`, yielding to the event loop between polls."""
    end = time.monotonic() + deadline
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await anyio.sleep(0.05)


class Upstream:
    """One SDK-built HTTP upstream process (`alpha_http.py`, `beta_http.py`):
    its port, its stderr kept in a file, its call log."""

    def __init__(self, script, work_dir, *flags):
        self.name = os.path.splitext(script)[0]
        self.script = os.path.join(HERE, script)
        self.flags = list(flags)
        self.call_log = os.path.join(work_dir, f"{self.name}-calls.jsonl")
        self.err_log = os.path.join(work_dir, f"{self.name}-stderr.log")
        self.port = 0
        self.proc = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"{self.base}/mcp"

    def start(self):
        """Starts it (on its old port after a stop) and waits until it answers."""
        return self.launch().ready()

    def launch(self):
        """Starts the process; `ready` waits for it (so several start at once)."""
        self.mark = os.path.getsize(self.err_log) if os.path.exists(self.err_log) else 0
        with open(self.err_log, "a") as err:
            self.proc = subprocess.Popen(
                [PYTHON, self.script, "--port", str(self.port), "--log", self.call_log, *self.flags],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=HERE,
            )
        return self

    def ready(self):
        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.stderr()}")
            with open(self.err_log) as f:
                f.seek(self.mark)
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            return m and int(m.group(1))

        self.port = eventually(f"{self.name} to listen", listening, START_DEADLINE)
        eventually(f"{self.name} to answer", self.healthy, START_DEADLINE)
        return self

    def healthy(self):
        try:
            return httpx2.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except httpx2.HTTPError:
            return False

    def stop(self):
        """Kills it outright (a crash, not a shutdown) and waits for it to go."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stderr(self):
        with open(self.err_log) as f:
            return f.read()

    def calls(self, tool=None):
        """The calls it received, oldest first: `{"tool", "args", "version"}`."""
        if not os.path.exists(self.call_log):
            return []
        with open(self.call_log) as f:
            entries = [json.loads(line) for line in f if line.strip()]
        return [e for e in entries if tool is None or e["tool"] == tool]

    def control(self, path):
        r = httpx2.post(f"{self.base}/control/{path}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()


def canonical_json(value):
    """RFC 8785 for the values tool schemas hold: members ordered by UTF-16
    code units, minimal string escapes, integral numbers without a fraction."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(f"{canonical_json(k)}:{canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def definition_hash(name, description, input_schema):
    """The gateway's pin of a tool definition (src/guard/tools/pin.rs,
    `definition_hash`): `sha256:` + hex SHA-256 of the canonical JSON of
    `{"name", "description", "parameters"}`, absent fields left out."""
    definition = {"name": name}
    if description is not None:
        definition["description"] = description
    if input_schema is not None:
        definition["parameters"] = input_schema
    return "sha256:" + hashlib.sha256(canonical_json(definition).encode()).hexdigest()


async def direct_tools(upstream):
    """`upstream`'s tools as it lists them itself, by name."""
    async with Client(upstream.url, mode="auto", cache=None) as c:
        return {t.name: t for t in (await c.list_tools()).tools}


@contextlib.asynccontextmanager
async def mcp_client(url, key, mode=MODERN, **options):
    """The official SDK client on `url` with `Authorization: Bearer <key>`;
    `mode` is the SDK's: "legacy" (initialize handshake, a session),
    "2026-07-28" (stateless), or "auto" (discover, then fall back)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode, cache=None, read_timeout_seconds=60, **options) as client:
            yield client


async def all_tools(client):
    """Every tool over every page, and how many pages it took."""
    tools, cursor, pages = [], None, 0
    while True:
        page = await client.list_tools(cursor=cursor)
        pages += 1
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools, pages
        assert pages < 100, "the cursor never ends"


async def tool_names(client):
    return {t.name for t in (await all_tools(client))[0]}


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def admin(gateway, method, path, body=None):
    """The admin API with the approver's token: (status, JSON body)."""
    async with httpx2.AsyncClient(timeout=10) as http:
        r = await http.request(
            method,
            f"{gateway}{path}",
            headers={"authorization": f"Bearer {APPROVER}", "content-type": "application/json"},
            content=json.dumps(body) if body is not None else b"",
        )
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


async def approval_for(gateway, mark, state="pending"):
    """The id of the approval (in `state`, or any) whose arguments contain
    `mark` (each test marks its calls' arguments with a fresh value)."""
    query = f"?state={state}" if state else ""

    async def find():
        status, listing = await admin(gateway, "GET", f"/admin/approvals{query}")
        assert status == 200, listing
        return next((a["id"] for a in listing.get("data", []) if mark in a.get("arguments", "")), None)

    return await eventually_async(f"an approval for {mark}", find)


def gateway_config(mock, work_dir, alpha, beta, delta, echo_pin, approvals):
    """The gateway's TOML: the mock chat model it still needs, a full-access
    key, an "ops" key under a policy that lists only some tools (one pinned,
    one path-confined, one needing approval), an approver, and the four
    upstreams; a small page size so listing takes several pages."""
    gamma = json.dumps(os.path.join(HERE, "gamma_stdio.py"))
    return f"""
[server]
listen = "127.0.0.1:0"
# Two cores: a session must hold whichever core a request lands on.
workers = 2

[routing.retry]
max_attempts = 1

[governance]
store = "{os.path.join(work_dir, "gov.db")}"

[[keys]]
id = "mcp-full"
hash = "sha256:{sha(FULL_KEY)}"

[[keys]]
id = "mcp-ops"
hash = "sha256:{sha(OPS_KEY)}"
tool_policy = "mcp_ops"

[[admin.tokens]]
name = "approver-mcp"
hash = "sha256:{sha(APPROVER)}"
scopes = ["approvals"]

[[providers]]
name = "up-openai"
kind = "openai_compatible"
base_url = "http://{mock}/v1"

[[models]]
name = "m-openai"
provider = "up-openai"
upstream_model = "gpt-up"

[guards.approvals]
{approvals}

[guards.tool_policies.mcp_ops]
undeclared = "refuse"

[[guards.tool_policies.mcp_ops.tools]]
name = "alpha-echo"
pin = "{echo_pin}"

[[guards.tool_policies.mcp_ops.tools]]
name = "alpha-read_file"
paths = [{{ pointer = "/path", root = "/srv/data" }}]

[[guards.tool_policies.mcp_ops.tools]]
name = "alpha-slow"

[[guards.tool_policies.mcp_ops.tools]]
name = "alpha-transfer"
approval = "required"

[[guards.tool_policies.mcp_ops.tools]]
name = "alpha-confirm"

[[guards.tool_policies.mcp_ops.tools]]
name = "beta-add"

[[guards.tool_policies.mcp_ops.tools]]
name = "gamma-whoami"

[mcp]
probe_interval_ms = 200
isolate_after = 1
page_size = 3
call_timeout_ms = 30000

[[mcp.servers]]
name = "alpha"
url = "{alpha.url}"

[[mcp.servers]]
name = "beta"
url = "{beta.url}"

[[mcp.servers]]
name = "delta"
url = "{delta.url}"

[[mcp.servers]]
name = "gamma"
command = {json.dumps(PYTHON)}
args = [{gamma}]
env = {{ GAMMA_TOKEN = "env:GAMMA_TOKEN" }}
"""


# What the ops key's policy lets it see (every tool it lists is up).
OPS_TOOLS = {
    "alpha-echo",
    "alpha-read_file",
    "alpha-slow",
    "alpha-transfer",
    "alpha-confirm",
    "beta-add",
    "gamma-whoami",
}
