"""Smoke test: the openai SDK against /v1/chat/completions still works for
each upstream format, whole and streamed."""

from conftest import MODEL


def test_chat_completion(oai, fmt):
    r = oai.chat.completions.create(model=MODEL[fmt], messages=[{"role": "user", "content": "hello openai sdk"}])
    assert r.choices[0].message.content == "hello openai sdk"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0


def test_chat_completion_stream(oai, fmt):
    chunks = list(oai.chat.completions.create(
        model=MODEL[fmt], stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "one two three four"}],
        extra_headers={"x-mock-chunks": "3"},
    ))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage and chunks[-1].usage.completion_tokens > 0
