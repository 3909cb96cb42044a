"""`count` end to end: HTTP through `cargo lambda watch` to the function, bedrock-local behind it.

Every response (body, status, declared headers) is checked against docs/openapi.yaml.
"""

from __future__ import annotations

import requests

import openapi_check


MESSAGES = [{"role": "user", "content": [{"text": "How many tokens will this request cost?"}]}]


def post(stack, route: str, body: dict) -> requests.Response:
    resp = requests.post(stack.function_url("count", route), json=body, timeout=120)
    assert resp.headers["content-type"].startswith("application/json"), resp.text
    openapi_check.validate("POST", route, resp.status_code, resp.json(), resp.headers)
    assert resp.headers["x-request-id"] == (resp.json().get("request_id")
                                            or resp.json()["error"]["request_id"])
    return resp


def test_count_from_bedrock_for_claude(local_stack):  # noqa: F811
    resp = post(local_stack, "/v1/count", {"model": "sonnet", "messages": MESSAGES})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["source"] == "bedrock"
    assert body["model"] == "anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert body["input_tokens"] > 0
    assert body["fits"] is True
    assert body["max_tokens"] == {"value": 4096, "source": "default"}
    assert body["room_for_output"] == body["context_window"] - body["input_tokens"]
    assert body["request_id"]


def test_count_estimated_for_a_model_without_count_tokens(local_stack):  # noqa: F811
    resp = post(local_stack, "/v1/count", {"model": "nova-lite", "messages": MESSAGES})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["source"] == "estimate"
    assert body["estimate_error"]["family"] == "amazon-nova"
    assert body["not_countable"] == []


def test_throttled_count_tokens_falls_back(local_stack):  # noqa: F811
    faults = f"{local_stack.bedrock_url}/_local/faults"
    # Enough faults for every SDK attempt the function makes (GATEWAY_MAX_ATTEMPTS, default 3).
    requests.post(faults, json={"fault": "throttle", "count": 10, "operation": "CountTokens"},
                  timeout=10).raise_for_status()
    try:
        resp = post(local_stack, "/v1/count", {"model": "haiku", "messages": MESSAGES})
    finally:
        requests.delete(faults, timeout=10)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["source"] == "estimate"
    assert body["fallback"]["from"] == "bedrock"
    assert body["fallback"]["error"]["type"] == "throttled"
    assert body["fallback"]["error"]["upstream"] == "ThrottlingException"


def test_estimate_compares_models_cheapest_first(local_stack):  # noqa: F811
    resp = post(local_stack, "/v1/estimate", {
        "models": ["sonnet", "haiku", "nova-pro", "nova-micro"],
        "messages": MESSAGES,
        "expected_output_tokens": 300,
    })
    assert resp.status_code == 200, resp.text
    body = resp.json()
    totals = [float(e["cost"]["total"]) for e in body["estimates"]]
    assert totals == sorted(totals)
    assert body["cheapest"] == body["estimates"][0]["model"] == "amazon.nova-micro-v1:0"
    assert all(e["expected_output_tokens"]["value"] == 300 for e in body["estimates"])


def test_errors_are_json(local_stack):  # noqa: F811
    resp = post(local_stack, "/v1/count", {"model": "sonet", "messages": MESSAGES})
    assert resp.status_code == 404
    assert resp.json()["error"]["type"] == "model_not_found"
    assert "sonnet" in resp.json()["error"]["suggestions"]
    resp = post(local_stack, "/v1/count", {"model": "haiku", "messages": []})
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request"
