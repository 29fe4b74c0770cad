"""count_tokens, client.beta.messages, and the same-dialect path (Anthropic in,
Anthropic upstream) byte-exact both ways."""

import http.client
import json
import os
from urllib.parse import urlparse

import pytest

from conftest import KEY, MODEL, ROOT, last_request

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "anthropic")


def test_count_tokens(client, oai, fmt):
    raw = client.messages.with_raw_response.count_tokens(
        model=MODEL[fmt], system="be brief",
        messages=[{"role": "user", "content": "how many tokens is this sentence?"}],
    )
    n = raw.parse().input_tokens
    counted_by = raw.http_response.headers.get("x-tollgate-count")
    if fmt == "anthropic":
        # The provider's own endpoint: the mock counts 1000 + its estimate.
        assert counted_by == "provider"
        assert n > 1000
        return
    if fmt == "gemini":
        # Gemini's own countTokens: the mock counts 2000 + its estimate.
        assert counted_by == "provider"
        assert n > 2000
    else:
        # The counter fitting uses: exact for o200k (gpt-4o's family).
        assert counted_by == "exact"
        assert 0 < n < 1000
    # The OpenAI-side endpoint counts the same conversation the same.
    same = oai.post(
        "/chat/completions/count_tokens",
        cast_to=object,
        body={"model": MODEL[fmt], "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "how many tokens is this sentence?"},
        ]},
    )
    assert same["input_tokens"] == n
    assert same["object"] == "chat.completion.input_tokens"


def test_count_tokens_unknown_model(client):
    import anthropic

    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="no-such-model", messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize("query", [None, {"beta": "true"}], ids=["plain", "beta-query"])
def test_beta_messages(client, fmt, query, mock_url):
    """client.beta.messages (coding agents send `?beta=true` and betas): the
    betas reach an Anthropic upstream; elsewhere they are named as dropped."""
    betas = ["interleaved-thinking-2025-05-14", "made-up-beta-2099"]
    raw = client.beta.messages.with_raw_response.create(
        model=MODEL[fmt], max_tokens=32, betas=betas, extra_query=query,
        messages=[{"role": "user", "content": "beta hello"}],
    )
    msg = raw.parse()
    assert msg.content[0].text == "beta hello"
    dropped = raw.http_response.headers.get("x-tollgate-dropped-betas")
    if fmt == "anthropic":
        assert dropped is None
        echoed = client.beta.messages.with_raw_response.create(
            model=MODEL[fmt], max_tokens=32, betas=betas, extra_query=query,
            messages=[{"role": "user", "content": "beta hello"}],
            extra_headers={"x-mock-echo-request": "1"},
        )
        seen = json.loads(echoed.http_response.text)
        assert seen["headers"]["anthropic-beta"] == ",".join(betas)
    else:
        assert dropped == ",".join(betas)


def test_beta_messages_stream(client, fmt):
    with client.beta.messages.stream(
        model=MODEL[fmt], max_tokens=32, betas=["interleaved-thinking-2025-05-14"],
        messages=[{"role": "user", "content": "beta stream"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "beta stream"
    assert final.stop_reason == "end_turn"


def post(gateway, body, headers):
    u = urlparse(gateway)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    conn.request("POST", "/v1/messages", body=body, headers={
        "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01", **headers,
    })
    r = conn.getresponse()
    out = (r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read())
    conn.close()
    return out


# Field order, spacing, unknown fields and cache_control as a client might send them.
NATIVE_BODY = (
    b'{"model": "m-anthropic",  "max_tokens":64,"x_unknown_top":{"keep":[1,2.50,"\\u00e9"]},'
    b'"system":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral","ttl":"1h"}}],'
    b'"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"},'
    b'"x_block_extra":true}]}],"metadata":{"user_id":"u-1"},"thinking":{"type":"enabled","budget_tokens":1024,"x_mode":"later"}}'
)


def test_same_dialect_request_arrives_untouched(servers, mock_url):
    status, _, _ = post(servers["gateway"], NATIVE_BODY, {"x-mock-record": "1"})
    assert status == 200
    sent = last_request(mock_url)
    assert sent == NATIVE_BODY.replace(b'"model": "m-anthropic"', b'"model": "claude-up"')


def test_same_dialect_sdk_request_arrives_untouched_but_model(client, mock_url):
    raw = client.messages.with_raw_response.create(
        model=MODEL["anthropic"], max_tokens=64,
        system=[{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
        extra_body={"x_unknown_top": {"nested": [1, None, "z"]}},
        extra_headers={"x-mock-record": "1"},
    )
    sent = json.loads(last_request(mock_url))
    ours = json.loads(raw.http_response.request.content)
    assert sent.pop("model") == "claude-up"
    assert ours.pop("model") == MODEL["anthropic"]
    assert sent == ours


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("name", ["text", "thinking", "tool_use"])
def test_same_dialect_answer_is_byte_exact(servers, name, stream):
    """The answer bytes are what the mock sent: its recorded fixture file."""
    fixture = f"{name}_stream.sse" if stream else f"{name}_response.json"
    with open(os.path.join(FIXTURES, fixture), "rb") as f:
        expected = f.read()
    body = json.dumps({
        "model": MODEL["anthropic"], "max_tokens": 64, "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }).encode()
    status, headers, got = post(servers["gateway"], body, {"x-mock-fixture": fixture.rsplit(".", 1)[0]})
    assert status == 200
    assert got == expected
    assert headers.get("content-type", "").startswith("text/event-stream" if stream else "application/json")
