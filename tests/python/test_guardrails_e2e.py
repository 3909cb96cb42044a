"""Guardrails end to end (issue 10) through `cargo lambda watch`: the invoke and stream-url
functions with bedrock-local's demo guardrail (`demo`, version `1`, trace off, from stack.py) and
the default local content policy (SSNs, cards and AWS keys blocked; everything else allowed).

- Bedrock interventions are reported: `guardrail` in Converse answers, `x-gateway-guardrail*`
  headers on native InvokeModel, a `guardrail` SSE event before `done` on both streams
  (`[[say:forbidden]]` makes bedrock-local's model write a denied word mid-answer).
- The local filter blocks secrets on input on every path (400 `guardrail_blocked`).
- Caller guardrails are refused (the stack does not set GATEWAY_ALLOW_CALLER_GUARDRAIL).

Masking, output blocks and the stream chunk-boundary case need a non-default policy; they are
tested in Rust against bedrock-local (shared/tests/guardrails_against_emulator.rs).

Run: `cargo build --workspace --bins && .venv/bin/python -m pytest tests/python/test_guardrails_e2e.py -q`
"""

from __future__ import annotations

import json
import time

import requests

import openapi_check

from test_stream_e2e import read_events

TIMEOUT = 120
BLOCKED_OUTPUT = "Sorry, the model cannot provide this response."
BLOCKED_INPUT = "Sorry, the model cannot answer this question."


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def invoke(stack, path: str, body: dict, template: str | None = None) -> requests.Response:
    r = requests.post(stack.function_url("invoke", path), json=body, timeout=TIMEOUT)
    openapi_check.validate_response(r, template or path)
    return r


def sse(stack, path: str, body: dict):
    t0 = time.monotonic()
    r = requests.post(stack.function_url("stream-url", path), json=body, stream=True, timeout=60)
    assert r.status_code == 200, r.text
    events = read_events(r, t0)
    done = events[-1]
    assert done.name == "done", [e.name for e in events]
    openapi_check.validate_schema({"$ref": "#/components/schemas/StreamDone"}, done.data, "done event")
    return events


def text_of(body: dict) -> str:
    return "".join(b.get("text", "") for b in body["output"]["message"]["content"])


def assert_blocked(r: requests.Response, kind: str) -> None:
    assert r.status_code == 400, r.text
    e = r.json()["error"]
    assert e["type"] == "guardrail_blocked", e
    assert f"({kind})" in e["message"], e
    assert e["request_id"] == r.headers["x-request-id"]


# ---- Bedrock guardrail -------------------------------------------------------------------------


def test_converse_reports_bedrock_interventions(local_stack):
    r = invoke(local_stack, "/v1/converse", {"model": "nova-lite", "messages": [user("this is forbidden")]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stopReason"] == "guardrail_intervened"
    assert text_of(body) == BLOCKED_INPUT
    g = body["guardrail"]
    assert (g["action"], g["source"]) == ("intervened", "bedrock")
    assert g["policies"] == []  # the stack runs with GATEWAY_GUARDRAIL_TRACE off
    assert "assessments" not in g

    r = invoke(local_stack, "/v1/converse", {"model": "nova-lite", "messages": [user("Go on [[say:forbidden]]")]})
    body = r.json()
    assert text_of(body) == BLOCKED_OUTPUT
    assert body["guardrail"]["source"] == "bedrock"

    r = invoke(local_stack, "/v1/converse", {"model": "nova-lite", "messages": [user("Hello")]})
    assert "guardrail" not in r.json()


def test_converse_stream_intervention_mid_stream(local_stack):
    events = sse(local_stack, "/converse", {"model": "haiku", "messages": [user("Go on [[say:forbidden]] [[len:200]]")]})
    names = [e.name for e in events]
    deltas = [e.data["delta"]["text"] for e in events if e.name == "contentBlockDelta"]
    text = "".join(deltas)
    assert text.startswith("Hello from bedrock-local.") and text.endswith(BLOCKED_OUTPUT), text
    assert "forbidden" not in text
    stop = next(e for e in events if e.name == "messageStop")
    assert stop.data["stopReason"] == "guardrail_intervened"
    assert names[-2:] == ["guardrail", "done"], names
    g = events[-2].data
    openapi_check.validate_schema({"$ref": "#/components/schemas/GuardrailReport"}, g, "guardrail event")
    assert (g["action"], g["source"]) == ("intervened", "bedrock")
    assert events[-1].data["guardrail"] == g


def test_native_invoke_reports_in_headers(local_stack):
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200,
            "messages": [{"role": "user", "content": "Hi [[say:forbidden]]"}]}
    r = invoke(local_stack, "/v1/invoke/haiku", body, "/v1/invoke/{modelId}")
    assert r.status_code == 200, r.text
    assert r.json()["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert r.headers["x-gateway-guardrail"] == "intervened"
    report = json.loads(r.headers["x-gateway-guardrail-report"])
    assert (report["action"], report["source"]) == ("intervened", "bedrock")

    clean = dict(body, messages=[{"role": "user", "content": "Hi"}])
    r = invoke(local_stack, "/v1/invoke/haiku", clean, "/v1/invoke/{modelId}")
    assert "x-gateway-guardrail" not in r.headers


def test_native_stream_intervention_event(local_stack):
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 400,
            "messages": [{"role": "user", "content": "Go on [[say:badword]] [[len:200]]"}]}
    events = sse(local_stack, "/invoke/haiku", body)
    names = [e.name for e in events]
    assert names[-2:] == ["guardrail", "done"], names
    assert events[-2].data["source"] == "bedrock"
    text = "".join(e.data.get("delta", {}).get("text", "") for e in events if e.name == "chunk")
    assert text.endswith(BLOCKED_OUTPUT) and "badword" not in text, text


def test_guardrail_check_route(local_stack):
    r = invoke(local_stack, "/v1/guardrail/check", {"text": "this is forbidden"})
    assert r.status_code == 200 and r.json()["action"] == "GUARDRAIL_INTERVENED"


# ---- local filter (default policy) ------------------------------------------------------------


def test_local_filter_blocks_secrets_on_every_path(local_stack):
    r = invoke(local_stack, "/v1/converse", {"model": "nova-lite", "messages": [user("My SSN is 123-45-6789")]})
    assert_blocked(r, "ssn")
    assert "6789" not in r.text

    native = {"inputText": "card 4111 1111 1111 1111", "textGenerationConfig": {"maxTokenCount": 50}}
    r = invoke(local_stack, "/v1/invoke/titan-express", native, "/v1/invoke/{modelId}")
    assert_blocked(r, "card")

    for path, body in [
        ("/converse", {"model": "haiku", "messages": [user("key AKIAIOSFODNN7EXAMPLE")]}),
        ("/invoke/meta.llama3-1-8b-instruct-v1:0", {"prompt": "SSN 123-45-6789", "max_gen_len": 50}),
    ]:
        r = requests.post(local_stack.function_url("stream-url", path), json=body, timeout=60)
        assert r.headers["content-type"].startswith("application/json"), r.headers
        assert_blocked(r, "aws_access_key" if "AKIA" in json.dumps(body) else "ssn")

    # Allowed by default: e-mail addresses and phone numbers pass untouched.
    r = invoke(local_stack, "/v1/converse", {"model": "nova-lite", "messages": [user("Mail jane@example.com")]})
    assert r.status_code == 200, r.text
    assert "guardrail" not in r.json(), r.json()


# ---- caller guardrails -----------------------------------------------------------------------


def test_caller_guardrail_is_refused_not_dropped(local_stack):
    body = {"model": "nova-lite", "messages": [user("Hello")],
            "guardrailConfig": {"guardrailIdentifier": "other", "guardrailVersion": "1"}}
    r = invoke(local_stack, "/v1/converse", body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request"
    assert "GATEWAY_ALLOW_CALLER_GUARDRAIL" in r.json()["error"]["message"]

    body["guardrailConfig"] = {"guardrailIdentifier": "demo", "guardrailVersion": "1"}
    assert invoke(local_stack, "/v1/converse", body).status_code == 200
