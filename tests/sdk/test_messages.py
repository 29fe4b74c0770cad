"""The anthropic SDK's messages.create and messages.stream against each
upstream format: text, tools (parallel, streamed input_json_delta), thinking,
base64 images."""

import base64
import json

import pytest

from conftest import MODEL, last_request

# Recorded answers per upstream format (tests/fixtures/<format>/): a stream
# with text and several tool calls, one whole tool answer, thinking.
TOOLS_STREAM = {"openai": "parallel_tool_use_stream", "anthropic": "parallel_tool_use_stream", "gemini": "parallel_tools_text"}
TOOLS_WHOLE = {"openai": "tool_use_response", "anthropic": "tool_use_response", "gemini": "tool_call"}
THINKING_STREAM = {"openai": "thinking_stream", "anthropic": "thinking_stream", "gemini": "thinking"}
THINKING_WHOLE = {"openai": "thinking_response", "anthropic": "thinking_response", "gemini": "thinking"}

# The calls those recordings make, in order.
EXPECTED_CALLS = {
    "openai": [("get_weather", {"city": "Paris"}), ("get_time", {}), ("get_weather", {"city": "London"})],
    "anthropic": [("get_weather", {"city": "Paris"}), ("get_time", {}), ("get_weather", {"city": "London"})],
    "gemini": [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo", "units": "celsius"})],
}

TOOLS = [
    {"name": "get_weather", "description": "Weather in a city",
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"name": "get_time", "description": "The time", "input_schema": {"type": "object", "properties": {}}},
]


def user(text):
    return [{"role": "user", "content": text}]


def test_create_echoes_the_prompt(client, fmt):
    msg = client.messages.create(model=MODEL[fmt], max_tokens=64, messages=user("hello from the sdk"))
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.id.startswith("msg_")
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "hello from the sdk"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    assert msg._request_id


def test_stream_text_and_final_message(client, fmt):
    with client.messages.stream(
        model=MODEL[fmt], max_tokens=64, messages=user("one two three four five six"),
        extra_headers={"x-mock-chunks": "4"},
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == "one two three four five six"
    assert final.content[0].text == "one two three four five six"
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_parallel_tool_calls_stream(client, fmt):
    partials = {}
    with client.messages.stream(
        model=MODEL[fmt], max_tokens=256, tools=TOOLS, messages=user("weather in Paris and London, and the time"),
        extra_headers={"x-mock-fixture": TOOLS_STREAM[fmt]},
    ) as stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                partials[event.index] = partials.get(event.index, "") + event.delta.partial_json
        final = stream.get_final_message()
    assert partials, "no input_json_delta events"
    calls = [b for b in final.content if b.type == "tool_use"]
    assert len(calls) >= 2, final.content
    assert len({c.id for c in calls}) == len(calls)
    assert all(isinstance(c.input, dict) for c in calls)
    assert [(c.name, c.input) for c in calls] == EXPECTED_CALLS[fmt]
    # Each call's streamed fragments add up to the input the final message parsed.
    for i, block in enumerate(final.content):
        if block.type == "tool_use":
            assert json.loads(partials.get(i) or "{}") == block.input
    assert final.stop_reason == "tool_use"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_tool_call_whole(client, fmt):
    msg = client.messages.create(
        model=MODEL[fmt], max_tokens=256, tools=TOOLS, messages=user("weather?"),
        extra_headers={"x-mock-fixture": TOOLS_WHOLE[fmt]},
    )
    calls = [b for b in msg.content if b.type == "tool_use"]
    assert calls and all(isinstance(c.input, dict) and c.id for c in calls)
    assert msg.stop_reason == "tool_use"


def test_tool_result_round_trip(client, fmt, mock_url):
    """A tool_result turn reaches each upstream in its own shape."""
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny, 21C"}]},
    ]
    msg = client.messages.create(
        model=MODEL[fmt], max_tokens=64, tools=TOOLS, messages=messages, extra_headers={"x-mock-record": "1"},
    )
    assert msg.stop_reason == "end_turn"
    sent = last_request(mock_url).decode()
    assert "sunny, 21C" in sent and "Paris" in sent


def test_thinking_stream(client, fmt):
    with client.messages.stream(
        model=MODEL[fmt], max_tokens=2048, messages=user("think"),
        thinking={"type": "enabled", "budget_tokens": 1024},
        extra_headers={"x-mock-fixture": THINKING_STREAM[fmt]},
    ) as stream:
        thinking_deltas = [e for e in stream if e.type == "content_block_delta" and e.delta.type == "thinking_delta"]
        final = stream.get_final_message()
    kinds = [b.type for b in final.content]
    assert thinking_deltas, kinds
    thinking = [b for b in final.content if b.type == "thinking"]
    assert thinking and thinking[0].thinking
    assert "text" in kinds
    if fmt != "gemini":
        # Anthropic signs its thinking and an OpenAI-compatible upstream can
        # carry the signature in `thinking_blocks`; Gemini has none to give.
        assert thinking[0].signature
        assert "redacted_thinking" in kinds


def test_thinking_whole(client, fmt):
    msg = client.messages.create(
        model=MODEL[fmt], max_tokens=2048, messages=user("think"),
        thinking={"type": "enabled", "budget_tokens": 1024},
        extra_headers={"x-mock-fixture": THINKING_WHOLE[fmt]},
    )
    thinking = [b for b in msg.content if b.type == "thinking"]
    assert thinking and thinking[0].thinking
    if fmt != "gemini":
        assert thinking[0].signature
    assert any(b.type == "text" and b.text for b in msg.content)


PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)).decode()


def test_base64_image_reaches_the_upstream(client, fmt, mock_url):
    client.messages.create(
        model=MODEL[fmt], max_tokens=64, extra_headers={"x-mock-record": "1"},
        messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "text", "text": "what is this?"},
        ]}],
    )
    sent = json.loads(last_request(mock_url))
    text = json.dumps(sent)
    assert PNG in text
    assert "image/png" in text
    if fmt == "openai":
        assert f"data:image/png;base64,{PNG}" in text
