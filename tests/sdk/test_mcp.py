"""The MCP gateway at /mcp as the official MCP Python SDK sees it, with
SDK-built upstreams behind it: alpha (Streamable HTTP, both eras), beta
(Streamable HTTP, 2025 era only, JSON answers), delta (2025 era only, asks
for input mid-call) and gamma (stdio, one process per key). Negotiation in both eras, the legacy session rules,
federation (prefixes, pages, a name shortened to 64), per-key policy (a
filtered list, a confined path that never reaches the upstream), approvals
(approve, deny, expire, bound to the arguments and single-use, blocking and
non-blocking), a pinned definition changed under the gateway, a killed
upstream isolated and back, 50 concurrent calls over 5 sessions, progress
as it happens, resources and prompts; a server's request for input
(2026-07-28 `input_required` rounds, a 2025 server's mid-call request)
reaching a client of either era — a 2025 request held open for a
2026-07-28 client's retry — with the round's state sealed to the caller
and the call, and a client without the capability never asked.

The `direct` tests talk to the upstreams without the gateway: they prove
the upstreams and the harness, so a failure elsewhere is the gateway's."""

import asyncio
import contextlib
import json
import os
import sys
import types
import uuid

import anyio
import httpx2
import mcp_types
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.subscriptions import ToolsListChanged

from conftest import DRIVERS, mock_and_gateway

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "mcp"))
import harness as h  # noqa: E402
from harness import FULL_KEY, LEGACY, MODERN, MODES, OPS_KEY  # noqa: E402

pytestmark = pytest.mark.anyio

HANDSHAKE = "2025-11-25"
NON_BLOCKING = 'mode = "non_blocking"'


@pytest.fixture
def anyio_backend():
    return "asyncio"


def fresh():
    """A value no other call in the run carries, to find a call in the logs."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory):
    d = tmp_path_factory.mktemp("mcp-upstreams")
    alpha = h.Upstream("alpha_http.py", d)
    beta = h.Upstream("beta_http.py", d, "--legacy-only", "--json-response")
    delta = h.Upstream("delta_http.py", d, "--legacy-only")
    try:
        for u in (alpha.launch(), beta.launch(), delta.launch()):
            u.ready()
        yield types.SimpleNamespace(alpha=alpha, beta=beta, delta=delta)
    finally:
        alpha.stop()
        beta.stop()
        delta.stop()


@pytest.fixture(scope="module")
def alpha_tools(upstreams):
    return anyio.run(h.direct_tools, upstreams.alpha)


@pytest.fixture(scope="module")
def echo_pin(alpha_tools):
    echo = alpha_tools["echo"]
    return h.definition_hash("alpha-echo", echo.description, echo.input_schema)


@contextlib.contextmanager
def gateway(driver, upstreams, echo_pin, approvals):
    def config(mock, d):
        return h.gateway_config(mock, d, upstreams.alpha, upstreams.beta, upstreams.delta, echo_pin, approvals)

    with mock_and_gateway(driver, "tollgate-sdk-mcp-", config, {"GAMMA_TOKEN": h.GAMMA_TOKEN}) as (_, gw):
        base = f"http://{gw.addr}"
        yield types.SimpleNamespace(base=base, mcp=f"{base}/mcp", proc=gw)


@pytest.fixture(scope="module", params=DRIVERS)
def gw(request, upstreams, echo_pin):
    with gateway(request.param, upstreams, echo_pin, NON_BLOCKING) as g:
        yield g


@pytest.fixture(params=DRIVERS)
def driver(request):
    return request.param


def client(gw, key=FULL_KEY, mode=MODERN, **options):
    return h.mcp_client(gw.mcp, key, mode, **options)


async def refused(call):
    """Whether a call was refused: a JSON-RPC error or an `isError` result."""
    try:
        result = await call
    except MCPError:
        return True
    return bool(result.is_error)


async def slow_with_progress(c, tool, gate, open_gate):
    """Calls a `slow` tool of 3 steps and checks its progress arrives while
    the tool is still held at `gate`, which `open_gate` then opens."""
    seen, all_seen, out = [], anyio.Event(), {}

    async def on_progress(progress, total, message):
        seen.append((progress, total))
        if len(seen) == 3:
            all_seen.set()

    async def call():
        out["result"] = await c.call_tool(tool, {"steps": 3, "gate": gate}, progress_callback=on_progress)

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        with anyio.fail_after(h.CHANGE_DEADLINE):
            await all_seen.wait()
        assert "result" not in out, "the result came before the tool was released"
        await anyio.to_thread.run_sync(open_gate)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert h.text_of(out["result"]) == "done after 3 steps"


# ---- the upstreams on their own (no gateway) ----


def test_pin_hash_has_the_gateways_canonical_form():
    # The form src/guard/tools/pin.rs documents and tests.
    assert h.canonical_json({"name": "n", "description": "d", "parameters": {"a": 1.0}}) == (
        '{"description":"d","name":"n","parameters":{"a":1}}'
    )
    assert h.definition_hash("n", "d", {"a": 1.0}) == h.definition_hash("n", "d", {"a": 1})
    assert h.definition_hash("n", "d", {"a": 1}) != h.definition_hash("n", None, {"a": 1})


@pytest.mark.parametrize("mode", ["auto", LEGACY])
async def test_direct_alpha_speaks_both_eras(upstreams, mode):
    alpha = upstreams.alpha
    version = MODERN if mode == "auto" else HANDSHAKE
    async with Client(alpha.url, mode=mode, cache=None) as c:
        assert c.protocol_version == version
        assert {t.name for t in (await c.list_tools()).tools} == {"echo", "read_file", "slow", "fail", "transfer", "confirm"}
        word = fresh()
        assert h.text_of(await c.call_tool("echo", {"text": word})) == word
        failed = await c.call_tool("fail", {})
        assert failed.is_error and "failed on purpose" in h.text_of(failed)
    assert [e["version"] for e in alpha.calls("echo") if e["args"] == {"text": word}] == [version]


@pytest.mark.parametrize("mode", ["auto", LEGACY])
async def test_direct_alpha_progress_arrives_before_its_gate_opens(upstreams, mode):
    alpha = upstreams.alpha
    gate = f"gate-{fresh()}"
    async with Client(alpha.url, mode=mode, cache=None) as c:
        await slow_with_progress(c, "slow", gate, lambda: alpha.control(f"open/{gate}"))


async def test_direct_alpha_resources_prompts_and_mutation(upstreams):
    alpha = upstreams.alpha
    async with Client(alpha.url, mode=MODERN, cache=None) as c:
        assert [str(r.uri) for r in (await c.list_resources()).resources] == ["file:///alpha/readme.txt"]
        templates = (await c.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["file:///alpha/items/{id}"]
        assert (await c.read_resource("file:///alpha/items/42")).contents[0].text == "item 42"
        greeting = await c.get_prompt("greet", {"name": "Ann"})
        assert greeting.messages[0].content.text == "Say hello to Ann."

        def pin(tool):
            return h.definition_hash("alpha-echo", tool.description, tool.input_schema)

        original = {t.name: t for t in (await c.list_tools()).tools}["echo"]
        try:
            async with c.listen(tools_list_changed=True) as sub:
                await anyio.to_thread.run_sync(alpha.control, "mutate")
                with anyio.fail_after(h.CHANGE_DEADLINE):
                    async for event in sub:
                        assert isinstance(event, ToolsListChanged)
                        break
            changed = {t.name: t for t in (await c.list_tools()).tools}["echo"]
            assert "~/.ssh" in changed.description and pin(changed) != pin(original)
        finally:
            alpha.control("restore")
        restored = {t.name: t for t in (await c.list_tools()).tools}["echo"]
        assert pin(restored) == pin(original)


async def test_direct_beta_is_legacy_only(upstreams):
    beta = upstreams.beta
    async with Client(beta.url, mode="auto", cache=None) as c:
        assert c.protocol_version == HANDSHAKE
        names = {t.name for t in (await c.list_tools()).tools}
        assert {"add", "search"} <= names and max(len(n) for n in names) == 70
        assert h.text_of(await c.call_tool("add", {"a": 2, "b": 3})) == "5"
    async with Client(beta.url, mode=MODERN, cache=None) as c:
        with pytest.raises(MCPError):
            await c.list_tools()


async def test_direct_gamma_over_stdio():
    script = os.path.join(h.HERE, "gamma_stdio.py")
    params = StdioServerParameters(command=h.PYTHON, args=[script], env={"GAMMA_TOKEN": h.GAMMA_TOKEN})
    async with Client(params, cache=None) as c:
        me = json.loads(h.text_of(await c.call_tool("whoami", {})))
        assert me["token_set"] and me["pid"] > 0
        assert h.text_of(await c.call_tool("echo", {"text": "hi"})) == "hi"


# ---- negotiation ----


async def test_modern_client_negotiates_2026_07_28(gw):
    async with client(gw, mode="auto") as c:
        assert c.protocol_version == MODERN
        assert c.server_capabilities.tools is not None


async def test_legacy_client_negotiates_the_handshake(gw):
    async with client(gw, mode=LEGACY) as c:
        assert c.protocol_version == HANDSHAKE
        assert c.server_info is not None
        assert c.server_capabilities.tools is not None


def raw(gw, body, key=FULL_KEY, session=None, version=HANDSHAKE, method="POST", headers=None):
    """One request to /mcp as a client would send it, headers and all."""
    sent = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    if key:
        sent["authorization"] = f"Bearer {key}"
    if version:
        sent["mcp-protocol-version"] = version
    if session:
        sent["mcp-session-id"] = session
    sent.update(headers or {})
    content = json.dumps(body) if body is not None else None
    return httpx2.request(method, gw.mcp, headers=sent, content=content, timeout=30)


def rpc(response):
    """The JSON-RPC message of an answer, whether JSON or an SSE stream."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        datas = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        messages = [json.loads(d) for d in datas if d]
        return next(m for m in reversed(messages) if "result" in m or "error" in m)
    return response.json()


def initialize(version):
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
    }


TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


def open_session(gw, key=FULL_KEY, version=HANDSHAKE):
    r = raw(gw, initialize(version), key=key, version=None)
    assert r.status_code == 200, r.text
    assert rpc(r)["result"]["protocolVersion"] == version
    session = r.headers.get("mcp-session-id")
    assert session, r.headers
    done = raw(gw, {"jsonrpc": "2.0", "method": "notifications/initialized"}, key=key, session=session, version=version)
    assert done.status_code == 202, done.text
    return session


@pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25"])
def test_each_handshake_revision_is_negotiated(gw, version):
    session = open_session(gw, version=version)
    listed = raw(gw, TOOLS_LIST, session=session, version=version)
    assert listed.status_code == 200, listed.text
    # A first page (three tools): some of alpha's, named with its prefix.
    assert any(t["name"].startswith("alpha-") for t in rpc(listed)["result"]["tools"]), listed.text
    assert raw(gw, None, session=session, version=version, method="DELETE").status_code in (200, 202, 204)


def test_legacy_session_rules(gw):
    assert raw(gw, TOOLS_LIST).status_code == 400, "no session"
    assert raw(gw, TOOLS_LIST, session="no-such-session").status_code == 404
    session = open_session(gw)
    assert raw(gw, TOOLS_LIST, session=session).status_code == 200
    # Bound to the key that opened it: another key, or none, cannot use it.
    stolen = raw(gw, TOOLS_LIST, key=OPS_KEY, session=session)
    assert stolen.status_code in (401, 403, 404), stolen.text
    assert raw(gw, TOOLS_LIST, key=None, session=session).status_code == 401
    # Still the owner's after the attempts; gone after DELETE.
    assert raw(gw, TOOLS_LIST, session=session).status_code == 200
    assert raw(gw, None, session=session, method="DELETE").status_code in (200, 202, 204)
    assert raw(gw, TOOLS_LIST, session=session).status_code == 404


def modern(method, params=None, version=MODERN, id=1):
    meta = {
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    }
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": {**(params or {}), "_meta": meta}}


def test_modern_requests_are_checked(gw, upstreams):
    found = raw(gw, modern("server/discover"), version=MODERN, headers={"mcp-method": "server/discover"})
    assert found.status_code == 200, found.text
    result = rpc(found)["result"]
    assert MODERN in result["supportedVersions"] and result["resultType"] == "complete"
    # A revision it does not speak: 400, -32022, and the ones it does.
    future = raw(gw, modern("tools/list", version="2099-01-01"), version="2099-01-01", headers={"mcp-method": "tools/list"})
    assert future.status_code == 400, future.text
    error = rpc(future)["error"]
    assert error["code"] == -32022 and MODERN in error["data"]["supported"]
    # Headers that disagree with the body: 400, -32020, and no call upstream.
    word = fresh()
    call = modern("tools/call", {"name": "alpha-echo", "arguments": {"text": word}})
    mismatch = raw(gw, call, version=MODERN, headers={"mcp-method": "tools/call", "mcp-name": "alpha-fail"})
    assert mismatch.status_code == 400, mismatch.text
    assert rpc(mismatch)["error"]["code"] == -32020
    missing = raw(gw, call, version=MODERN, headers={"mcp-method": "tools/call"})
    assert missing.status_code == 400, missing.text
    assert not [e for e in upstreams.alpha.calls("echo") if e["args"] == {"text": word}]
    # No sessions in this era: GET and DELETE are not allowed.
    for method in ("GET", "DELETE"):
        assert raw(gw, None, version=MODERN, method=method).status_code == 405


def test_direct_raw_requests_are_answered_as_the_spec_says(upstreams):
    # The raw requests above, sent to alpha (the SDK's own server), get the
    # answers the gateway tests expect of the gateway.
    alpha = types.SimpleNamespace(mcp=upstreams.alpha.url)
    assert raw(alpha, TOOLS_LIST, key=None).status_code == 400
    assert raw(alpha, TOOLS_LIST, key=None, session="no-such-session").status_code == 404
    session = open_session(alpha, key=None)
    assert raw(alpha, TOOLS_LIST, key=None, session=session).status_code == 200
    assert raw(alpha, None, key=None, session=session, method="DELETE").status_code == 200
    assert raw(alpha, TOOLS_LIST, key=None, session=session).status_code == 404
    listing = {"mcp-method": "tools/list"}
    future = raw(alpha, modern("tools/list", version="2099-01-01"), key=None, version="2099-01-01", headers=listing)
    assert future.status_code == 400 and rpc(future)["error"]["code"] == -32022
    call = modern("tools/call", {"name": "echo", "arguments": {"text": fresh()}})
    mismatch = raw(alpha, call, key=None, version=MODERN, headers={"mcp-method": "tools/call", "mcp-name": "fail"})
    assert mismatch.status_code == 400 and rpc(mismatch)["error"]["code"] == -32020
    assert raw(alpha, None, key=None, version=MODERN, method="GET").status_code == 405


# ---- federation ----


@pytest.mark.parametrize("mode", MODES)
async def test_federated_list_and_call(gw, upstreams, alpha_tools, mode):
    async with client(gw, FULL_KEY, mode) as c:
        tools, pages = await h.all_tools(c)
        by_name = {t.name: t for t in tools}
        assert len(by_name) == len(tools), "a tool listed twice across pages"
        assert {
            "alpha-echo",
            "alpha-read_file",
            "alpha-slow",
            "alpha-fail",
            "alpha-transfer",
            "beta-add",
            "beta-search",
            "gamma-whoami",
            "gamma-echo",
        } <= set(by_name)
        assert pages >= 4, "page_size 3 over 10 tools"
        assert by_name["alpha-echo"].input_schema == alpha_tools["echo"].input_schema
        word = fresh()
        assert h.text_of(await c.call_tool("alpha-echo", {"text": word})) == word
        assert h.text_of(await c.call_tool("beta-add", {"a": 2, "b": 40})) == "42"
        assert h.text_of(await c.call_tool("gamma-echo", {"text": word})) == word
        failed = await c.call_tool("alpha-fail", {})
        assert failed.is_error and "failed on purpose" in h.text_of(failed)


async def test_long_name_is_shortened_to_64_and_callable(gw, upstreams):
    async def long_name(c):
        tools, _ = await h.all_tools(c)
        found = [t.name for t in tools if t.description == "A tool whose name leaves no room for a prefix."]
        assert len(found) == 1, [t.name for t in tools]
        return found[0]

    async with client(gw, mode=LEGACY) as c:
        first = await long_name(c)
    async with client(gw, mode=MODERN) as c:
        name = await long_name(c)
        assert name == first, "shortening is deterministic"
        assert len(name) <= 64 and name.startswith("beta-")
        region = fresh()
        assert h.text_of(await c.call_tool(name, {"region": region})) == f"revenue summary for {region}"
    reached = [e["tool"] for e in upstreams.beta.calls() if e["args"] == {"region": region}]
    assert len(reached) == 1 and len(reached[0]) == 70


async def test_each_upstream_is_spoken_to_in_its_newest_revision(gw, upstreams):
    word, n = fresh(), int(uuid.uuid4().int % 10**6)
    async with client(gw, mode=MODERN) as c:
        await c.call_tool("alpha-echo", {"text": word})
        await c.call_tool("beta-add", {"a": n, "b": 1})
    assert [e["version"] for e in upstreams.alpha.calls("echo") if e["args"] == {"text": word}] == [MODERN]
    assert [e["version"] for e in upstreams.beta.calls("add") if e["args"] == {"a": n, "b": 1}] == [HANDSHAKE]


# ---- policy ----


@pytest.mark.parametrize("mode", MODES)
async def test_a_key_sees_and_calls_only_its_tools(gw, upstreams, mode):
    query = fresh()
    async with client(gw, OPS_KEY, mode) as c:
        assert await h.tool_names(c) == h.OPS_TOOLS
        assert h.text_of(await c.call_tool("beta-add", {"a": 1, "b": 1})) == "2"
        with pytest.raises(MCPError):
            await c.call_tool("beta-search", {"query": query})
        with pytest.raises(MCPError):
            await c.call_tool("gamma-echo", {"text": query})
    assert not [e for e in upstreams.beta.calls("search") if e["args"] == {"query": query}]


async def test_a_refused_path_never_reaches_the_upstream(gw, upstreams):
    mark = fresh()
    allowed = f"/srv/data/reports/{mark}.txt"
    refused_paths = [
        "../etc/passwd",
        f"/srv/data/{mark}/../../../etc/passwd",
        f"/srv/data/../etc/{mark}",
        f"/srv/database/{mark}",
        f"/srv/data-evil/{mark}",
        f"/etc/{mark}",
    ]
    async with client(gw, OPS_KEY) as c:
        assert h.text_of(await c.call_tool("alpha-read_file", {"path": allowed})) == f"contents of {allowed}"
        for path in refused_paths:
            with pytest.raises(MCPError) as e:
                await c.call_tool("alpha-read_file", {"path": path})
            assert e.value.code == -32602, (path, e.value)
    reached = [e["args"]["path"] for e in upstreams.alpha.calls("read_file")]
    assert allowed in reached
    assert not set(refused_paths) & set(reached)


# ---- approvals ----


def transfers(alpha, mark):
    return [e["args"] for e in alpha.calls("transfer") if mark in e["args"]["to"]]


async def held(c, gw, args, state="pending"):
    """A non-blocking call to an approval-required tool: an `isError` result
    naming the approval it created, which is returned."""
    first = await c.call_tool("alpha-transfer", args)
    assert first.is_error, first
    approval = await h.approval_for(gw.base, args["to"], state)
    assert approval in h.text_of(first)
    return approval


async def test_approval_releases_only_the_approved_arguments_once(gw, upstreams):
    mark = fresh()
    args = {"to": f"bob-{mark}", "amount": 5}
    other = {"to": f"mallory-{mark}", "amount": 5}
    async with client(gw, OPS_KEY) as c:
        approval = await held(c, gw, args)
        meta = {"tollgate/approval": approval}
        status, view = await h.admin(gw.base, "GET", f"/admin/approvals/{approval}")
        assert status == 200 and view["tool"] == "alpha-transfer" and args["to"] in view["arguments"], view
        # Resubmitted before anyone decides: refused, and the approval not used up.
        assert await refused(c.call_tool("alpha-transfer", args, meta=meta))
        status, decided = await h.admin(gw.base, "POST", f"/admin/approvals/{approval}/approve")
        assert status == 200 and decided["decided_by"] == "approver-mcp", decided
        assert await refused(c.call_tool("alpha-transfer", other, meta=meta)), "other arguments"
        released = await c.call_tool("alpha-transfer", args, meta=meta)
        assert not released.is_error and h.text_of(released) == f"transferred 5 to bob-{mark}"
        assert await refused(c.call_tool("alpha-transfer", args, meta=meta)), "used twice"
    assert transfers(upstreams.alpha, mark) == [args]


async def test_a_denied_approval_releases_nothing(gw, upstreams):
    mark = fresh()
    args = {"to": f"carol-{mark}", "amount": 7}
    async with client(gw, OPS_KEY, LEGACY) as c:
        approval = await held(c, gw, args)
        status, decided = await h.admin(gw.base, "POST", f"/admin/approvals/{approval}/deny", {"reason": "not today"})
        assert status == 200, decided
        assert await refused(c.call_tool("alpha-transfer", args, meta={"tollgate/approval": approval}))
        status, _ = await h.admin(gw.base, "POST", f"/admin/approvals/{approval}/approve")
        assert status == 409, "a decided approval cannot be decided again"
    assert transfers(upstreams.alpha, mark) == []


async def test_an_expired_approval_releases_nothing(driver, upstreams, echo_pin):
    mark = fresh()
    args = {"to": f"dave-{mark}", "amount": 9}
    with gateway(driver, upstreams, echo_pin, f"{NON_BLOCKING}\nttl_ms = 300") as g:
        async with client(g, OPS_KEY) as c:
            # Any state: with so short a life it may have expired already.
            approval = await held(c, g, args, state=None)

            async def expired():
                status, view = await h.admin(g.base, "GET", f"/admin/approvals/{approval}")
                return status == 200 and view["state"] == "expired"

            await h.eventually_async("the approval to expire", expired)
            status, _ = await h.admin(g.base, "POST", f"/admin/approvals/{approval}/approve")
            assert status != 200
            assert await refused(c.call_tool("alpha-transfer", args, meta={"tollgate/approval": approval}))
    assert transfers(upstreams.alpha, mark) == []


async def test_blocking_approval_holds_the_call_until_decided(driver, upstreams, echo_pin):
    mark = fresh()
    approved = {"to": f"erin-{mark}", "amount": 1}
    denied = {"to": f"frank-{mark}", "amount": 2}
    with gateway(driver, upstreams, echo_pin, 'mode = "blocking"\nwait_ms = 30000') as g:
        async with client(g, OPS_KEY) as c:
            for args, decision in ((approved, "approve"), (denied, "deny")):
                out = {}

                async def call():
                    try:
                        out["result"] = await c.call_tool("alpha-transfer", args)
                    except MCPError as e:
                        out["error"] = e

                async with anyio.create_task_group() as tg:
                    tg.start_soon(call)
                    approval = await h.approval_for(g.base, args["to"])
                    assert not out and transfers(upstreams.alpha, args["to"]) == [], "released before a decision"
                    status, _ = await h.admin(g.base, "POST", f"/admin/approvals/{approval}/{decision}")
                    assert status == 200
                if decision == "approve":
                    assert h.text_of(out["result"]) == f"transferred 1 to erin-{mark}"
                else:
                    assert "error" in out or out["result"].is_error
    assert transfers(upstreams.alpha, mark) == [approved]


# ---- load, progress, resources, stdio ----


async def test_fifty_concurrent_calls_over_five_sessions(gw):
    tag = fresh()
    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(client(gw, mode=LEGACY)) for _ in range(5)]

        async def one(s, i):
            if i % 2:
                text = f"{tag}-{s}-{i}"
                return h.text_of(await sessions[s].call_tool("alpha-echo", {"text": text})) == text
            return h.text_of(await sessions[s].call_tool("beta-add", {"a": 100 * s, "b": i})) == str(100 * s + i)

        answers = await asyncio.gather(*(one(s, i) for s in range(5) for i in range(10)))
    assert answers == [True] * 50


@pytest.mark.parametrize("mode", MODES)
async def test_progress_is_forwarded_as_it_happens(gw, upstreams, mode):
    gate = f"gate-{fresh()}"
    async with client(gw, mode=mode) as c:
        await slow_with_progress(c, "alpha-slow", gate, lambda: upstreams.alpha.control(f"open/{gate}"))


@pytest.mark.parametrize("mode", MODES)
async def test_resources_and_prompts_are_federated(gw, mode):
    async with client(gw, mode=mode) as c:
        resources = {str(r.uri): r for r in (await c.list_resources()).resources}
        assert resources["file:///alpha/readme.txt"].name == "alpha-readme"
        templates = {t.uri_template: t for t in (await c.list_resource_templates()).resource_templates}
        assert templates["file:///alpha/items/{id}"].name == "alpha-item"
        assert (await c.read_resource("file:///alpha/readme.txt")).contents[0].text == "Alpha's readme."
        assert (await c.read_resource("file:///alpha/items/42")).contents[0].text == "item 42"
        assert "alpha-greet" in {p.name for p in (await c.list_prompts()).prompts}
        greeting = await c.get_prompt("alpha-greet", {"name": "Ann"})
        assert greeting.messages[0].content.text == "Say hello to Ann."


async def test_a_stdio_process_per_key(gw):
    async def whoami(key):
        async with client(gw, key) as c:
            return json.loads(h.text_of(await c.call_tool("gamma-whoami", {})))

    full, again, ops = await whoami(FULL_KEY), await whoami(FULL_KEY), await whoami(OPS_KEY)
    assert full["pid"] == again["pid"], "one key keeps its process"
    assert ops["pid"] != full["pid"], "two keys never share one"
    assert full["token_set"] and ops["token_set"], "the env reference reached the process"


# ---- input from the client mid-call (elicitation) ----


def elicited_answers(ok=True):
    """An elicitation callback answering `ok`, and the messages it was asked."""
    asked = []

    async def on_elicit(context, params):
        asked.append(params.message)
        return mcp_types.ElicitResult(action="accept", content={"ok": ok})

    return asked, on_elicit


@pytest.mark.parametrize("mode", MODES)
async def test_a_modern_servers_input_request_reaches_a_client_of_either_era(gw, upstreams, mode):
    """Alpha is spoken to in 2026-07-28: it answers `input_required`. A
    modern client gets the round and retries; a 2025 client is asked the
    same question as a request on its call's stream."""
    action = f"deploy-{fresh()}"
    asked, on_elicit = elicited_answers()
    async with client(gw, mode=mode, elicitation_callback=on_elicit) as c:
        result = await c.call_tool("alpha-confirm", {"action": action})
    assert not result.is_error, h.text_of(result)
    assert h.text_of(result) == f"{action}: confirmed"
    assert asked == [f"Go ahead with {action}?"]
    reached = [e for e in upstreams.alpha.calls("confirm") if e["args"]["action"] == action]
    assert [(e["version"], e["args"]["ok"]) for e in reached] == [(MODERN, True)]


@pytest.mark.parametrize("mode", MODES)
async def test_a_2025_servers_mid_call_request_reaches_a_client_of_either_era(gw, upstreams, mode):
    """Delta (2025 era) asks with a request of its own mid-call, and waits.
    A 2025 client is asked on its call's stream; a 2026-07-28 client gets
    `input_required` while the gateway holds the call, and its retry's
    answer goes to the waiting server. Either way the server gets the
    client's answer and finishes the one call."""
    action = f"rollback-{fresh()}"
    asked, on_elicit = elicited_answers(ok=False)
    async with client(gw, mode=mode, elicitation_callback=on_elicit) as c:
        with anyio.fail_after(h.CHANGE_DEADLINE):
            result = await c.call_tool("delta-confirm", {"action": action})
    assert h.text_of(result) == f"{action}: declined"
    assert asked == [f"Go ahead with {action}?"]
    reached = [e for e in upstreams.delta.calls("confirm") if e["args"]["action"] == action]
    assert [(e["version"], e["args"]["ok"]) for e in reached] == [(HANDSHAKE, False)]


async def test_a_client_without_the_capability_is_not_asked(gw, upstreams):
    """A client that declares no elicitation is never asked: the server is
    told so and the call ends (here with the server's error), not hangs."""
    action = f"purge-{fresh()}"
    for mode in MODES:
        async with client(gw, mode=mode) as c:
            with anyio.fail_after(h.CHANGE_DEADLINE):
                assert await refused(c.call_tool("delta-confirm", {"action": action}))
    assert not [e for e in upstreams.delta.calls("confirm") if e["args"]["action"] == action]


async def test_a_rounds_state_is_sealed_to_its_caller_and_call(gw, upstreams):
    """The `requestState` a modern client is given is the gateway's seal
    over the server's: another key, other arguments or a changed byte are
    refused before anything reaches the server; the sealed one is served."""
    action = f"scale-{fresh()}"
    headers = {
        "authorization": f"Bearer {FULL_KEY}",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": "alpha-confirm",
    }
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
    }

    def call(n, key=FULL_KEY, args=None, **extra):
        params = {"name": "alpha-confirm", "arguments": args or {"action": action}, "_meta": meta, **extra}
        body = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params}
        r = httpx2.post(gw.mcp, json=body, headers={**headers, "authorization": f"Bearer {key}"}, timeout=30)
        text = r.text
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            text = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")][-1]
        return json.loads(text)

    first = call(1)["result"]
    assert first["resultType"] == "input_required", first
    (key, request), = first["inputRequests"].items()
    assert request["method"] == "elicitation/create"
    state = first["requestState"]
    assert state.startswith("tg1.")
    answers = {key: {"action": "accept", "content": {"ok": True}}}

    def refused(reply):
        return "error" in reply and "requestState" in reply["error"]["message"]

    flipped = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
    assert refused(call(2, OPS_KEY, inputResponses=answers, requestState=state))
    assert refused(call(3, args={"action": action + "!"}, inputResponses=answers, requestState=state))
    assert refused(call(4, inputResponses=answers, requestState=flipped))
    assert refused(call(5, inputResponses=answers, requestState="made-up"))
    assert not [e for e in upstreams.alpha.calls("confirm") if e["args"]["action"].startswith(action)]
    done = call(6, inputResponses=answers, requestState=state)["result"]
    assert done["resultType"] == "complete" and done["content"][0]["text"] == f"{action}: confirmed"
    assert [e["args"]["ok"] for e in upstreams.alpha.calls("confirm") if e["args"]["action"] == action] == [True]


# ---- changes under the gateway (these disturb an upstream, so they run last) ----


async def test_a_changed_pinned_definition_hides_the_tool(gw, upstreams):
    alpha, word = upstreams.alpha, fresh()
    try:
        async with client(gw, OPS_KEY) as c:
            assert "alpha-echo" in await h.tool_names(c)
            async with c.listen(tools_list_changed=True) as sub:
                await anyio.to_thread.run_sync(alpha.control, "mutate")
                with anyio.fail_after(h.CHANGE_DEADLINE):
                    async for event in sub:
                        assert isinstance(event, ToolsListChanged)
                        break

            async def hidden():
                return "alpha-echo" not in await h.tool_names(c)

            await h.eventually_async("the redefined alpha-echo to be hidden", hidden)
            assert await refused(c.call_tool("alpha-echo", {"text": word}))
            # The rest of alpha is untouched.
            path = f"/srv/data/{word}"
            assert h.text_of(await c.call_tool("alpha-read_file", {"path": path})) == f"contents of {path}"
    finally:
        alpha.control("restore")
    assert not [e for e in alpha.calls("echo") if e["args"] == {"text": word}]


async def test_a_killed_upstream_is_isolated_and_comes_back(gw, upstreams):
    beta = upstreams.beta
    async with client(gw) as c:
        assert "beta-add" in await h.tool_names(c)
        beta.stop()
        try:

            async def beta_gone():
                return not any(n.startswith("beta-") for n in await h.tool_names(c))

            await h.eventually_async("beta's tools to drop out", beta_gone)
            word = fresh()
            assert h.text_of(await c.call_tool("alpha-echo", {"text": word})) == word
            try:
                result = await c.call_tool("beta-add", {"a": 1, "b": 2})
                message = h.text_of(result)
                assert result.is_error, message
            except MCPError as e:
                message = e.message
            assert "beta" in message.lower(), f"the error should name the server: {message}"
        finally:
            await anyio.to_thread.run_sync(beta.start)

        async def beta_back():
            return "beta-add" in await h.tool_names(c)

        await h.eventually_async("beta's tools to come back", beta_back)
        assert h.text_of(await c.call_tool("beta-add", {"a": 20, "b": 22})) == "42"
