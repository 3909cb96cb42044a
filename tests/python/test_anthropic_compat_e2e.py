"""The Anthropic-compatible routes of stream-url, driven by the real `anthropic` client (pinned in
infra/local/requirements.txt) pointed at the local stack: base URL
`{functions_url}/lambda-url/stream-url`. Claude on Bedrock answers Messages natively; bedrock-local
plays it deterministically (`use tool NAME` calls a tool, a tool result is quoted back).
Responses are validated against docs/openapi.yaml.
"""

from __future__ import annotations

import json

import anthropic
import pytest
import requests

import openapi_check


HAIKU = "haiku"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def base_url(stack) -> str:
    return stack.function_url("stream-url", "")


@pytest.fixture(scope="module")
def client(local_stack):
    # The first call may wait for `cargo lambda watch` to build the function.
    return anthropic.Anthropic(base_url=base_url(local_stack), api_key="unused-locally", max_retries=0, timeout=300)


def create(client, **kw):
    """messages.create through the raw response: status, cost header and body checked against
    docs/openapi.yaml; returns the parsed message."""
    raw = client.messages.with_raw_response.create(**kw)
    http = raw.http_response
    openapi_check.validate("POST", "/v1/messages", http.status_code, http.json(), http.headers)
    assert float(http.headers["x-gateway-cost-usd"]) > 0
    return raw.parse()


def user(text):
    return {"role": "user", "content": text}


def test_messages(client):
    m = create(client, model=HAIKU, max_tokens=200, messages=[user("Hello there")])
    assert m.type == "message" and m.role == "assistant"
    assert m.content[0].type == "text" and m.content[0].text
    assert m.stop_reason == "end_turn"
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0
    assert float(m.model_extra["cost"]["total"]) > 0


def test_system_and_multi_turn(client):
    plain = create(client, model=HAIKU, max_tokens=200, messages=[user("Capital of France?")])
    with_system = create(
        client,
        model=HAIKU,
        max_tokens=200,
        system="Answer like a geography teacher, in one short sentence.",
        messages=[user("Capital of France?")],
    )
    assert with_system.usage.input_tokens > plain.usage.input_tokens
    multi = create(
        client,
        model=HAIKU,
        max_tokens=200,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[user("Name a colour."), {"role": "assistant", "content": plain.content[0].text}, user("Another?")],
    )
    assert multi.content[0].text
    assert multi.usage.input_tokens > plain.usage.input_tokens


def test_max_tokens_and_stop_sequences(client):
    m = create(client, model=HAIKU, max_tokens=5, messages=[user("A long story [[len:200]]")])
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens <= 5
    m = create(client, model=HAIKU, max_tokens=200, messages=[user("Say [[say:banana]]")], stop_sequences=["banana"])
    assert m.stop_reason == "stop_sequence" and m.stop_sequence == "banana"


def test_tool_use_round_trip(client):
    messages = [user("Weather in Oslo? use tool get_weather")]
    first = create(client, model=HAIKU, max_tokens=300, messages=messages, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "get_weather" and isinstance(call.input["city"], str)
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 degrees"}]},
    ]
    second = create(client, model=HAIKU, max_tokens=300, messages=messages, tools=[WEATHER])
    assert second.stop_reason == "end_turn"
    assert "Sunny, 21 degrees" in second.content[0].text


def test_streaming(client):
    with client.messages.stream(model=HAIKU, max_tokens=300, messages=[user("Hello, stream please")]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text and final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0


def test_streaming_events_and_cost(local_stack):
    r = requests.post(
        base_url(local_stack) + "/v1/messages",
        json={"model": HAIKU, "max_tokens": 100, "stream": True, "messages": [user("hi")]},
        stream=True,
        timeout=60,
    )
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    body = r.content.decode()
    openapi_check.validate("POST", "/v1/messages", 200, body, r.headers, "text/event-stream")
    events = []
    for frame in filter(None, body.split("\n\n")):
        name, data = frame.split("\n", 1)
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    names = [n for n, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "content_block_start" in names and "content_block_delta" in names
    assert all(d["type"] == n for n, d in events)
    delta = events[-2][1]
    assert delta["usage"]["output_tokens"] > 0 and float(delta["cost"]["total"]) > 0
    assert not any("amazon-bedrock-invocationMetrics" in d for _, d in events)


def test_streaming_tool_use(client):
    with client.messages.stream(
        model=HAIKU, max_tokens=300, messages=[user("Weather in Oslo? use tool get_weather")], tools=[WEATHER]
    ) as s:
        kinds = {e.type for e in s}
        final = s.get_final_message()
    assert "input_json" in kinds or "content_block_delta" in kinds
    assert final.stop_reason == "tool_use"
    [call] = [b for b in final.content if b.type == "tool_use"]
    assert call.name == "get_weather" and "city" in call.input


def test_count_tokens(client, local_stack):
    messages = [user("How many tokens is this?")]
    counted = client.messages.count_tokens(model=HAIKU, messages=messages)
    assert counted.input_tokens > 0
    m = create(client, model=HAIKU, max_tokens=50, messages=messages)
    assert counted.input_tokens == m.usage.input_tokens
    with_tools = client.messages.count_tokens(model=HAIKU, messages=messages, tools=[WEATHER], system="Be brief.")
    assert with_tools.input_tokens > counted.input_tokens
    r = requests.post(
        base_url(local_stack) + "/v1/messages/count_tokens", json={"model": HAIKU, "messages": messages}, timeout=60
    )
    openapi_check.validate_response(r, "/v1/messages/count_tokens")
    assert r.json() == {"input_tokens": counted.input_tokens}


def test_errors_in_anthropic_shape(client, local_stack):
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model="nova-lite", max_tokens=10, messages=[user("hi")])
    assert "not a Claude model" in e.value.message
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="claude-nonexistent", max_tokens=10, messages=[user("hi")])
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model=HAIKU, max_tokens=10, messages=[user("hi")], extra_body={"container": "c1"})
    assert "container" in e.value.message
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model=HAIKU, max_tokens=10, messages=[user("hi [[fault:throttle]]")])
    r = requests.post(base_url(local_stack) + "/v1/messages", json={"model": HAIKU, "messages": []}, timeout=30)
    openapi_check.validate_response(r, "/v1/messages")
    assert r.status_code == 400 and r.json()["type"] == "error"
    r = requests.get(base_url(local_stack) + "/v1/messages", timeout=30)
    assert r.status_code == 405 and r.json()["error"]["type"] == "invalid_request_error"


def test_stream_failure_after_start_raises(client):
    with pytest.raises(anthropic.APIStatusError) as e:
        with client.messages.stream(
            model=HAIKU, max_tokens=300, messages=[user("Long [[len:100]] [[fault:stream_error_after=3]]")]
        ) as s:
            for _ in s:
                pass
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "api_error"


def test_models_list_in_anthropic_shape(client):
    ids = [m.id for m in client.models.list()]
    assert "anthropic.claude-haiku-4-5-20251001-v1:0" in ids
    assert all(i.startswith("anthropic.") for i in ids)


def test_models_retrieve(client):
    m = client.models.retrieve("haiku")
    assert m.id == "anthropic.claude-haiku-4-5-20251001-v1:0" and m.type == "model"
    # Anthropic's API lists only Claude: another Bedrock model is not one of its models.
    with pytest.raises(anthropic.NotFoundError) as e:
        client.models.retrieve("nova-lite")
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "not_found_error"


def test_api_keys_through_the_anthropic_client(auth_stack):
    from stack_fixture import issue_key

    key, _ = issue_key(auth_stack, owner="compat-tests")
    good = anthropic.Anthropic(base_url=base_url(auth_stack), api_key=key, max_retries=0, timeout=300)
    m = good.messages.create(model=HAIKU, max_tokens=100, messages=[user("Hello with a key")])
    assert m.content[0].text
    bad = anthropic.Anthropic(base_url=base_url(auth_stack), api_key="gwk_wrong", max_retries=0, timeout=300)
    with pytest.raises(anthropic.AuthenticationError) as e:
        bad.messages.create(model=HAIKU, max_tokens=10, messages=[user("Hello")])
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "authentication_error"
