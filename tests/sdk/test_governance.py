"""Governance as the official SDKs see it: gateway keys (from the config and
from the admin API), model allowlists, a rate limit and a budget raising the
SDKs' own exception classes, and what requests cost — the `x-tollgate-cost`
header on whole answers and, when asked for, the cost in a stream's usage.

The module starts its own mock upstream and gateway per driver, with a
governance store in a temporary directory, an admin token, and prices for
the two upstream models whose arithmetic is exact in nano-dollars."""

import hashlib
import json
import os
import urllib.error
import urllib.request
from decimal import Decimal

import anthropic
import openai
import pytest

from conftest import DRIVERS, mock_and_gateway

ADMIN = "tg-admin-token-for-sdk-tests"

# The config's keys: one given by reference to the environment, the rest by
# their SHA-256 digest, so the config holds no secret.
MAIN = "tg-sdk-gov-main-key-01"
PRICED = "tg-sdk-gov-priced-key-02"
RPM_KEY = {"openai": "tg-sdk-gov-rpm-openai", "anthropic": "tg-sdk-gov-rpm-anthropic"}
BUDGET_KEY = {"openai": "tg-sdk-gov-budget-openai", "anthropic": "tg-sdk-gov-budget-anthropic"}
RPM = 2

# USD per million tokens: a token costs 2500 or 10000 nano-dollars (gpt-up),
# 3000 or 15000 (claude-up).
PRICES = {"gpt-up": (Decimal("2.5"), Decimal("10")), "claude-up": (Decimal("3"), Decimal("15"))}
# The gateway model per upstream format, and the model it reaches.
MODEL = {"openai": "m-openai", "anthropic": "m-anthropic"}
UPSTREAM = {"m-openai": "gpt-up", "m-anthropic": "claude-up"}
SDKS = ["openai", "anthropic"]
USER = [{"role": "user", "content": "hello governance"}]


def sha(secret):
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


CONFIG = """
[server]
listen = "127.0.0.1:0"
workers = 1

[routing.retry]
max_attempts = 1

[routing.breaker]
enabled = false

[governance]
store = "{store}"

[[admin.tokens]]
name = "sdk-ops"
token = "env:TOLLGATE_SDK_ADMIN_TOKEN"
scopes = ["read", "keys"]

# Only the OpenAI-format model.
[[keys]]
id = "main"
key = "env:TOLLGATE_SDK_GOV_KEY"
models = ["m-openai"]

[[keys]]
id = "priced"
hash = "{priced}"

[[keys]]
id = "rpm-openai"
hash = "{rpm_openai}"
limits = {{ rpm = {rpm} }}

[[keys]]
id = "rpm-anthropic"
hash = "{rpm_anthropic}"
limits = {{ rpm = {rpm} }}

# A few requests' worth: each reserves its prompt and 16 output tokens.
[[keys]]
id = "budget-openai"
hash = "{budget_openai}"
budgets = {{ total_usd = 0.001 }}

[[keys]]
id = "budget-anthropic"
hash = "{budget_anthropic}"
budgets = {{ total_usd = 0.001 }}

[[providers]]
name = "up-openai"
kind = "openai_compatible"
base_url = "http://{mock}/v1"
forward_headers = ["x-mock-*"]

[[providers]]
name = "up-anthropic"
kind = "anthropic"
base_url = "http://{mock}/v1"
forward_headers = ["x-mock-*"]

[catalog."gpt-up"]
context_window = 100000
max_output_tokens = 4096
tokenizer = "o200k"
price = {{ input = 2.5, output = 10.0 }}

[catalog."claude-up"]
context_window = 200000
max_output_tokens = 8192
tokenizer = "claude"
price = {{ input = 3.0, output = 15.0 }}

[[models]]
name = "m-openai"
provider = "up-openai"
upstream_model = "gpt-up"

[[models]]
name = "m-anthropic"
provider = "up-anthropic"
upstream_model = "claude-up"
"""


@pytest.fixture(scope="module", params=DRIVERS)
def gov(request):
    """A mock upstream and a governed gateway on one driver, with a fresh store."""
    config = lambda mock, d: CONFIG.format(
        mock=mock,
        store=os.path.join(d, "gov.db"),
        priced=sha(PRICED),
        rpm=RPM,
        rpm_openai=sha(RPM_KEY["openai"]),
        rpm_anthropic=sha(RPM_KEY["anthropic"]),
        budget_openai=sha(BUDGET_KEY["openai"]),
        budget_anthropic=sha(BUDGET_KEY["anthropic"]),
    )
    secrets = {"TOLLGATE_SDK_GOV_KEY": MAIN, "TOLLGATE_SDK_ADMIN_TOKEN": ADMIN}
    with mock_and_gateway(request.param, "tollgate-sdk-gov-", config, secrets) as (_, gw):
        yield f"http://{gw.addr}"


@pytest.fixture(params=SDKS)
def sdk(request):
    return request.param


def client(sdk, gateway, key):
    if sdk == "openai":
        return openai.OpenAI(api_key=key, base_url=gateway + "/v1", max_retries=0, timeout=20)
    return anthropic.Anthropic(api_key=key, base_url=gateway, max_retries=0, timeout=20)


def errors(sdk):
    """The SDK's module, whose exception classes share their names."""
    return openai if sdk == "openai" else anthropic


def whole(sdk, gateway, key, model, raw=False, **kwargs):
    """One whole answer; with `raw`, the SDK's raw response (headers and all)."""
    c = client(sdk, gateway, key)
    if sdk == "openai":
        create = c.chat.completions.with_raw_response.create if raw else c.chat.completions.create
        return create(model=model, max_tokens=16, messages=USER, **kwargs)
    create = c.messages.with_raw_response.create if raw else c.messages.create
    return create(model=model, max_tokens=16, messages=USER, **kwargs)


def stream_events(sdk, gateway, key, model, **kwargs):
    """Every event (OpenAI: chunk) of a streamed answer, through the SDK's
    streaming API, read to its end."""
    c = client(sdk, gateway, key)
    if sdk == "openai":
        return list(c.chat.completions.create(model=model, max_tokens=16, messages=USER, stream=True, **kwargs))
    with c.messages.stream(model=model, max_tokens=16, messages=USER, **kwargs) as s:
        events = list(s)
        events.append(s.get_final_message())
    return events


def error_object(e):
    """The `error` object of an SDK exception's body, in either dialect."""
    body = e.body
    assert isinstance(body, dict), body
    return body.get("error", body)


def admin(gateway, method, path, body=None):
    """An admin API call with urllib: (status, JSON answer)."""
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(
        gateway + path, data=data, method=method,
        headers={"authorization": f"Bearer {ADMIN}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def cost_of(model, prompt_tokens, completion_tokens):
    """USD for the usage at the configured prices (per million tokens)."""
    price_in, price_out = PRICES[UPSTREAM[model]]
    return (prompt_tokens * price_in + completion_tokens * price_out) / Decimal(1_000_000)


def usage_tokens(sdk, usage):
    """(prompt, completion) tokens as the gateway prices them: Anthropic's
    `input_tokens` leave out cache reads and writes, which are prompt too."""
    if sdk == "openai":
        return usage.prompt_tokens, usage.completion_tokens
    prompt = usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
    return prompt, usage.output_tokens


# Keys from the config, in each SDK.


def test_configured_key_is_accepted(gov, sdk):
    answer = whole(sdk, gov, MAIN, MODEL["openai"])
    if sdk == "openai":
        assert answer.choices[0].message.content == "hello governance"
    else:
        assert answer.content[0].text == "hello governance"


def test_wrong_key_is_authentication_error(gov, sdk):
    with pytest.raises(errors(sdk).AuthenticationError) as e:
        whole(sdk, gov, "tg-not-a-key-of-this-gateway", MODEL["openai"])
    assert e.value.status_code == 401
    assert "tg-not-a-key-of-this-gateway" not in e.value.response.text


def test_model_outside_the_allowlist_is_permission_denied(gov, sdk):
    with pytest.raises(errors(sdk).PermissionDeniedError) as e:
        whole(sdk, gov, MAIN, MODEL["anthropic"])
    err = error_object(e.value)
    if sdk == "openai":
        assert err["code"] == "model_not_allowed", err
    else:
        assert err["type"] == "permission_error", err
    assert "m-anthropic" in err["message"], err
    # The same key still reaches the model it may use.
    whole(sdk, gov, MAIN, MODEL["openai"])


# Keys from the admin API.


def test_admin_created_key_works_at_once_and_stops_when_revoked(gov, sdk):
    status, created = admin(gov, "POST", "/admin/keys", {"id": f"made-{sdk}", "models": [MODEL["anthropic"]]})
    assert status == 201, created
    secret = created["key"]
    assert secret.startswith("tg-")
    whole(sdk, gov, secret, MODEL["anthropic"])
    # Its allowlist holds as a config key's does.
    with pytest.raises(errors(sdk).PermissionDeniedError):
        whole(sdk, gov, secret, MODEL["openai"])
    status, listed = admin(gov, "GET", "/admin/keys")
    assert status == 200 and secret not in json.dumps(listed)
    status, revoked = admin(gov, "POST", f"/admin/keys/made-{sdk}/revoke")
    assert status == 200 and revoked["revoked_at"], revoked
    for _ in range(3):
        with pytest.raises(errors(sdk).AuthenticationError):
            whole(sdk, gov, secret, MODEL["anthropic"])


def test_rotated_key_replaces_the_old_secret(gov, sdk):
    status, created = admin(gov, "POST", "/admin/keys", {"id": f"turning-{sdk}"})
    assert status == 201, created
    status, rotated = admin(gov, "POST", f"/admin/keys/turning-{sdk}/rotate")
    assert status == 200, rotated
    assert rotated["key"] != created["key"]
    with pytest.raises(errors(sdk).AuthenticationError):
        whole(sdk, gov, created["key"], MODEL["openai"])
    whole(sdk, gov, rotated["key"], MODEL["openai"])


# Limits and budgets.


def test_requests_per_minute_limit_is_rate_limit_error(gov, sdk):
    key = RPM_KEY[sdk]
    # A full bucket admits RPM requests; one refills every 60 / RPM seconds,
    # so at most one more may slip in on a very slow machine.
    whole(sdk, gov, key, MODEL["openai"], raw=True)
    admitted = 1
    refused = None
    for _ in range(RPM + 3):
        try:
            whole(sdk, gov, key, MODEL["openai"])
            admitted += 1
        except errors(sdk).RateLimitError as e:
            refused = e
            break
    assert refused is not None, f"{admitted} requests admitted under rpm = {RPM}"
    assert admitted in (RPM, RPM + 1), admitted
    headers = refused.response.headers
    assert int(headers["retry-after"]) >= 1, dict(headers)
    assert headers.get("x-ratelimit-limit-requests") == str(RPM), dict(headers)
    assert "x-ratelimit-remaining-requests" in headers, dict(headers)
    err = error_object(refused)
    if sdk == "openai":
        assert err["code"] == "rate_limit_exceeded", err
    else:
        assert err["type"] == "rate_limit_error", err
    assert "Rate limit reached for requests" in err["message"], err
    # Streams are refused too, before they start.
    with pytest.raises(errors(sdk).RateLimitError):
        stream_events(sdk, gov, key, MODEL["openai"])


def assert_budget_refusal(sdk, e):
    err = error_object(e)
    if sdk == "openai":
        assert err["code"] == "budget_exceeded", err
    else:
        assert err["type"] == "rate_limit_error", err
    assert "Budget exhausted" in err["message"], err
    assert "budget-" in err["message"], "the message names the key's id"
    assert int(e.response.headers["retry-after"]) >= 1


def test_budget_spent_by_streams_is_rate_limit_error(gov, sdk):
    key = BUDGET_KEY[sdk]
    # Streamed answers alone spend the budget: each costs about a tenth of it.
    streamed = 0
    refused = None
    for _ in range(60):
        try:
            stream_events(sdk, gov, key, MODEL["anthropic"])
            streamed += 1
        except errors(sdk).RateLimitError as e:
            refused = e
            break
    assert refused is not None, f"{streamed} streams and the 0.001 USD budget never ran out"
    assert streamed >= 1
    assert_budget_refusal(sdk, refused)
    # What is left no longer covers such a request, whole or streamed. (A
    # request reserving less, say on the cheaper model, may still fit.)
    for _ in range(2):
        with pytest.raises(errors(sdk).RateLimitError) as e:
            whole(sdk, gov, key, MODEL["anthropic"])
        assert_budget_refusal(sdk, e.value)
        with pytest.raises(errors(sdk).RateLimitError) as e:
            stream_events(sdk, gov, key, MODEL["anthropic"])
        assert_budget_refusal(sdk, e.value)
    # The key holder sees the spent budget.
    req = urllib.request.Request(gov + "/key/info", headers={"authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        info = json.loads(r.read())
    budget = [b for b in info["budgets"] if b["period"] == "total"]
    assert budget and budget[0]["limit_usd"] == pytest.approx(0.001), info
    assert budget[0]["remaining_usd"] < 0.001, info


# What requests cost.


@pytest.mark.parametrize("upstream", ["openai", "anthropic"])
def test_whole_answer_cost_header_is_usage_times_prices(gov, sdk, upstream):
    model = MODEL[upstream]
    raw = whole(sdk, gov, PRICED, model, raw=True)
    header = raw.headers.get("x-tollgate-cost")
    assert header is not None, dict(raw.headers)
    prompt, completion = usage_tokens(sdk, raw.parse().usage)
    assert prompt > 0 and completion > 0
    assert Decimal(header) == cost_of(model, prompt, completion), (header, prompt, completion)


def stream_cost(sdk, events):
    """The cost a stream reports (None when it reports none) and its
    (prompt, completion) tokens."""
    if sdk == "openai":
        final = [c for c in events if c.usage is not None]
        assert final, "no usage chunk"
        usage = final[-1].usage
        return getattr(usage, "cost", None), usage_tokens(sdk, usage)
    deltas = [e for e in events if getattr(e, "type", None) == "message_delta"]
    assert len(deltas) == 1, [getattr(e, "type", None) for e in events]
    message = events[-1]
    return getattr(deltas[0].usage, "cost", None), usage_tokens(sdk, message.usage)


@pytest.mark.parametrize("upstream", ["openai", "anthropic"])
def test_stream_reports_its_cost_when_asked(gov, sdk, upstream):
    model = MODEL[upstream]
    extra = {"stream_options": {"include_usage": True}} if sdk == "openai" else {}
    events = stream_events(sdk, gov, PRICED, model, extra_headers={"x-tollgate-include-cost": "true"}, **extra)
    cost, (prompt, completion) = stream_cost(sdk, events)
    assert isinstance(cost, (int, float)) and not isinstance(cost, bool), cost
    assert prompt > 0 and completion > 0
    # A nano-dollar of slack: the stream's number is a JSON float.
    want = cost_of(model, prompt, completion)
    assert abs(Decimal(str(cost)) - want) <= Decimal("1e-9"), (cost, want, prompt, completion)


@pytest.mark.parametrize("upstream", ["openai", "anthropic"])
def test_stream_has_no_cost_unless_asked(gov, sdk, upstream):
    model = MODEL[upstream]
    extra = {"stream_options": {"include_usage": True}} if sdk == "openai" else {}
    events = stream_events(sdk, gov, PRICED, model, **extra)
    cost, _ = stream_cost(sdk, events)
    assert cost is None, cost
