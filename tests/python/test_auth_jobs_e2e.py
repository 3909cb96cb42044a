"""Async jobs charged to the API key that submitted them (docs/auth.md, "Async jobs"), end to
end on the `auth_stack` (GATEWAY_AUTH=api_key): POST /v1/jobs with a key -> record with the key's
ID -> the bridge -> async-callback, which reads the key by ID and runs the job as that key ->
the key's spend and usage report.

A job is made to wait between submission and its run with bedrock-local's throttle fault: its
deliveries are throttled (retryable) until the test has changed the key with the admin CLI and
the functions' 1 s key cache has passed (`change_key_between_deliveries`).
"""

from __future__ import annotations

import time
from decimal import Decimal

import requests

import openapi_check
from stack_fixture import admin_cli, issue_key


def converse(text: str, model: str = "haiku", max_tokens: int = 40) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": max_tokens}}


def submit(stack, key: str, body: dict) -> requests.Response:
    r = requests.post(stack.function_url("invoke", "/v1/jobs"), json=body,
                      headers={"Authorization": f"Bearer {key}"}, timeout=60)
    openapi_check.validate("POST", "/v1/jobs", r.status_code, r.json(), r.headers)
    return r


def get_job(stack, key: str, job_id: str) -> dict:
    r = requests.get(stack.function_url("invoke", f"/v1/jobs/{job_id}"),
                     headers={"x-api-key": key}, timeout=30)
    openapi_check.validate("GET", "/v1/jobs/{id}", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(stack, key: str, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    job = {}
    while time.monotonic() < deadline:
        job = get_job(stack, key, job_id)
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still {job.get('status')} after {timeout}s: {job}\n"
                         f"{stack.log_tail('cargo-lambda-watch', 30)}")


def usage(stack, key: str) -> dict:
    r = requests.get(stack.function_url("invoke", "/v1/usage"), headers={"x-api-key": key},
                     timeout=30)
    openapi_check.validate("GET", "/v1/usage", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    return r.json()


def hold_jobs(stack) -> None:
    """Every Converse call is throttled until `clear_faults`: job deliveries fail (retryably)
    and come back, so a job waits between its submission and its run."""
    requests.post(f"{stack.bedrock_url}/_local/faults",
                  json={"fault": "throttle", "count": 1000, "operation": "Converse"},
                  timeout=10).raise_for_status()


def clear_faults(stack) -> None:
    # The emulator is the session's: nothing armed here may reach another test.
    requests.delete(f"{stack.bedrock_url}/_local/faults", timeout=10).raise_for_status()


def change_key_between_deliveries(stack, key: str, job_id: str, *admin_args: str,
                                  reader: str | None = None) -> None:
    """Holds the job (throttled deliveries) until its first delivery has run, then changes the
    key with the admin CLI, waits out the functions' key cache (1 s on `auth_stack`), and lets
    the job go once a delivery claimed after the change has started: that one, and every one
    after it, sees the change. Changing the key without holding would race the first delivery;
    releasing at once would race the cache, or a delivery claimed before the change whose
    Converse call is still retrying the throttle (it would then succeed as the old key).
    `reader` reads the job while waiting (default `key`; an admin key once `key` is revoked)."""
    reader = reader or key
    hold_jobs(stack)
    try:
        wait_for_throttled_first_attempt(stack, key, job_id)
        admin_cli(stack, *admin_args)
        time.sleep(1.5)
        # `attempts` counts claims: the claim after the one that may be in flight now is made
        # after the change, and checks the key before it calls Bedrock.
        seen = get_job(stack, reader, job_id)["attempts"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = get_job(stack, reader, job_id)
            if job["attempts"] > seen or job["status"] not in ("queued", "running"):
                return
            time.sleep(0.1)
        raise AssertionError(f"job {job_id}: no delivery after the key changed: {job}")
    finally:
        clear_faults(stack)


def wait_for_throttled_first_attempt(stack, key: str, job_id: str, timeout: float = 120) -> dict:
    """Until the job's first delivery has run and been throttled (queued again, attempt 1,
    `last_error` throttled)."""
    deadline = time.monotonic() + timeout
    job = {}
    while time.monotonic() < deadline:
        job = get_job(stack, key, job_id)
        if (job.get("last_error") or {}).get("type") == "throttled":
            return job
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id}: first attempt not throttled after {timeout}s: {job}")


def test_a_job_is_charged_to_its_key(auth_stack):  # noqa: F811
    key, key_id = issue_key(auth_stack, "e2e-jobs", budget_day="5")
    r = submit(auth_stack, key, {"request": converse("A job billed to its key.")})
    assert r.status_code == 202, r.text
    assert r.json()["key_id"] == key_id
    assert key not in r.text
    # The first job on this stack also waits for cargo lambda watch to build async-callback.
    job = wait_for(auth_stack, key, r.json()["job_id"], timeout=600)
    assert job["status"] == "succeeded", job
    assert job["key_id"] == key_id
    cost = Decimal(job["cost"]["total"])
    assert cost > 0

    report = usage(auth_stack, key)
    assert report["totals"]["requests"] == 1, report
    assert Decimal(report["totals"]["cost"]) == cost
    [row] = report["data"]
    assert row["input_tokens"] == job["usage"]["inputTokens"]
    assert row["output_tokens"] == job["usage"]["outputTokens"]
    day = next(b for b in report["budgets"] if b["period"] == "day")
    assert Decimal(day["spent"]) == cost, "the reservation was replaced by the job's cost"

    # The job and its result link are the submitting key's (or an admin's) to read: another
    # key gets the same 404 as for a job that does not exist.
    other, _ = issue_key(auth_stack, "e2e-jobs-other")
    r = requests.get(auth_stack.function_url("invoke", f"/v1/jobs/{job['job_id']}"),
                     headers={"x-api-key": other}, timeout=30)
    openapi_check.validate("GET", "/v1/jobs/{id}", r.status_code, r.json(), r.headers)
    assert r.status_code == 404 and "url" not in r.text, r.text
    admin, _ = issue_key(auth_stack, "e2e-jobs-admin", admin=True)
    assert get_job(auth_stack, admin, job["job_id"])["key_id"] == key_id


def test_a_video_job_is_charged_its_per_second_cost(auth_stack):  # noqa: F811
    key, key_id = issue_key(auth_stack, "e2e-video", budget_day="5")
    native = {"taskType": "TEXT_VIDEO", "textToVideoParams": {"text": "a calm sea"},
              "videoGenerationConfig": {"durationSeconds": 6, "fps": 24, "dimension": "1280x720"}}
    r = submit(auth_stack, key, {"native": native, "model": "amazon.nova-reel-v1:0"})
    assert r.status_code == 202, r.text
    job = wait_for(auth_stack, key, r.json()["job_id"], timeout=120)
    assert job["status"] == "succeeded", job
    assert Decimal(job["cost"]["total"]) == Decimal("0.48")
    report = usage(auth_stack, key)
    [row] = report["data"]
    assert row["model"] == "amazon.nova-reel-v1:0" and row["requests"] == 1
    assert Decimal(row["cost"]) == Decimal("0.48")
    day = next(b for b in report["budgets"] if b["period"] == "day")
    assert Decimal(day["spent"]) == Decimal("0.48")
    # A second video no longer fits what is left of the day's budget: refused at submission.
    admin_cli(auth_stack, "limits", key_id, "--budget-day", "0.5")
    time.sleep(1.5)  # GATEWAY_KEY_CACHE_SECONDS=1
    r = submit(auth_stack, key, {"native": native, "model": "amazon.nova-reel-v1:0"})
    assert r.status_code == 429 and r.json()["error"]["type"] == "budget_exceeded", r.text


def test_a_key_without_room_or_the_model_is_refused_at_submission(auth_stack):  # noqa: F811
    key, _ = issue_key(auth_stack, "e2e-jobs-poor", budget_day="0.00001")
    r = submit(auth_stack, key, {"request": converse("Too dear.")})
    assert r.status_code == 429, r.text
    assert r.json()["error"]["type"] == "budget_exceeded"
    assert "resets at" in r.json()["error"]["message"]
    assert 1 <= int(r.headers["retry-after"]) <= 86_400

    key, _ = issue_key(auth_stack, "e2e-jobs-nova", models=["amazon.nova-*"])
    r = submit(auth_stack, key, {"request": converse("Not my model.")})
    assert r.status_code == 400 and r.json()["error"]["type"] == "model_not_allowed", r.text
    r = submit(auth_stack, key, {"request": converse("My model.", model="nova-lite")})
    assert r.status_code == 202, r.text
    # Finished before the next test arms its throttle fault.
    assert wait_for(auth_stack, key, r.json()["job_id"])["status"] == "succeeded"


def test_a_budget_spent_before_the_run_fails_the_job(auth_stack):  # noqa: F811
    key, key_id = issue_key(auth_stack, "e2e-jobs-late", budget_day="5")
    hold_jobs(auth_stack)
    r = submit(auth_stack, key, {"request": converse("Wait for me.")})
    assert r.status_code == 202, r.text
    # Accepted (the budget fitted); before it runs, the budget drops below its estimate.
    change_key_between_deliveries(auth_stack, key, r.json()["job_id"],
                                  "limits", key_id, "--budget-day", "0.00001")
    job = wait_for(auth_stack, key, r.json()["job_id"], timeout=60)
    assert job["status"] == "failed", job
    assert job["attempts"] >= 2, job
    assert job["error"]["type"] == "budget_exceeded", job
    assert job["error"]["retryable"] is False
    assert "resets at" in job["error"]["message"]
    report = usage(auth_stack, key)
    assert report["totals"]["requests"] == 0 and Decimal(report["totals"]["cost"]) == 0
    day = next(b for b in report["budgets"] if b["period"] == "day")
    assert Decimal(day["spent"]) == 0, "the throttled attempt's reservation was released"


def test_a_key_revoked_before_the_run_fails_the_job(auth_stack):  # noqa: F811
    key, key_id = issue_key(auth_stack, "e2e-jobs-revoked")
    admin_key, _ = issue_key(auth_stack, "e2e-jobs-ops", admin=True)
    hold_jobs(auth_stack)
    r = submit(auth_stack, key, {"request": converse("Revoke me.")})
    assert r.status_code == 202, r.text
    change_key_between_deliveries(auth_stack, key, r.json()["job_id"], "revoke", key_id,
                                  reader=admin_key)
    # The revoked key cannot read its job any more: an admin's key can.
    job = wait_for(auth_stack, admin_key, r.json()["job_id"], timeout=60)
    assert job["status"] == "failed", job
    assert job["error"]["type"] == "unauthorized" and job["error"]["retryable"] is False, job


def test_each_keys_webhooks_verify_only_with_its_own_secret(auth_stack):  # noqa: F811
    """Per-tenant webhook keys (docs/jobs.md, "Webhooks"): each key reads its signing key from
    GET /v1/jobs/webhook-secret, and its deliveries verify with it and not with another key's
    (nor with the deployment's)."""
    import hashlib
    import hmac
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list[tuple[bytes, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            got.append((body, self.headers.get("x-gateway-signature", "")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"

    def verifies(secret: str, body: bytes, header: str) -> bool:
        parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
        t = next(v for k, v in parts if k == "t")
        expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")

    try:
        secrets, jobs = {}, {}
        for name in ("e2e-hook-a", "e2e-hook-b"):
            key, key_id = issue_key(auth_stack, name)
            r = requests.get(auth_stack.function_url("invoke", "/v1/jobs/webhook-secret"),
                             headers={"x-api-key": key}, timeout=30)
            openapi_check.validate("GET", "/v1/jobs/webhook-secret", r.status_code, r.json(), r.headers)
            assert r.status_code == 200 and r.json()["key_id"] == key_id, r.text
            secrets[key_id] = r.json()["webhook_secret"]
            r = submit(auth_stack, key, {"request": converse(f"hook for {name}"), "webhook_url": hook})
            assert r.status_code == 202, r.text
            jobs[r.json()["job_id"]] = (key, key_id)
        for job_id, (key, _) in jobs.items():
            assert wait_for(auth_stack, key, job_id)["status"] == "succeeded"
        deadline = time.monotonic() + 30
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(got) == 2, got
        for body, header in got:
            owner = json.loads(body)["key_id"]
            other = next(k for k in secrets if k != owner)
            assert verifies(secrets[owner], body, header)
            assert not verifies(secrets[other], body, header)
            assert not verifies("local-webhook-secret", body, header)
    finally:
        server.shutdown()
        server.server_close()
