"""The response cache and `model: "auto"` routing end to end (issue 13): HTTP through `cargo
lambda watch`, the invoke and stream-url functions, bedrock-local and the DynamoDB cache table in
moto.

The local stack (infra/local/stack.py, CACHE_ENV) runs the cache opt-in (only requests that send
`x-gateway-cache` use it, so every other test keeps seeing fresh model calls), with no memory
tier (every hit here is served by the DynamoDB table) and a 5 s TTL. bedrock-local's request
counters prove which calls reached the model. Every prompt carries a fresh ID: the table outlives
a test.

Run: `cargo build --workspace --bins && .venv/bin/python -m pytest tests/python/test_cache_e2e.py -q`
"""

from __future__ import annotations

import json
import re
import time
import uuid

import requests

import openapi_check

import stack as stack_module

TIMEOUT = 120
HEADER = "x-gateway-cache"


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": [{"text": text}]}]


def body(text: str, model: str = "nova-lite", **extra) -> dict:
    return {"model": model, "messages": user(f"{text} ({uuid.uuid4().hex[:8]})"), **extra}


def converse(stack, b: dict, cache: str | None = "use") -> requests.Response:
    headers = {HEADER: cache} if cache else {}
    r = requests.post(stack.function_url("invoke", "/v1/converse"), json=b, headers=headers,
                      timeout=TIMEOUT)
    openapi_check.validate_response(r, "/v1/converse")
    return r


def ok(r: requests.Response) -> dict:
    assert r.status_code == 200, r.text
    return r.json()


def model_calls(stack, op: str = "Converse") -> int:
    r = requests.get(f"{stack.bedrock_url}/_local/stats", timeout=10)
    return r.json()["requests"].get(op, 0)


def test_repeat_is_a_free_identical_hit_served_from_the_table(local_stack):  # noqa: F811
    b = body("What does a cache do?")
    before = model_calls(local_stack)
    r1 = converse(local_stack, b)
    first = ok(r1)
    assert first["cache"] == {"status": "miss", "stored": True}
    assert r1.headers[HEADER] == "miss"
    r2 = converse(local_stack, b)
    second = ok(r2)
    assert model_calls(local_stack) == before + 1, "the hit did not reach the model"
    assert r2.headers[HEADER] == "hit"
    assert second["cache"]["status"] == "hit"
    assert second["cache"]["tier"] == "shared"  # the stack has no memory tier
    assert second["cache"]["saved_usd"] == first["cost"]["total"]
    assert second["cost"]["total"] == "0.000000"
    assert second["output"] == first["output"]
    assert second["stopReason"] == first["stopReason"]
    assert second["request_id"] != first["request_id"]

    # The table holds hashes and the answer, with the TTL attribute.
    ddb = local_stack._boto("dynamodb")
    items = ddb.scan(TableName=stack_module.CACHE_TABLE)["Items"]
    assert items
    for item in items:
        assert re.fullmatch(r"[0-9a-f]{64}", item["key"]["S"])
        assert int(item["expires_at"]["N"]) > time.time() - 60
    mine = [json.loads(i["answer"]["S"]) for i in items]
    assert any(a["body"]["output"] == first["output"] for a in mine)


def test_changed_parameter_misses_and_no_header_never_uses_the_cache(local_stack):  # noqa: F811
    b = body("Parameters matter.")
    ok(converse(local_stack, b))
    changed = dict(b, inferenceConfig={"temperature": 0.2})
    assert ok(converse(local_stack, changed))["cache"]["status"] == "miss"
    other_model = dict(b, model="nova-micro")
    assert ok(converse(local_stack, other_model))["cache"]["status"] == "miss"
    # Without the header (GATEWAY_CACHE=opt_in): a fresh call, no `cache` field, no header.
    before = model_calls(local_stack)
    r = converse(local_stack, b, cache=None)
    assert "cache" not in ok(r) and HEADER not in r.headers
    assert model_calls(local_stack) == before + 1


def test_bypass_refresh_and_bad_values(local_stack):  # noqa: F811
    b = body("Control per request.")
    ok(converse(local_stack, b))
    before = model_calls(local_stack)
    r = converse(local_stack, b, cache="bypass")
    assert ok(r)["cache"] == {"status": "bypass"} and r.headers[HEADER] == "bypass"
    r = converse(local_stack, b, cache="refresh")
    assert ok(r)["cache"] == {"status": "refresh", "stored": True}
    assert model_calls(local_stack) == before + 2
    assert ok(converse(local_stack, b))["cache"]["status"] == "hit"
    assert model_calls(local_stack) == before + 2
    r = converse(local_stack, b, cache="sometimes")
    assert r.status_code == 400
    assert "x-gateway-cache" in r.json()["error"]["message"]


def test_errors_and_interventions_are_not_stored(local_stack):  # noqa: F811
    b = body("Errors are not answers.")
    requests.post(f"{local_stack.bedrock_url}/_local/faults",
                  json={"fault": "model_error", "count": 1, "operation": "Converse"},
                  timeout=10).raise_for_status()
    r = converse(local_stack, b)
    assert r.status_code == 502, r.text
    assert ok(converse(local_stack, b))["cache"]["status"] == "miss"
    assert ok(converse(local_stack, b))["cache"]["status"] == "hit"
    # bedrock-local's demo guardrail (set by the stack) denies `forbidden`.
    blocked = body("Say something forbidden please.")
    v = ok(converse(local_stack, blocked))
    assert v["stopReason"] == "guardrail_intervened"
    assert v["cache"] == {"status": "miss", "stored": False}
    before = model_calls(local_stack)
    assert ok(converse(local_stack, blocked))["cache"]["status"] == "miss"
    assert model_calls(local_stack) == before + 1


def test_ttl_expiry(local_stack):  # noqa: F811
    ttl = int(stack_module.CACHE_ENV["GATEWAY_CACHE_TTL_SECONDS"])
    b = body("Answers expire.")
    ok(converse(local_stack, b))
    assert ok(converse(local_stack, b))["cache"]["status"] == "hit"
    time.sleep(ttl + 0.5)
    assert ok(converse(local_stack, b))["cache"]["status"] == "miss"


def sse(stack, b: dict, cache: str | None = "use") -> tuple[requests.Response, list[tuple[str, dict]]]:
    headers = {HEADER: cache} if cache else {}
    r = requests.post(stack.function_url("stream-url", "/converse"), json=b, headers=headers,
                      timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    openapi_check.validate("POST", "/converse", 200, "", r.headers)
    events = []
    for raw in r.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in raw.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    name, done = events[-1]
    assert name == "done", events[-1]
    openapi_check.validate_schema({"$ref": "#/components/schemas/StreamDone"}, done, "done event")
    return r, events


def test_streams_replay_the_stored_events(local_stack):  # noqa: F811
    b = body("Stream and replay.")
    before = model_calls(local_stack, "ConverseStream")
    r1, first = sse(local_stack, b)
    assert r1.headers[HEADER] == "miss"
    assert first[-1][1]["cache"] == {"status": "miss", "stored": True}
    r2, second = sse(local_stack, b)
    assert model_calls(local_stack, "ConverseStream") == before + 1
    assert r2.headers[HEADER] == "hit"
    # The same events in the same order; only `done` differs (cost, cache, metrics).
    assert [e for e in second[:-1]] == [e for e in first[:-1]]
    assert any(n == "contentBlockDelta" for n, _ in second)
    done = second[-1][1]
    assert done["cache"]["status"] == "hit"
    assert done["cache"]["saved_usd"] == first[-1][1]["cost"]["total"]
    assert done["cost"]["total"] == "0.000000"


def test_auto_routing(local_stack):  # noqa: F811
    b = body("Pick for me.", model="auto")
    v = ok(converse(local_stack, b, cache=None))
    # Defaults: fast = haiku (the cheapest of haiku, sonnet, opus).
    assert v["routing"]["model"] == "anthropic.claude-haiku-4-5-20251001-v1:0"
    assert v["resolved"]["id"] == v["routing"]["model"]
    assert v["routing"]["reason"].startswith("cheapest")
    b = body("Pick the best.", model="auto", routing={"tier": "best"})
    assert ok(converse(local_stack, b, cache=None))["routing"]["model"].startswith("anthropic.claude-opus")
    b = body("Too cheap.", model="auto", routing={"max_cost_usd": 0.0000001})
    r = converse(local_stack, b, cache=None)
    assert r.status_code == 400
    msg = r.json()["error"]["message"]
    assert "no model of tier fast" in msg and "max_cost_usd" in msg
    b = body("Not auto.", routing={"tier": "fast"})
    assert converse(local_stack, b, cache=None).status_code == 400
    _, events = sse(local_stack, body("Stream auto.", model="auto"), cache=None)
    assert events[-1][1]["routing"]["tier"] == "fast"
