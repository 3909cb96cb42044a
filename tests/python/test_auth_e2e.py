"""API keys end to end (docs/auth.md): a local stack with `GATEWAY_AUTH=api_key`, keys issued and
revoked with the `gateway-admin` CLI against moto's DynamoDB, and every HTTP function (invoke,
count, stream-url) reached through `cargo lambda watch`.

The counting details (50 concurrent calls against a budget, aborted streams, token windows) are
tested in Rust (functions/invoke/tests/auth_moto.rs); here the same doors users go through.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

import requests

import openapi_check
from stack_fixture import admin_cli, issue_key

CONVERSE = {
    "model": "haiku",
    "messages": [{"role": "user", "content": [{"text": "Hello from a key."}]}],
    "inferenceConfig": {"maxTokens": 40},
}

# (function, method, documented path, body)
ROUTES = [
    ("invoke", "GET", "/v1/models", None),
    ("invoke", "POST", "/v1/converse", CONVERSE),
    ("count", "POST", "/v1/count", {"model": "haiku", "messages": CONVERSE["messages"]}),
    ("stream-url", "POST", "/converse", CONVERSE),
]


def sse_events(resp: requests.Response) -> list[tuple[str, dict]]:
    events = []
    for raw in resp.text.split("\n\n"):
        name, data = "", None
        for line in raw.splitlines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: "):])
        if name:
            events.append((name, data))
    return events


def send(stack, fn: str, method: str, path: str, body, headers=None) -> requests.Response:
    return requests.request(method, stack.function_url(fn, path), json=body, headers=headers or {},
                            timeout=60)


def test_every_function_needs_a_valid_key_and_revocation_takes_effect(auth_stack):  # noqa: F811
    key, key_id = issue_key(auth_stack, "e2e-keys")
    for fn, method, path, body in ROUTES:
        for headers in ({}, {"Authorization": "Bearer gwk_wrong"}, {"x-api-key": key + "x"}):
            r = send(auth_stack, fn, method, path, body, headers)
            assert r.status_code == 401, (fn, path, headers, r.text)
            assert r.json()["error"]["type"] == "unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
            assert key not in r.text
            openapi_check.validate(method, path, 401, r.json(), r.headers)
        for headers in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key}):
            r = send(auth_stack, fn, method, path, body, headers)
            assert r.status_code == 200, (fn, path, r.text)
    listed = admin_cli(auth_stack, "list")["keys"]
    assert [k for k in listed if k["id"] == key_id and not k["revoked"]]
    assert key not in json.dumps(listed), "the key itself is never stored or listed"

    admin_cli(auth_stack, "revoke", key_id)
    time.sleep(1.5)  # GATEWAY_KEY_CACHE_SECONDS=1 in the auth stack
    for fn, method, path, body in ROUTES:
        r = send(auth_stack, fn, method, path, body, {"x-api-key": key})
        assert r.status_code == 401, (fn, path, r.text)


def test_usage_report_sums_the_costs_of_sync_and_streamed_calls(auth_stack):  # noqa: F811
    key, key_id = issue_key(auth_stack, "e2e-usage", rpm=100, budget_day="5")
    h = {"Authorization": f"Bearer {key}"}
    costs = []
    for _ in range(2):
        r = send(auth_stack, "invoke", "POST", "/v1/converse", CONVERSE, h)
        assert r.status_code == 200, r.text
        assert r.headers["x-ratelimit-limit-requests"] == "100"
        assert int(r.headers["x-ratelimit-remaining-requests"]) < 100
        costs.append(Decimal(r.json()["cost"]["total"]))
    r = send(auth_stack, "stream-url", "POST", "/converse", CONVERSE, h)
    assert r.status_code == 200, r.text
    assert r.headers["x-ratelimit-limit-requests"] == "100"
    events = sse_events(r)
    assert events[-1][0] == "done", events[-1]
    costs.append(Decimal(events[-1][1]["cost"]["total"]))

    r = send(auth_stack, "invoke", "GET", "/v1/usage", None, h)
    body = openapi_check.validate("GET", "/v1/usage", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    assert body["key_id"] == key_id
    assert body["totals"]["requests"] == 3
    assert Decimal(body["totals"]["cost"]) == sum(costs)
    assert sum(Decimal(row["cost"]) for row in body["data"]) == sum(costs)
    day = next(b for b in body["budgets"] if b["period"] == "day")
    assert Decimal(day["limit"]) == 5 and Decimal(day["spent"]) == sum(costs)

    # The CLI reads the same report.
    rows = admin_cli(auth_stack, "usage", "--key-id", key_id, "--from", body["from"],
                     "--to", body["to"])["data"]
    assert sum(Decimal(row["cost"]) for row in rows) == sum(costs)


def test_budget_and_rate_limit_refusals_are_429_with_their_type(auth_stack):  # noqa: F811
    key, key_id = issue_key(auth_stack, "e2e-limits", rpm=2, budget_day="0.00001")
    h = {"x-api-key": key}
    # The budget is smaller than one call's estimate: refused before Bedrock is called.
    r = send(auth_stack, "invoke", "POST", "/v1/converse", CONVERSE, h)
    openapi_check.validate("POST", "/v1/converse", r.status_code, r.json(), r.headers)
    assert r.status_code == 429 and r.json()["error"]["type"] == "budget_exceeded", r.text
    assert "resets at" in r.json()["error"]["message"]
    r = send(auth_stack, "stream-url", "POST", "/converse", CONVERSE, h)
    assert r.status_code == 429 and r.json()["error"]["type"] == "budget_exceeded", r.text
    # The third request of the minute (unless the minute just turned) is over rpm=2.
    r = send(auth_stack, "invoke", "GET", "/v1/models", None, h)
    if r.status_code == 200:
        r = send(auth_stack, "invoke", "GET", "/v1/models", None, h)
    openapi_check.validate("GET", "/v1/models", r.status_code, r.json(), r.headers)
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limited", r.text
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert r.headers["x-ratelimit-reset-requests"].endswith("s")
    # Raising the limits with the CLI applies within the cache TTL.
    admin_cli(auth_stack, "limits", key_id, "--rpm", "none", "--budget-day", "none")
    time.sleep(1.5)
    r = send(auth_stack, "invoke", "POST", "/v1/converse", CONVERSE, h)
    assert r.status_code == 200, r.text


def test_keys_issued_changed_and_revoked_through_the_admin_routes(auth_stack):  # noqa: F811
    """The admin function's routes (on AWS behind IAM; locally on loopback with nothing in front)
    issue a key that invoke accepts, and revoke it."""
    def admin(method: str, path: str, body=None) -> requests.Response:
        return requests.request(method, auth_stack.function_url("admin", path), json=body,
                                timeout=60)

    r = admin("POST", "/v1/admin/keys",
              {"owner": "e2e-admin-routes", "models": ["haiku"],
               "limits": {"requests_per_minute": 50, "budget_day_usd": "3"}})
    body = openapi_check.validate("POST", "/v1/admin/keys", r.status_code, r.json(), r.headers)
    assert r.status_code == 201, r.text
    key, key_id = body["key"], body["key_id"]
    assert body["record"]["id"] == key_id and body["record"]["limits"]["budget_day_usd"] == "3"

    r = send(auth_stack, "invoke", "POST", "/v1/converse", CONVERSE, {"x-api-key": key})
    assert r.status_code == 200, r.text
    assert r.headers["x-ratelimit-limit-requests"] == "50"
    cost = Decimal(r.json()["cost"]["total"])

    r = admin("GET", "/v1/admin/keys")
    listed = openapi_check.validate("GET", "/v1/admin/keys", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    assert [k for k in listed["data"] if k["id"] == key_id and not k["revoked"]]
    assert key not in r.text and "key_hash" not in r.text
    r = admin("GET", f"/v1/admin/keys/{key_id}")
    openapi_check.validate("GET", "/v1/admin/keys/{key_id}", r.status_code, r.json(), r.headers)
    assert r.status_code == 200 and r.json()["record"]["owner"] == "e2e-admin-routes", r.text

    r = admin("PATCH", f"/v1/admin/keys/{key_id}", {"limits": {"requests_per_minute": None}})
    openapi_check.validate("PATCH", "/v1/admin/keys/{key_id}", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    assert "requests_per_minute" not in r.json()["record"]["limits"]

    r = admin("GET", f"/v1/admin/usage?key_id={key_id}")
    report = openapi_check.validate("GET", "/v1/admin/usage", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    assert report["key_id"] == key_id and report["totals"]["requests"] == 1
    assert Decimal(report["totals"]["cost"]) == cost

    for bad_path, bad_body, status in (("/v1/admin/keys", {"owner": ""}, 400),
                                       ("/v1/admin/keys", {"owner": "x", "rpm": 1}, 400)):
        r = admin("POST", bad_path, bad_body)
        openapi_check.validate("POST", "/v1/admin/keys", r.status_code, r.json(), r.headers)
        assert r.status_code == status and r.json()["error"]["type"] == "invalid_request", r.text
    r = admin("GET", "/v1/admin/keys/not-a-key-id")
    openapi_check.validate("GET", "/v1/admin/keys/{key_id}", r.status_code, r.json(), r.headers)
    assert r.status_code == 400, r.text

    for _ in range(2):  # idempotent
        r = admin("DELETE", f"/v1/admin/keys/{key_id}")
        openapi_check.validate("DELETE", "/v1/admin/keys/{key_id}", r.status_code, r.json(),
                               r.headers)
        assert r.status_code == 200 and r.json()["record"]["revoked"] is True, r.text
    time.sleep(1.5)  # GATEWAY_KEY_CACHE_SECONDS=1 in the auth stack
    r = send(auth_stack, "invoke", "POST", "/v1/converse", CONVERSE, {"x-api-key": key})
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized", r.text
