"""The OpenAI-compatible routes of stream-url, driven by the real `openai` client (pinned in
infra/local/requirements.txt) pointed at the local stack: base URL
`{functions_url}/lambda-url/stream-url/v1`, everything else as for OpenAI.

bedrock-local answers deterministically: `use tool NAME` in the last user message makes it call
the tool, a tool result makes it quote the result, `[[fault:...]]` markers inject failures.
Responses are validated against docs/openapi.yaml.
"""

from __future__ import annotations

import json
import math

import openai
import pytest
import requests

import openapi_check


HAIKU = "haiku"
HAIKU_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
# A 1x1 PNG.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def base_url(stack) -> str:
    return stack.function_url("stream-url", "/v1")


@pytest.fixture(scope="module")
def client(local_stack):
    return openai.OpenAI(base_url=base_url(local_stack), api_key="unused-locally", max_retries=0,
                         # The first call may wait for `cargo lambda watch` to build the function.
                         timeout=300)


def create(client, **kw):
    """chat.completions.create through the raw response: checks status, cost header and the
    body against docs/openapi.yaml, returns the parsed completion."""
    raw = client.chat.completions.with_raw_response.create(**kw)
    http = raw.http_response
    openapi_check.validate("POST", "/v1/chat/completions", http.status_code, http.json(), http.headers)
    assert float(http.headers["x-gateway-cost-usd"]) >= 0
    return raw.parse()


def user(text):
    return {"role": "user", "content": text}


# ---- chat ---------------------------------------------------------------------------------------


def test_plain_chat(client):
    c = create(client, model=HAIKU, messages=[user("Hello there")])
    assert c.object == "chat.completion"
    assert c.model == HAIKU_ID
    choice = c.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content
    assert choice.finish_reason == "stop"
    assert c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0
    assert c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens
    # The gateway's cost rides along as an extra field the client keeps.
    assert float(c.model_extra["cost"]["total"]) > 0


def test_system_and_multi_turn(client):
    plain = create(client, model=HAIKU, messages=[user("What is the capital of France?")])
    with_system = create(
        client,
        model=HAIKU,
        messages=[
            {"role": "system", "content": "Answer in one short sentence, like a geography teacher would."},
            user("What is the capital of France?"),
        ],
    )
    # The system prompt reached the model: it was counted.
    assert with_system.usage.prompt_tokens > plain.usage.prompt_tokens
    turns = [
        {"role": "developer", "content": "Be brief."},
        user("Name a colour."),
        {"role": "assistant", "content": plain.choices[0].message.content},
        user("And another one?"),
    ]
    multi = create(client, model=HAIKU, messages=turns)
    assert multi.choices[0].message.content
    assert multi.usage.prompt_tokens > with_system.usage.prompt_tokens


def test_max_tokens_and_stop(client):
    c = create(client, model=HAIKU, messages=[user("Tell me a long story [[len:200]]")], max_tokens=5)
    assert c.choices[0].finish_reason == "length"
    assert c.usage.completion_tokens <= 5
    c = create(client, model=HAIKU, messages=[user("Say it [[say:banana]]")], stop=["banana"])
    assert c.choices[0].finish_reason == "stop"
    assert "banana" not in c.choices[0].message.content


def test_tool_call_round_trip(client):
    messages = [user("What is the weather in Oslo? use tool get_weather")]
    first = create(client, model=HAIKU, messages=messages, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert isinstance(args["city"], str)
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 degrees"})
    second = create(client, model=HAIKU, messages=messages, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert "Sunny, 21 degrees" in second.choices[0].message.content


def test_tool_choice_forces_a_named_tool(client):
    c = create(
        client,
        model=HAIKU,
        messages=[user("Hi")],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    assert c.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_response_format_json_schema(client):
    schema = {
        "type": "object",
        # No "minimum": haiku answers natively (outputConfig), and Bedrock's structured output
        # refuses numeric constraints (test_structured_caching_e2e.py).
        "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
        "required": ["answer", "confidence"],
    }
    c = create(
        client,
        model=HAIKU,
        messages=[user("Is the sky blue?")],
        response_format={"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}},
    )
    assert c.choices[0].finish_reason == "stop"
    assert c.choices[0].message.tool_calls is None
    parsed = json.loads(c.choices[0].message.content)
    assert set(parsed) >= {"answer", "confidence"}


def test_image_input(client):
    text_only = create(client, model=HAIKU, messages=[user("What is in this picture?")])
    c = create(
        client,
        model=HAIKU,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    )
    assert c.choices[0].message.content
    # The image was sent to the model and counted as image input.
    assert c.usage.prompt_tokens > text_only.usage.prompt_tokens


def test_reasoning_effort(client):
    c = create(client, model=HAIKU, messages=[user("Think about 2+2")], reasoning_effort="low")
    assert c.choices[0].message.content
    assert c.choices[0].message.model_extra.get("reasoning_content")
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="nova-lite", messages=[user("hi")], reasoning_effort="high")
    assert e.value.param == "reasoning_effort"


# ---- streaming ----------------------------------------------------------------------------------


def test_streaming_with_usage(client):
    messages = [user("Hello there, stream please")]
    chunks = list(
        client.chat.completions.create(
            model=HAIKU, messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens > 0 and last.usage.prompt_tokens > 0
    assert float(last.model_extra["cost"]["total"]) > 0
    assert all(c.usage is None for c in chunks[:-1])
    assert {c.id for c in chunks} == {chunks[0].id}
    # The same prompt costs the same input tokens streamed or not.
    plain = create(client, model=HAIKU, messages=messages)
    assert last.usage.prompt_tokens == plain.usage.prompt_tokens


def test_streaming_wire_format(local_stack):
    """The raw bytes: `data:` lines only, ending with `data: [DONE]` (what every SSE parser of
    OpenAI streams expects), and the documented response."""
    r = requests.post(
        base_url(local_stack) + "/chat/completions",
        json={"model": HAIKU, "messages": [user("hi")], "stream": True},
        stream=True,
        timeout=60,
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    body = r.content.decode()
    frames = [f for f in body.split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames), frames
    assert frames[-1] == "data: [DONE]"
    openapi_check.validate("POST", "/v1/chat/completions", 200, body, r.headers, "text/event-stream")


def test_streaming_tool_call(client):
    stream = client.chat.completions.create(
        model=HAIKU,
        messages=[user("Weather in Oslo? use tool get_weather")],
        tools=[WEATHER],
        stream=True,
    )
    calls: dict[int, dict] = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        ch = chunk.choices[0]
        finish = ch.finish_reason or finish
        for tc in ch.delta.tool_calls or []:
            c = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            c["id"] = tc.id or c["id"]
            if tc.function and tc.function.name:
                c["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                c["arguments"] += tc.function.arguments
    assert finish == "tool_calls"
    assert calls[0]["name"] == "get_weather" and calls[0]["id"]
    assert "city" in json.loads(calls[0]["arguments"])


def test_stream_failure_after_start_raises(client):
    stream = client.chat.completions.create(
        model=HAIKU, messages=[user("Long answer [[len:100]] [[fault:stream_error_after=3]]")], stream=True
    )
    with pytest.raises(openai.APIError) as e:
        for _ in stream:
            pass
    assert e.value.body["type"] == "api_error" and e.value.body["code"] == "model_error"


# ---- embeddings ---------------------------------------------------------------------------------


def norm(v):
    return math.sqrt(sum(x * x for x in v))


def test_embeddings_titan(client, local_stack):
    raw = client.embeddings.with_raw_response.create(model="titan-embed", input=["first text", "second text"])
    http = raw.http_response
    openapi_check.validate("POST", "/v1/embeddings", http.status_code, http.json(), http.headers)
    # The client asks for base64 by default and decodes it.
    assert json.loads(http.request.content)["encoding_format"] == "base64"
    assert float(http.headers["x-gateway-cost-usd"]) > 0
    r = raw.parse()
    assert [d.index for d in r.data] == [0, 1]
    assert all(len(d.embedding) == 1024 for d in r.data)
    assert all(abs(norm(d.embedding) - 1) < 1e-3 for d in r.data)
    assert r.data[0].embedding != r.data[1].embedding
    assert r.usage.prompt_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens
    small = client.embeddings.create(model="titan-embed", input="first text", dimensions=256, encoding_format="float")
    assert len(small.data[0].embedding) == 256
    # Deterministic: the same text embeds the same way.
    again = client.embeddings.create(model="titan-embed", input="first text", encoding_format="float")
    assert again.data[0].embedding == pytest.approx(r.data[0].embedding, abs=1e-6)


def test_embeddings_cohere(client, local_stack):  # noqa: F811
    texts = ["a b c", "d e f"]
    r = client.embeddings.create(model="cohere-embed-english", input=texts, encoding_format="float")
    assert len(r.data) == 2 and all(len(d.embedding) == 1024 for d in r.data)
    # Cohere's body carries no counts: the usage is Bedrock's token-count headers, the same
    # figure a direct InvokeModel call reports (not an estimate).
    import boto3
    br = boto3.client("bedrock-runtime", endpoint_url=local_stack.bedrock_url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    direct = br.invoke_model(modelId="cohere.embed-english-v3",
                             body=json.dumps({"texts": texts, "input_type": "search_document"}))
    expected = int(direct["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"])
    assert expected > 0 and r.usage.prompt_tokens == expected
    assert "usage_estimated" not in (r.model_extra or {})
    assert float(r.model_extra["cost"]["total"]) > 0


def test_embeddings_refusals(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="titan-embed", input="x", dimensions=300)
    assert e.value.param == "dimensions"
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=HAIKU, input="x")
    assert "embedding" in e.value.message


# ---- models -------------------------------------------------------------------------------------


def test_models_list_in_openai_shape(client, local_stack):
    ids = [m.id for m in client.models.list()]
    assert "anthropic.claude-haiku-4-5-20251001-v1:0" in ids and "amazon.titan-embed-text-v2:0" in ids
    # Without client headers: the gateway's own shape; with ?format=openai: OpenAI's.
    r = requests.get(base_url(local_stack) + "/models", timeout=30)
    openapi_check.validate_response(r, "/v1/models")
    assert "models" in r.json()
    r = requests.get(base_url(local_stack) + "/models?format=openai", timeout=30)
    openapi_check.validate_response(r, "/v1/models")
    assert r.json()["object"] == "list"


def test_the_response_cache_serves_the_openai_route(client):
    # The local stack's cache is opt-in per request (x-gateway-cache: use), like every route's.
    kw = dict(model=HAIKU, messages=[user("cache me through the OpenAI client, please")],
              max_tokens=30, extra_headers={"x-gateway-cache": "use"})
    first = client.chat.completions.with_raw_response.create(**kw)
    second = client.chat.completions.with_raw_response.create(**kw)
    assert first.headers["x-gateway-cache"] == "miss"
    assert second.headers["x-gateway-cache"] == "hit"
    assert float(second.headers["x-gateway-cost-usd"]) == 0
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    # A stream is its own entry: a miss first (stored once complete), then a replayed hit.
    texts = []
    for expected in ("miss", "hit"):
        stream = client.chat.completions.with_raw_response.create(**kw, stream=True)
        assert stream.headers["x-gateway-cache"] == expected
        texts.append("".join(c.choices[0].delta.content or "" for c in stream.parse() if c.choices))
    assert texts[0] and texts[0] == texts[1]


def test_models_retrieve(client, local_stack):
    m = client.models.retrieve("haiku")
    assert m.id == "anthropic.claude-haiku-4-5-20251001-v1:0" and m.owned_by == "anthropic"
    with pytest.raises(openai.NotFoundError) as e:
        client.models.retrieve("gpt-4o")
    assert e.value.code == "model_not_found"
    r = requests.get(base_url(local_stack) + "/models/nova-lite", timeout=30)
    openapi_check.validate_response(r, "/v1/models/{model}")
    assert r.json()["id"] == "amazon.nova-lite-v1:0" and "pricing" in r.json()
    r = requests.get(base_url(local_stack) + "/models/gpt-4o?format=openai", timeout=30)
    openapi_check.validate_response(r, "/v1/models/{model}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


# ---- errors -------------------------------------------------------------------------------------


def test_errors_in_openai_shape(client, local_stack):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=[user("hi")])
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=HAIKU, messages=[user("hi")], n=2)
    assert e.value.param == "n" and e.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=HAIKU, messages=[user("hi")], seed=7)
    assert e.value.param == "seed"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model=HAIKU,
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
        )
    assert "data URL" in e.value.message
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=HAIKU, messages=[user("hi [[fault:throttle]]")])
    # Documented, and in OpenAI's shape; a wrong method too (rewritten from the gateway's shape).
    r = requests.post(base_url(local_stack) + "/chat/completions", json={"model": HAIKU}, timeout=30)
    openapi_check.validate_response(r, "/v1/chat/completions")
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    r = requests.get(base_url(local_stack) + "/chat/completions", timeout=30)
    assert r.status_code == 405
    assert r.json()["error"]["type"] == "invalid_request_error" and r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers["x-request-id"]


# ---- API keys (GATEWAY_AUTH=api_key) ------------------------------------------------------------


def test_api_keys_through_the_openai_client(auth_stack):
    from stack_fixture import issue_key

    key, _ = issue_key(auth_stack, owner="compat-tests")
    good = openai.OpenAI(base_url=base_url(auth_stack), api_key=key, max_retries=0, timeout=300)
    c = good.chat.completions.create(model=HAIKU, messages=[user("Hello with a key")])
    assert c.choices[0].message.content
    bad = openai.OpenAI(base_url=base_url(auth_stack), api_key="gwk_wrong", max_retries=0, timeout=300)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model=HAIKU, messages=[user("Hello")])
    assert e.value.status_code == 401
    assert e.value.type == "authentication_error" and e.value.body["message"]
    assert set(e.value.body) == {"message", "type", "param", "code"}
