"""End to end: the live catalog and application inference profiles (issue 22, items 2 and 4).

The stack refreshes the live catalog every second (`GATEWAY_CATALOG_REFRESH_SECS=1`), allows
unpriced models (`GATEWAY_ALLOW_UNPRICED=true`) and needs API keys. A model added to
bedrock-local's table at run time (`POST /_local/models`) becomes callable without a restart,
its cost reported unknown; a budgeted key is refused for it.

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
        auth="api_key",
        bedrock_args=["--log-requests"],
        extra_env={"GATEWAY_CATALOG_REFRESH_SECS": "1", "GATEWAY_ALLOW_UNPRICED": "true",
                   "GATEWAY_KEY_CACHE_SECONDS": "1"},
        log_dir=stack_fixture.ROOT / "target" / "test-stack" / f"{os.getpid()}-catalog",
    )
    stack_fixture.STARTED.append(st)
    yield st
    st.stop()


@pytest.fixture(scope="module")
def key(stack) -> str:
    return stack_fixture.issue_key(stack, "catalog-tests")[0]


@pytest.fixture(scope="module")
def budgeted_key(stack) -> str:
    return stack_fixture.issue_key(stack, "catalog-budget", budget_day="5")[0]


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


def post(st, fn: str, path: str, key: str, body: dict, **kw) -> requests.Response:
    return requests.post(st.function_url(fn, path), timeout=TIMEOUT, json=body,
                         headers={"x-api-key": key}, **kw)


def converse(st, key: str, model: str) -> dict:
    r = post(st, "invoke", "/v1/converse", key, {"model": model, "messages": [user("Hello, profile")]})
    openapi_check.validate_response(r, "/v1/converse")
    assert r.status_code == 200, r.text
    return r.json()


def bedrock_log(st) -> str:
    return st.log_tail("bedrock-local", 400)


def test_converse_through_an_application_profile_is_priced_by_its_model(stack, key, profile_arn):
    via_profile = converse(stack, key, profile_arn)
    assert via_profile["model"] == profile_arn
    resolved = via_profile["resolved"]
    assert (resolved["id"], resolved["invoked"], resolved["requested"]) == (HAIKU_ID, profile_arn, profile_arn)
    # The profile copies the US system profile: priced as the model through it.
    direct = converse(stack, key, HAIKU_US)
    assert resolved["pricing"] == direct["resolved"]["pricing"] == "regional"
    assert unit_prices(via_profile) == unit_prices(direct)
    assert Decimal(via_profile["cost"]["total"]) > 0
    assert f"Converse {profile_arn} 200" in bedrock_log(stack)


def test_stream_route_takes_the_profile(stack, key, profile_arn):
    r = post(stack, "stream-url", "/converse", key,
             {"model": profile_arn, "messages": [user("Stream, profile")]}, stream=True)
    assert r.status_code == 200, r.text
    events = [json.loads(line[len("data: "):]) for line in r.text.splitlines()
              if line.startswith("data: ")]
    done = events[-1]
    openapi_check.validate_schema({"$ref": "#/components/schemas/StreamDone"}, done, "done event")
    assert done["resolved"]["invoked"] == profile_arn and done["resolved"]["id"] == HAIKU_ID
    assert Decimal(done["cost"]["total"]) > 0
    assert f"ConverseStream {profile_arn} 200" in bedrock_log(stack)


def test_openai_chat_completions_takes_the_profile(stack, key, profile_arn):
    r = post(stack, "stream-url", "/v1/chat/completions", key,
             {"model": profile_arn, "messages": [{"role": "user", "content": "Hi, compat profile"}]})
    openapi_check.validate("POST", "/v1/chat/completions", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    assert Decimal(r.headers["x-gateway-cost-usd"]) > 0
    log = bedrock_log(stack)
    assert log.count(f"Converse {profile_arn} 200") >= 2, log


def test_models_describes_a_profile_as_its_model(stack, key, profile_arn):
    from urllib.parse import quote

    r = requests.get(stack.function_url("invoke", "/v1/models/" + quote(profile_arn, safe="")),
                     headers={"x-api-key": key}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["invoked"]) == (HAIKU_ID, profile_arn)


def test_unknown_profile_is_a_404(stack, key):
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzzzzzzzzzzz"
    r = post(stack, "invoke", "/v1/converse", key, {"model": arn, "messages": [user("hi")]})
    assert r.status_code == 404, r.text
    assert r.json()["error"]["type"] == "model_not_found"


def test_unknown_profiles_are_remembered(stack, key):
    """A made-up ARN costs one GetInferenceProfile per minute, not one per request."""
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/made0up0arn1"
    stats = lambda: requests.get(f"{stack.bedrock_url}/_local/stats", timeout=10).json()  # noqa: E731
    before = stats()["requests"]["GetInferenceProfile"]
    for _ in range(5):
        r = post(stack, "invoke", "/v1/converse", key, {"model": arn, "messages": [user("hi")]})
        assert r.status_code == 404, r.text
    assert stats()["requests"]["GetInferenceProfile"] - before == 1


@pytest.fixture(scope="module")
def bound_key(stack, profile_arn) -> str:
    out = stack_fixture.admin_cli(stack, "issue", "--owner", "team-a",
                                  "--application-profile", profile_arn)
    assert out["record"]["limits"]["application_profile"] == profile_arn
    return out["key"]


def test_a_key_bound_to_a_profile_calls_through_it(stack, bound_key, profile_arn):
    """Any name of the profile's model goes to the profile's ARN (its tags carry the spend);
    another model is refused before Bedrock is called."""
    body = converse(stack, bound_key, "haiku")
    assert body["resolved"]["invoked"] == profile_arn and body["resolved"]["id"] == HAIKU_ID
    assert body["resolved"]["requested"] == "haiku"
    assert Decimal(body["cost"]["total"]) > 0
    log = bedrock_log(stack)
    r = post(stack, "stream-url", "/converse", bound_key,
             {"model": HAIKU_US, "messages": [user("Stream, bound")]}, stream=True)
    assert r.status_code == 200, r.text
    assert f"ConverseStream {profile_arn} 200" in bedrock_log(stack)
    r = post(stack, "invoke", "/v1/converse", bound_key,
             {"model": "nova-lite", "messages": [user("not mine")]})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "model_not_allowed", error
    assert profile_arn.rsplit("/", 1)[1] in error["message"] and "arn:" not in error["message"]
    assert bedrock_log(stack).count("nova-lite") == log.count("nova-lite")


# ---- the live catalog ------------------------------------------------------------------------

NEW_MODEL = "acme.frontier-7-v1:0"


def models(st, key: str) -> dict:
    r = requests.get(st.function_url("invoke", "/v1/models"), headers={"x-api-key": key},
                     timeout=TIMEOUT)
    openapi_check.validate_response(r, "/v1/models")
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(predicate, what: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_models_say_the_catalog_is_live(stack, key):
    listed = wait_for(lambda: (m := models(stack, key))["catalog_source"] == "live" and m,
                      "the first live refresh")
    assert listed["catalog_refreshed_at"]
    by_id = {m["id"]: m for m in listed["models"]}
    assert by_id[HAIKU_ID]["priced"] is True and by_id[HAIKU_ID]["pricing"]


def test_a_model_added_at_run_time_becomes_callable_unpriced(stack, key, budgeted_key):
    r = requests.post(f"{stack.bedrock_url}/_local/models", timeout=10,
                      json={"modelId": NEW_MODEL, "name": "Frontier 7", "inputModalities": ["TEXT"]})
    assert r.status_code == 201, r.text

    def listed():
        return next((m for m in models(stack, key)["models"] if m["id"] == NEW_MODEL), None)

    entry = wait_for(listed, f"{NEW_MODEL} in /v1/models (refresh every second)")
    assert entry["priced"] is False and entry["pricing"] is None
    assert entry["capabilities"]["converse"] and not entry["capabilities"]["vision"]

    body = converse(stack, key, NEW_MODEL)
    assert body["resolved"]["id"] == NEW_MODEL
    assert body["cost"] is None and body["cost_unknown"] is True, body
    assert f"Converse {NEW_MODEL} 200" in bedrock_log(stack)

    r = post(stack, "invoke", "/v1/converse", budgeted_key,
             {"model": NEW_MODEL, "messages": [user("hi")]})
    assert r.status_code == 400, r.text
    assert "budget" in r.json()["error"]["message"]
