"""End to end: application inference profiles (issue 22, item 4) through the functions.

A profile created with boto3's `create_inference_profile` against bedrock-local's control plane is
used as `model` on `POST /v1/converse` (invoke), the stream route (`POST /converse`) and the
OpenAI-compatible `POST /v1/chat/completions`; the gateway learns its model with
GetInferenceProfile, prices the call by that model, and sends the ARN (bedrock-local's request
log shows it).

Run: `cargo build --workspace --bins && .venv/bin/python -m pytest tests/python/test_catalog_e2e.py -q`
"""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal

import boto3
import pytest
import requests

import openapi_check
import stack_fixture

HAIKU_ID = "anthropic.claude-haiku-4-5-20251001-v1:0"
HAIKU_US = f"us.{HAIKU_ID}"
TIMEOUT = 300


@pytest.fixture(scope="module")
def stack():
    """A stack of its own: bedrock-local logs every request (`Operation modelId status`)."""
    st = stack_fixture._start_stack(
        bedrock_args=["--log-requests"],
        log_dir=stack_fixture.ROOT / "target" / "test-stack" / f"{os.getpid()}-catalog",
    )
    stack_fixture.STARTED.append(st)
    yield st
    st.stop()


def control(st):
    return boto3.client("bedrock", endpoint_url=st.bedrock_url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture(scope="module")
def profile_arn(stack) -> str:
    created = control(stack).create_inference_profile(
        inferenceProfileName="team-a-haiku",
        modelSource={"copyFrom": f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{HAIKU_US}"},
        tags=[{"key": "team", "value": "a"}],
    )
    return created["inferenceProfileArn"]


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def unit_prices(body: dict) -> tuple[Decimal, Decimal]:
    """USD per input and per output token, from a Converse answer's `cost` and `usage`."""
    cost, usage = body["cost"], body["usage"]
    return (Decimal(cost["input"]) / usage["inputTokens"],
            Decimal(cost["output"]) / usage["outputTokens"])


def converse(st, model: str) -> dict:
    r = requests.post(st.function_url("invoke", "/v1/converse"), timeout=TIMEOUT,
                      json={"model": model, "messages": [user("Hello, profile")]})
    openapi_check.validate_response(r, "/v1/converse")
    assert r.status_code == 200, r.text
    return r.json()


def bedrock_log(st) -> str:
    return st.log_tail("bedrock-local", 400)


def test_converse_through_an_application_profile_is_priced_by_its_model(stack, profile_arn):
    via_profile = converse(stack, profile_arn)
    assert via_profile["model"] == profile_arn
    resolved = via_profile["resolved"]
    assert (resolved["id"], resolved["invoked"], resolved["requested"]) == (HAIKU_ID, profile_arn, profile_arn)
    # The profile copies the US system profile: priced as the model through it.
    direct = converse(stack, HAIKU_US)
    assert resolved["pricing"] == direct["resolved"]["pricing"] == "regional"
    assert unit_prices(via_profile) == unit_prices(direct)
    assert Decimal(via_profile["cost"]["total"]) > 0
    assert f"Converse {profile_arn} 200" in bedrock_log(stack)


def test_stream_route_takes_the_profile(stack, profile_arn):
    r = requests.post(stack.function_url("stream-url", "/converse"), timeout=TIMEOUT, stream=True,
                      json={"model": profile_arn, "messages": [user("Stream, profile")]})
    assert r.status_code == 200, r.text
    events = [json.loads(line[len("data: "):]) for line in r.text.splitlines()
              if line.startswith("data: ")]
    done = events[-1]
    openapi_check.validate_schema({"$ref": "#/components/schemas/StreamDone"}, done, "done event")
    assert done["resolved"]["invoked"] == profile_arn and done["resolved"]["id"] == HAIKU_ID
    assert Decimal(done["cost"]["total"]) > 0
    assert f"ConverseStream {profile_arn} 200" in bedrock_log(stack)


def test_openai_chat_completions_takes_the_profile(stack, profile_arn):
    r = requests.post(stack.function_url("stream-url", "/v1/chat/completions"), timeout=TIMEOUT,
                      json={"model": profile_arn,
                            "messages": [{"role": "user", "content": "Hi, compat profile"}]})
    openapi_check.validate("POST", "/v1/chat/completions", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    assert Decimal(r.headers["x-gateway-cost-usd"]) > 0
    log = bedrock_log(stack)
    assert log.count(f"Converse {profile_arn} 200") >= 2, log


def test_unknown_profile_is_a_404(stack):
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzzzzzzzzzzz"
    r = requests.post(stack.function_url("invoke", "/v1/converse"), timeout=TIMEOUT,
                      json={"model": arn, "messages": [user("hi")]})
    assert r.status_code == 404, r.text
    assert r.json()["error"]["type"] == "model_not_found"
