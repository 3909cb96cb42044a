"""End-to-end tests of the `invoke` function (issue 6) through `cargo lambda watch` over HTTP.

The session's local stack (stack_fixture.local_stack) runs bedrock-local, moto and the functions;
the functions get bedrock-local's demo guardrail (`demo`, version `1`) from stack.py. Every
response is validated against docs/openapi.yaml with openapi_check. Upstream failures are
produced by bedrock-local's prompt markers (`[[fault:throttle]]`, ...), which fail every SDK
attempt, so the final answer is the mapped error even after the SDK's retries.

Run: `cargo build --workspace --bins && .venv/bin/python -m pytest tests/python/test_invoke_e2e.py -q`
"""

from __future__ import annotations

import base64
import json

import pytest
import requests

import openapi_check


# 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()

TIMEOUT = 120


# ---- helpers ---------------------------------------------------------------------------------


def url(stack, path: str) -> str:
    return stack.function_url("invoke", path)


def post(stack, path: str, body, template: str | None = None, **kw) -> requests.Response:
    """POSTs JSON (or raw `data=`) and validates the answer against docs/openapi.yaml."""
    if "data" not in kw:
        kw["json"] = body
    r = requests.post(url(stack, path), timeout=TIMEOUT, **kw)
    openapi_check.validate_response(r, template or path)
    assert r.headers.get("x-request-id"), "invoke answers carry x-request-id"
    return r


def converse(stack, body: dict) -> requests.Response:
    return post(stack, "/v1/converse", body)


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def text_of(body: dict) -> str:
    return "".join(b.get("text", "") for b in body["output"]["message"]["content"])


def ok(r: requests.Response) -> dict:
    assert r.status_code == 200, r.text
    body = r.json()
    if isinstance(body, dict) and "request_id" in body:
        assert body["request_id"] == r.headers["x-request-id"]
    return body


def error(r: requests.Response, status: int, error_type: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    e = r.json()["error"]
    assert e["type"] == error_type, e
    assert e["request_id"] == r.headers["x-request-id"]
    if status in (429, 503):
        assert int(r.headers["retry-after"]) > 0
    return e


def stats(stack) -> dict:
    return requests.get(f"{stack.bedrock_url}/_local/stats", timeout=10).json()


# ---- the document ------------------------------------------------------------------------------


def test_openapi_document_is_valid():
    openapi_check.check_document()
    ops = {
        (m.upper(), p)
        for p, item in openapi_check.spec()["paths"].items()
        for m, op in item.items()
        if isinstance(op, dict) and op.get("x-function") == "invoke"
    }
    assert ops == {
        ("GET", "/v1/models"),
        ("GET", "/v1/models/{model}"),
        ("POST", "/v1/converse"),
        ("POST", "/v1/invoke/{modelId}"),
        ("POST", "/v1/guardrail/check"),
        # Async jobs (issue 9): covered by test_jobs_e2e.py.
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs/{id}"),
        # A key's own webhook signing key (issue 21): covered by test_auth_jobs_e2e.py.
        ("GET", "/v1/jobs/webhook-secret"),
        # API keys' usage report (issue 14): covered by test_auth_e2e.py.
        ("GET", "/v1/usage"),
    }


# ---- models ------------------------------------------------------------------------------------


def test_models_list_and_describe(local_stack):
    r = requests.get(url(local_stack, "/v1/models"), timeout=TIMEOUT)
    openapi_check.validate_response(r, "/v1/models")
    body = ok(r)
    ids = {m["id"] for m in body["models"]}
    assert "amazon.nova-lite-v1:0" in ids

    r = requests.get(url(local_stack, "/v1/models/haiku"), timeout=TIMEOUT)
    openapi_check.validate_response(r, "/v1/models/{model}")
    assert ok(r)["invoked"] == "us.anthropic.claude-haiku-4-5-20251001-v1:0"

    r = requests.get(url(local_stack, "/v1/models/gpt-4o"), timeout=TIMEOUT)
    openapi_check.validate_response(r, "/v1/models/{model}")
    error(r, 404, "model_not_found")


# ---- converse ----------------------------------------------------------------------------------


def test_converse_plain(local_stack):
    body = ok(converse(local_stack, {"model": "nova-lite", "messages": [user("Hello there")]}))
    assert body["model"] == "amazon.nova-lite-v1:0"
    assert body["output"]["message"]["role"] == "assistant"
    assert text_of(body)
    assert body["stopReason"] == "end_turn"
    assert body["max_tokens"]["source"] == "default"
    assert float(body["cost"]["total"]) > 0
    assert body["usage"]["totalTokens"] == body["usage"]["inputTokens"] + body["usage"]["outputTokens"]


def test_converse_system_inference_config_and_metadata(local_stack):
    body = ok(converse(local_stack, {
        "model": "haiku",
        "system": [{"text": "You are terse."}],
        "messages": [user("Describe the sea [[len:200]]")],
        "inferenceConfig": {"maxTokens": 20, "temperature": 0.1, "topP": 0.9},
        "requestMetadata": {"team": "e2e"},
    }))
    assert body["model"] == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert body["max_tokens"] == {"value": 20, "source": "request"}
    assert body["stopReason"] == "max_tokens"
    assert body["usage"]["outputTokens"] <= 20


def test_converse_multi_turn(local_stack):
    first = ok(converse(local_stack, {"model": "nova-lite", "messages": [user("Name a colour")]}))
    messages = [user("Name a colour"), first["output"]["message"], user("And another one")]
    second = ok(converse(local_stack, {"model": "nova-lite", "messages": messages}))
    assert second["usage"]["inputTokens"] > first["usage"]["inputTokens"]


def test_converse_tool_round_trip(local_stack):
    tools = {"tools": [{"toolSpec": {
        "name": "get_weather", "description": "Weather for a city",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}},
                                 "required": ["city"]}}}}]}
    ask = user("What is the weather in Paris? use tool get_weather")
    r1 = ok(converse(local_stack, {"model": "haiku", "messages": [ask], "toolConfig": tools}))
    assert r1["stopReason"] == "tool_use"
    assistant = r1["output"]["message"]
    tool_use = next(b["toolUse"] for b in assistant["content"] if "toolUse" in b)
    assert tool_use["name"] == "get_weather"
    assert isinstance(tool_use["input"]["city"], str)
    answer = {"role": "user", "content": [{"toolResult": {
        "toolUseId": tool_use["toolUseId"], "content": [{"json": {"forecast": "sunny, 21C"}}],
        "status": "success"}}]}
    r2 = ok(converse(local_stack, {"model": "haiku", "messages": [ask, assistant, answer],
                                   "toolConfig": tools}))
    assert r2["stopReason"] == "end_turn"
    assert "sunny" in text_of(r2)


def test_converse_image_and_document(local_stack):
    doc = base64.b64encode(b"Quarterly notes: all good.").decode()
    body = ok(converse(local_stack, {"model": "haiku", "messages": [{"role": "user", "content": [
        {"text": "What is in this picture and this file?"},
        {"image": {"format": "png", "source": {"bytes": PNG}}},
        {"document": {"format": "txt", "name": "notes", "source": {"bytes": doc}}},
    ]}]}))
    # bedrock-local counts 1,600 tokens per image: the image reached the model.
    assert body["usage"]["inputTokens"] >= 1600


def test_converse_cache_point_is_priced(local_stack):
    requests.post(f"{local_stack.bedrock_url}/_local/reset", timeout=10)
    system = [{"text": "Reference manual. " * 200}, {"cachePoint": {"type": "default"}}]
    req = {"model": "haiku", "system": system, "messages": [user("Summarise the manual")]}
    first = ok(converse(local_stack, req))
    assert first["usage"].get("cacheWriteInputTokens", 0) > 0
    assert float(first["cost"]["cache_write"]) > 0
    second = ok(converse(local_stack, req))
    assert second["usage"].get("cacheReadInputTokens", 0) > 0
    assert float(second["cost"]["cache_read"]) > 0


def test_converse_additional_model_request_fields(local_stack):
    body = ok(converse(local_stack, {
        "model": "haiku", "messages": [user("Think first")],
        "inferenceConfig": {"maxTokens": 3000},
        "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    }))
    assert "reasoningContent" in body["output"]["message"]["content"][0]


def test_converse_under_the_deployment_guardrail(local_stack):
    body = ok(converse(local_stack, {"model": "nova-lite", "messages": [user("Give me a stock tip")]}))
    assert body["stopReason"] == "guardrail_intervened"
    assert text_of(body) == "Sorry, the model cannot answer this question."


# ---- native InvokeModel ------------------------------------------------------------------------

NATIVE = [
    pytest.param(
        "haiku",
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
         "messages": [{"role": "user", "content": "Hello Claude"}]},
        lambda b: (b["usage"]["input_tokens"], b["usage"]["output_tokens"], b["content"][0]["text"]),
        id="anthropic",
    ),
    pytest.param(
        "amazon.nova-lite-v1:0",
        {"messages": [{"role": "user", "content": [{"text": "Hello Nova"}]}],
         "inferenceConfig": {"maxTokens": 100}},
        lambda b: (b["usage"]["inputTokens"], b["usage"]["outputTokens"],
                   b["output"]["message"]["content"][0]["text"]),
        id="nova",
    ),
    pytest.param(
        "titan-express",
        {"inputText": "Hello Titan", "textGenerationConfig": {"maxTokenCount": 100}},
        lambda b: (b["inputTextTokenCount"], b["results"][0]["tokenCount"], b["results"][0]["outputText"]),
        id="titan",
    ),
    pytest.param(
        "meta.llama3-1-8b-instruct-v1:0",
        {"prompt": "Hello Llama", "max_gen_len": 100},
        lambda b: (b["prompt_token_count"], b["generation_token_count"], b["generation"]),
        id="llama",
    ),
]


@pytest.mark.parametrize("model, body, read", NATIVE)
def test_native_invoke(local_stack, model, body, read):
    r = post(local_stack, f"/v1/invoke/{model}", body, "/v1/invoke/{modelId}")
    answer = ok(r)
    input_tokens, output_tokens, text = read(answer)
    assert text
    assert "cost" not in answer, "the model's body is not decorated"
    h = r.headers
    assert int(h["x-gateway-input-tokens"]) == input_tokens
    assert int(h["x-gateway-output-tokens"]) == output_tokens
    assert h["x-gateway-max-tokens"] == "100" and h["x-gateway-max-tokens-source"] == "request"
    cost = json.loads(h["x-gateway-cost"])
    assert cost["total"] == h["x-gateway-cost-usd"]
    assert float(cost["total"]) > 0
    assert h["x-gateway-model"].endswith(h["x-gateway-model-id"])


def test_native_invoke_default_max_tokens_and_embeddings(local_stack):
    r = post(local_stack, "/v1/invoke/nova-lite", {"messages": [user("Hi")]}, "/v1/invoke/{modelId}")
    ok(r)
    assert r.headers["x-gateway-max-tokens-source"] == "default"

    r = post(local_stack, "/v1/invoke/titan-embed", {"inputText": "embed me"}, "/v1/invoke/{modelId}")
    body = ok(r)
    assert isinstance(body["embedding"], list)
    assert int(r.headers["x-gateway-input-tokens"]) == body["inputTextTokenCount"]
    assert "x-gateway-max-tokens" not in r.headers


# ---- guardrail check ---------------------------------------------------------------------------


def test_guardrail_check(local_stack):
    path = "/v1/guardrail/check"
    blocked = ok(post(local_stack, path, {"source": "INPUT",
                                          "content": [{"text": {"text": "this is forbidden"}}]}))
    assert blocked["action"] == "GUARDRAIL_INTERVENED"
    assert blocked["outputs"][0]["text"] == "Sorry, the model cannot answer this question."

    masked = ok(post(local_stack, path, {"text": "write to jane@example.com", "source": "output"}))
    assert masked["action"] == "GUARDRAIL_INTERVENED"
    assert "{EMAIL}" in masked["outputs"][0]["text"]

    clean = ok(post(local_stack, path, {"text": "What a nice day"}))
    assert clean["action"] == "NONE"

    error(post(local_stack, path, {"source": "SIDEWAYS", "text": "x"}), 400, "invalid_request")


# ---- the error contract ------------------------------------------------------------------------


def test_malformed_json_is_400_with_the_position(local_stack):
    r = post(local_stack, "/v1/converse", None, data=b'{"model": "haiku", "messages": [}',
             headers={"content-type": "application/json"})
    e = error(r, 400, "invalid_request")
    assert "line 1 column 33" in e["message"]


def test_invalid_request_is_400(local_stack):
    e = error(converse(local_stack, {"model": "haiku", "messages": [{"role": "user", "content": [{"txt": "x"}]}]}),
              400, "invalid_request")
    assert "messages[0]" in e["message"]


def test_unknown_model_is_404(local_stack):
    e = error(converse(local_stack, {"model": "gpt-4o", "messages": [user("hi")]}), 404, "model_not_found")
    assert "gpt-4o" in e["message"]
    error(post(local_stack, "/v1/invoke/gpt-4o", {"prompt": "hi"}, "/v1/invoke/{modelId}"),
          404, "model_not_found")


def test_unknown_route_is_404_and_wrong_method_405(local_stack):
    r = requests.get(url(local_stack, "/v1/nope"), timeout=TIMEOUT)
    error(r, 404, "not_found")
    openapi_check.validate_error(r.status_code, r.json(), r.headers)
    r = requests.get(url(local_stack, "/v1/converse"), timeout=TIMEOUT)
    error(r, 405, "method_not_allowed")
    openapi_check.validate_error(r.status_code, r.json(), r.headers)


def test_oversize_body_is_413(local_stack):
    # GATEWAY_MAX_BODY_BYTES defaults to 6,291,456 bytes.
    big = {"model": "haiku", "messages": [user("x" * 6_300_000)]}
    error(converse(local_stack, big), 413, "payload_too_large")


def test_non_json_is_415(local_stack):
    r = post(local_stack, "/v1/converse", None, data=b"model=haiku&prompt=hi",
             headers={"content-type": "application/x-www-form-urlencoded"})
    error(r, 415, "unsupported_media_type")


def test_throttling_is_429_after_the_sdk_retries(local_stack):
    before = stats(local_stack)["requests"].get("Converse", 0)
    r = converse(local_stack, {"model": "nova-lite", "messages": [user("Hello [[fault:throttle]]")]})
    e = error(r, 429, "throttled")
    assert e["upstream"]["error"] == "ThrottlingException"
    # GATEWAY_MAX_ATTEMPTS defaults to 3: the SDK tried three times, each was throttled.
    assert stats(local_stack)["requests"]["Converse"] - before == 3


FAULTS = [
    ("quota", 429, "quota_exceeded"),
    ("model_error", 502, "model_error"),
    ("access_denied", 502, "upstream_access_denied"),
    ("not_ready", 503, "model_not_ready"),
    ("unavailable", 503, "service_unavailable"),
    ("timeout", 504, "timeout"),
]


@pytest.mark.parametrize("fault, status, error_type", FAULTS)
def test_upstream_faults_on_converse(local_stack, fault, status, error_type):
    r = converse(local_stack, {"model": "nova-lite", "messages": [user(f"Hello [[fault:{fault}]]")]})
    error(r, status, error_type)


@pytest.mark.parametrize("fault, status, error_type", [
    ("throttle", 429, "throttled"), ("model_error", 502, "model_error"),
    ("unavailable", 503, "service_unavailable"), ("timeout", 504, "timeout"),
])
def test_upstream_faults_on_native_invoke(local_stack, fault, status, error_type):
    r = post(local_stack, "/v1/invoke/nova-lite",
             {"messages": [user(f"Hello [[fault:{fault}]]")]}, "/v1/invoke/{modelId}")
    error(r, status, error_type)
