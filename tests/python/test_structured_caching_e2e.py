"""Prompt caching from OpenAI-shaped callers (`cache_control` parts -> Converse `cachePoint`) and
native structured output (`response_format` json_schema -> `outputConfig`; `outputConfig` on
`/v1/converse`; `output_config` on `/v1/messages`), through the real clients against the
session's local stack. bedrock-local honours `outputConfig` (JSON that matches the schema,
Bedrock's refusals of unsupported schemas) and reports cache reads and writes per cache point.
"""

from __future__ import annotations

import json
import uuid

import anthropic
import jsonschema
import openai
import pytest
import requests

import openapi_check

HAIKU = "haiku"
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "answer": {"type": "string"},
        "confidence": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "verdict": {"enum": ["yes", "no"]},
        "source": {"$ref": "#/$defs/source"},
    },
    "required": ["answer", "confidence", "verdict"],
    "$defs": {
        "source": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"title": {"type": "string"}},
            "required": ["title"],
        }
    },
}


@pytest.fixture(scope="module")
def client(local_stack):
    return openai.OpenAI(base_url=local_stack.function_url("stream-url", "/v1"),
                         api_key="unused-locally", max_retries=0, timeout=300)


def create(client, **kw):
    raw = client.chat.completions.with_raw_response.create(**kw)
    http = raw.http_response
    openapi_check.validate("POST", "/v1/chat/completions", http.status_code, http.json(), http.headers)
    return raw.parse()


def schema_format(schema=SCHEMA):
    return {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema, "strict": True}}


# ---- prompt caching ----------------------------------------------------------------------------


def test_cache_control_parts_report_cached_tokens_on_a_repeat(client):
    # A fresh prefix, so no other test's cache entry answers the first call.
    manual = f"Reference manual {uuid.uuid4()}. " + "Every rule applies to every request. " * 150
    messages = [
        {"role": "system", "content": [
            {"type": "text", "text": manual, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
        {"role": "user", "content": [{"type": "text", "text": "Summarise the manual."}]},
    ]
    first = create(client, model=HAIKU, messages=messages, max_tokens=20)
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cost = first.model_extra["cost"]
    assert float(cost["cache_write"]) > 0 and float(cost["cache_read"]) == 0
    second = create(client, model=HAIKU, messages=messages, max_tokens=20)
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached > 500, second.usage
    assert second.usage.prompt_tokens >= cached
    cost = second.model_extra["cost"]
    assert float(cost["cache_read"]) > 0 and float(cost["cache_write"]) == 0
    # Reads are priced below writes and plain input: the repeat costs less.
    assert float(cost["total"]) < float(first.model_extra["cost"]["total"])


def test_cache_control_is_refused_by_name(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "2h"}}]}])
    assert e.value.body["param"] == "messages[0].content[0].cache_control.ttl"


# ---- structured output -------------------------------------------------------------------------


def test_response_format_json_schema_is_native_on_claude_4_5(client):
    c = create(client, model=HAIKU, messages=[{"role": "user", "content": "Is the sky blue?"}],
               response_format=schema_format())
    assert c.choices[0].finish_reason == "stop"
    assert c.choices[0].message.tool_calls is None
    jsonschema.validate(json.loads(c.choices[0].message.content), SCHEMA)


def test_native_response_format_streams_json(client):
    stream = client.chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "Is the sky blue?"}],
        response_format=schema_format(), stream=True)
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    jsonschema.validate(json.loads(text), SCHEMA)


def test_a_schema_bedrock_refuses_is_a_400_in_openai_shape(client):
    # Bedrock's structured output has no numeric constraints: native output proves itself by
    # Bedrock's refusal (the forced-tool emulation would have accepted it).
    bad = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]}
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "n?"}],
                                       response_format=schema_format(bad))
    assert "minimum" in e.value.body["message"]


def test_response_format_is_emulated_where_the_catalog_has_no_native_output(client):
    bad_for_native = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}},
                      "required": ["n"]}
    c = create(client, model="nova-pro", messages=[{"role": "user", "content": "n?"}],
               response_format=schema_format(bad_for_native))
    assert c.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(c.choices[0].message.content), bad_for_native)


def test_converse_output_config_passes_through(local_stack):
    url = local_stack.function_url("invoke", "/v1/converse")
    body = {
        "model": HAIKU,
        "messages": [{"role": "user", "content": [{"text": "Is the sky blue?"}]}],
        "outputConfig": {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
            "schema": json.dumps(SCHEMA), "name": "verdict", "description": "A verdict"}}}},
    }
    r = requests.post(url, json=body, timeout=120)
    openapi_check.validate_response(r, "/v1/converse")
    assert r.status_code == 200, r.text
    text = "".join(b.get("text", "") for b in r.json()["output"]["message"]["content"])
    jsonschema.validate(json.loads(text), SCHEMA)
    # A model without structured output: Bedrock's refusal, as the gateway's 400.
    r = requests.post(url, json={**body, "model": "nova-lite"}, timeout=120)
    assert r.status_code == 400, r.text
    assert "structured output" in r.json()["error"]["message"]


def test_messages_forward_output_config(local_stack):
    claude = anthropic.Anthropic(base_url=local_stack.function_url("stream-url", ""),
                                 api_key="unused-locally", max_retries=0, timeout=300)
    msg = claude.messages.create(
        model=HAIKU, max_tokens=200, messages=[{"role": "user", "content": "Is the sky blue?"}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}})
    jsonschema.validate(json.loads(msg.content[0].text), SCHEMA)
