"""`POST /v1/responses` (the OpenAI Responses API) driven by the real `openai` client (pinned in
infra/local/requirements.txt) against the local stack, base URL `{stream-url}/v1`.

bedrock-local answers deterministically: `use tool NAME` in the last user message makes it call
the tool, a tool result makes it quote the result, a forced tool (`text.format`) gets input
generated from its schema. Non-streamed answers are validated against docs/openapi.yaml.
"""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest
import requests

import openapi_check

HAIKU = "haiku"
HAIKU_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture(scope="module")
def client(local_stack):
    return openai.OpenAI(base_url=local_stack.function_url("stream-url", "/v1"),
                         api_key="unused-locally", max_retries=0, timeout=300)


def create(client, **kw):
    """responses.create through the raw response: checks the status, the cost header and the
    body against docs/openapi.yaml; returns (parsed response, headers)."""
    raw = client.responses.with_raw_response.create(**kw)
    http = raw.http_response
    openapi_check.validate("POST", "/v1/responses", http.status_code, http.json(), http.headers)
    assert float(http.headers["x-gateway-cost-usd"]) > 0
    return raw.parse(), http.headers


def test_plain_string_input(client):
    r, headers = create(client, model=HAIKU, input="Hello there", instructions="Be brief.",
                        max_output_tokens=200, temperature=0.2, store=False)
    assert r.object == "response" and r.status == "completed"
    assert r.model == HAIKU_ID
    assert r.id.startswith("resp_")
    [msg] = r.output
    assert msg.type == "message" and msg.role == "assistant"
    assert r.output_text and r.output_text == msg.content[0].text
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    assert float(r.model_extra["cost"]["total"]) > 0
    assert r.instructions == "Be brief."
    assert "x-gateway-dropped" not in headers
    # The instructions reached the model: they were counted.
    bare, _ = create(client, model=HAIKU, input="Hello there")
    assert r.usage.input_tokens > bare.usage.input_tokens


def test_max_output_tokens_makes_it_incomplete(client):
    r, _ = create(client, model=HAIKU, input="Tell me a long story [[len:200]]", max_output_tokens=5)
    assert r.status == "incomplete"
    assert r.incomplete_details.reason == "max_output_tokens"
    assert r.usage.output_tokens <= 5


def test_streamed(client):
    with client.responses.stream(model=HAIKU, input="Stream please [[len:40]]") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    for t in ("response.output_item.added", "response.content_part.added",
              "response.output_text.done", "response.content_part.done",
              "response.output_item.done"):
        assert t in types, types
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == final.output_text
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0
    assert float(final.model_extra["cost"]["total"]) > 0


def test_function_tool_round_trip(client):
    first, _ = create(client, model=HAIKU, tools=[WEATHER],
                      input=[{"role": "user", "content": "Weather in Oslo? use tool get_weather"}])
    calls = [o for o in first.output if o.type == "function_call"]
    [call] = calls
    assert call.name == "get_weather"
    assert isinstance(json.loads(call.arguments)["city"], str)
    # Second turn: the whole conversation again (the gateway is stateless), with the result.
    history = [{"role": "user", "content": "Weather in Oslo? use tool get_weather"}]
    history += [o.model_dump(exclude_none=True) for o in first.output]
    history.append({"type": "function_call_output", "call_id": call.call_id,
                    "output": "Sunny, 21 degrees"})
    second, _ = create(client, model=HAIKU, tools=[WEATHER], input=history)
    assert second.status == "completed"
    assert "Sunny, 21 degrees" in second.output_text


def test_streamed_function_call(client):
    with client.responses.stream(model=HAIKU, tools=[WEATHER], tool_choice="required",
                                 input="Weather in Oslo?") as stream:
        events = list(stream)
        final = stream.get_final_response()
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    [done] = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert done.arguments == args
    [call] = [o for o in final.output if o.type == "function_call"]
    assert call.arguments == args and call.name == "get_weather"


def test_json_schema_output_validates(client):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                       "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["name", "age", "tags"],
        "additionalProperties": False,
    }
    r, _ = create(client, model=HAIKU, input="Describe a person.",
                  text={"format": {"type": "json_schema", "name": "person", "schema": schema,
                                   "strict": True}})
    [msg] = r.output
    assert msg.type == "message"
    jsonschema.validate(json.loads(r.output_text), schema)


def test_codex_style_fields_are_dropped_and_named(local_stack):
    url = local_stack.function_url("stream-url", "/v1/responses")
    r = requests.post(url, json={
        "model": HAIKU, "input": [{"type": "message", "role": "user",
                                   "content": [{"type": "input_text", "text": "hi"}]}],
        "store": False, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k",
        "tools": [{"type": "web_search", "external_web_access": False}],
    }, timeout=300)
    assert r.status_code == 200, r.text
    dropped = r.headers["x-gateway-dropped"]
    for field in ("include[reasoning.encrypted_content] (", "prompt_cache_key (", "tools[0] ("):
        assert field in dropped, dropped
    openapi_check.validate("POST", "/v1/responses", 200, r.json(), r.headers)


def test_errors_are_openai_shaped(client, local_stack):
    for kw, param in (({"store": True}, "store"),
                      ({"previous_response_id": "resp_1"}, "previous_response_id"),
                      ({"extra_body": {"bogus_field": 1}}, "bogus_field")):
        with pytest.raises(openai.BadRequestError) as e:
            client.responses.create(model=HAIKU, input="Hi", **kw)
        assert e.value.status_code == 400
        assert e.value.param == param
        assert param in e.value.message
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.create(model="no-such-model", input="Hi")
    assert e.value.code == "model_not_found"
    r = requests.post(local_stack.function_url("stream-url", "/v1/responses"),
                      json={"model": HAIKU, "input": "Hi", "store": True}, timeout=300)
    body = openapi_check.validate("POST", "/v1/responses", r.status_code, r.json(), r.headers)
    assert r.status_code == 400 and body["error"]["type"] == "invalid_request_error"
    assert "stateless" in body["error"]["message"]


def test_input_tokens_counts_with_bedrock(local_stack):
    url = local_stack.function_url("stream-url", "/v1/responses/input_tokens")
    small = requests.post(url, json={"model": HAIKU, "input": "Hi"}, timeout=300)
    assert small.status_code == 200, small.text
    body = openapi_check.validate("POST", "/v1/responses/input_tokens", 200, small.json(),
                                  small.headers)
    assert body["object"] == "response.input_tokens" and body["input_tokens"] > 0
    big = requests.post(url, json={"model": HAIKU, "input": "Hi", "tools": [WEATHER],
                                   "instructions": "Answer in French."}, timeout=300)
    assert big.json()["input_tokens"] > body["input_tokens"]
