"""Errors as the anthropic SDK sees them: its exception classes, Anthropic's
body shape and headers, and a stream cut after the commit point raising
rather than ending cleanly."""

import anthropic
import pytest

from conftest import MODEL

USER = [{"role": "user", "content": "hello"}]


def assert_anthropic_shape(err):
    body = err.response.json()
    assert body["type"] == "error", body
    assert isinstance(body["error"]["type"], str) and isinstance(body["error"]["message"], str), body
    return body


def test_unknown_model_is_not_found(client):
    with pytest.raises(anthropic.NotFoundError) as e:
        client.messages.create(model="no-such-model", max_tokens=8, messages=USER)
    body = assert_anthropic_shape(e.value)
    assert body["error"]["type"] == "not_found_error"
    assert "no-such-model" in body["error"]["message"]
    assert e.value.response.headers.get("request-id")


def test_missing_max_tokens_is_bad_request(client, fmt):
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model=MODEL[fmt], max_tokens=8, messages=USER, extra_body={"max_tokens": None})
    body = assert_anthropic_shape(e.value)
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


def test_wrong_key_is_authentication_error(servers):
    bad = anthropic.Anthropic(api_key="not-the-key", base_url=servers["gateway"], max_retries=0, timeout=20)
    with pytest.raises(anthropic.AuthenticationError) as e:
        bad.messages.create(model=MODEL["openai"], max_tokens=8, messages=USER)
    body = assert_anthropic_shape(e.value)
    assert body["error"]["type"] == "authentication_error"
    assert body.get("request_id", "x"), "an empty request_id"
    assert "not-the-key" not in e.value.response.text


def test_bearer_key_is_accepted(servers):
    c = anthropic.Anthropic(auth_token=__import__("conftest").KEY, base_url=servers["gateway"], max_retries=0, timeout=20)
    msg = c.messages.create(model=MODEL["openai"], max_tokens=8, messages=USER)
    assert msg.content[0].text == "hello"


def fault(client, fmt, spec, stream=False):
    kwargs = dict(model=MODEL[fmt], max_tokens=8, messages=USER, extra_headers={"x-mock-fault": spec})
    if stream:
        with client.messages.stream(**kwargs) as s:
            s.get_final_message()
    else:
        client.messages.create(**kwargs)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_upstream_429_is_rate_limit_with_retry_after(client, fmt, stream):
    with pytest.raises(anthropic.RateLimitError) as e:
        fault(client, fmt, "status=429,retry-after=7", stream)
    body = assert_anthropic_shape(e.value)
    assert body["error"]["type"] == "rate_limit_error"
    assert e.value.response.headers.get("retry-after") == "7"
    assert e.value.response.headers.get("request-id")


def test_upstream_529_is_overloaded(client, fmt):
    with pytest.raises(anthropic.OverloadedError) as e:
        fault(client, fmt, "status=529")
    body = assert_anthropic_shape(e.value)
    assert body["error"]["type"] == "overloaded_error"
    assert e.value.request_id


def test_upstream_503_is_service_unavailable(client, fmt):
    with pytest.raises(anthropic.ServiceUnavailableError) as e:
        fault(client, fmt, "status=503")
    assert_anthropic_shape(e.value)


def test_upstream_500_is_internal_server_error(client, fmt):
    with pytest.raises(anthropic.InternalServerError) as e:
        fault(client, fmt, "status=500")
    body = assert_anthropic_shape(e.value)
    assert body["error"]["type"] == "api_error"


def test_cut_stream_raises_after_text(client, fmt):
    """The upstream hangs up mid-stream: the SDK gets an `error` event (an
    APIStatusError on a 200 stream), never a clean message_stop."""
    got = []
    with pytest.raises(anthropic.APIStatusError) as e:
        with client.messages.stream(
            model=MODEL[fmt], max_tokens=64, messages=[{"role": "user", "content": "a b c d e f g h"}],
            extra_headers={"x-mock-fault": "cut-after=4", "x-mock-chunks": "6"},
        ) as stream:
            for text in stream.text_stream:
                got.append(text)
            stream.get_final_message()
    assert got, "the cut came before any text: not a mid-stream cut"
    assert e.value.response.status_code == 200
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] in ("api_error", "overloaded_error")
