"""Async jobs end to end: POST /v1/jobs on invoke (cargo lambda watch) -> DynamoDB record and SQS
message (moto) -> the event-source bridge -> async-callback -> bedrock-local -> result in S3,
record updated, signed webhook to a receiver in this process on 127.0.0.1 (allowed by the
stack's local flag, GATEWAY_ALLOW_HTTP_WEBHOOKS=true).

The stack's queue has a 2 s visibility timeout (stack_fixture) and maxReceiveCount 3, so
retries and the dead-letter path take seconds. Every wait is bounded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import openapi_check
from stack_fixture import stack_module

HAIKU = "haiku"
SECRET = stack_module.WEBHOOK_SECRET.encode()


def converse(text: str, model: str = "nova-lite", max_tokens: int = 40) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": max_tokens}}


def submit(stack, body: dict) -> requests.Response:
    r = requests.post(stack.function_url("invoke", "/v1/jobs"), json=body, timeout=60)
    openapi_check.validate("POST", "/v1/jobs", r.status_code, r.json(), r.headers)
    return r


def get_job(stack, job_id: str) -> dict:
    r = requests.get(stack.function_url("invoke", f"/v1/jobs/{job_id}"), timeout=30)
    openapi_check.validate("GET", "/v1/jobs/{id}", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(stack, job_id: str, statuses=("succeeded", "failed"), timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    job = {}
    while time.monotonic() < deadline:
        job = get_job(stack, job_id)
        if job["status"] in statuses:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still {job.get('status')} after {timeout}s: {job}\n"
                         f"{stack.log_tail('cargo-lambda-watch', 30)}")


def bedrock_stats(stack) -> dict:
    return requests.get(f"{stack.bedrock_url}/_local/stats", timeout=10).json()


def converse_calls(stack) -> int:
    return bedrock_stats(stack)["requests"]["Converse"]


def queue_drained(stack, timeout: float = 60) -> None:
    sqs = stack._boto("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        a = sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]
        if int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]) == 0:
            return
        time.sleep(0.3)
    raise AssertionError("jobs queue did not drain")


# ---- a webhook receiver that verifies signatures the way docs/jobs.md tells receivers to ------

def verify(secret: bytes, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    sigs = [p.split("=", 1)[1] for p in header.split(",") if p.startswith("v1=")]
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - t) > tolerance:
        return False
    expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in sigs)


class Receiver:
    def __init__(self):
        self.deliveries: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                header = self.headers.get("x-gateway-signature", "")
                with receiver.lock:
                    receiver.deliveries.append({
                        "body": json.loads(body),
                        "verified": verify(SECRET, header, body, int(time.time())),
                        "verified_wrong_key": verify(b"wrong", header, body, int(time.time())),
                    })
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def for_job(self, job_id: str, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = [d for d in self.deliveries if d["body"].get("job_id") == job_id]
            if got:
                return got
            time.sleep(0.2)
        raise AssertionError(f"no webhook for {job_id}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


# ---- tests ----------------------------------------------------------------------------------

def test_job_runs_to_a_result_in_s3_and_a_verified_webhook(local_stack, receiver):  # noqa: F811
    r = submit(local_stack, {"request": converse("hello jobs", model=HAIKU), "webhook_url": receiver.url})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert job_id.startswith("job_") and r.json()["status"] == "queued"
    assert r.headers["location"] == f"/v1/jobs/{job_id}" == r.json()["status_url"]

    # The first job also waits for cargo lambda watch to build async-callback.
    job = wait_for(local_stack, job_id, timeout=600)
    assert job["status"] == "succeeded", job
    assert job["attempts"] == 1
    assert job["usage"]["inputTokens"] > 0 and job["usage"]["outputTokens"] > 0
    assert float(job["cost"]["total"]) > 0
    assert job["result"]["s3_uri"] == f"s3://{stack_module.BUCKET}/results/{job_id}.json"
    result = requests.get(job["result"]["url"], timeout=10)
    assert result.status_code == 200
    assert result.json()["output"]["message"]["content"][0]["text"]
    assert result.json()["model"].endswith("anthropic.claude-haiku-4-5-20251001-v1:0")

    [delivery] = receiver.for_job(job_id)
    assert delivery["verified"] and not delivery["verified_wrong_key"]
    assert delivery["body"]["status"] == "succeeded"
    assert delivery["body"]["result"]["s3_uri"] == job["result"]["s3_uri"]
    assert "messages" not in json.dumps(delivery["body"])  # no prompt in the webhook
    deadline = time.monotonic() + 20
    while get_job(local_stack, job_id).get("webhook", {}).get("status") != "delivered":
        assert time.monotonic() < deadline, get_job(local_stack, job_id)
        time.sleep(0.2)
    assert get_job(local_stack, job_id)["webhook"] == {"status": "delivered", "attempts": 1,
                                                      "last_status_code": 204}


def test_idempotency_key_returns_the_same_job_and_refuses_a_different_body(local_stack):  # noqa: F811
    key = f"e2e-{time.time_ns()}"
    body = {"request": converse("idempotent"), "idempotency_key": key}
    first = submit(local_stack, body)
    assert first.status_code == 202, first.text
    again = submit(local_stack, {"idempotency_key": key, "request": converse("idempotent")})
    assert again.status_code == 200, again.text
    assert again.json()["job_id"] == first.json()["job_id"]
    conflict = submit(local_stack, {"request": converse("something else"), "idempotency_key": key})
    assert conflict.status_code == 409 and conflict.json()["error"]["type"] == "conflict"
    assert wait_for(local_stack, first.json()["job_id"])["status"] == "succeeded"


def test_a_message_delivered_three_times_runs_once(local_stack):  # noqa: F811
    queue_drained(local_stack)
    before = converse_calls(local_stack)
    r = submit(local_stack, {"request": converse("run me once")})
    job_id = r.json()["job_id"]
    sqs = local_stack._boto("sqs")
    for _ in range(2):  # the API sent one; two more, as an at-least-once queue may
        sqs.send_message(QueueUrl=local_stack.queue_url, MessageBody=json.dumps({"job_id": job_id}))
    job = wait_for(local_stack, job_id)
    queue_drained(local_stack)
    assert job["status"] == "succeeded" and job["attempts"] == 1
    assert converse_calls(local_stack) - before == 1


def test_a_throttled_job_is_retried_and_then_succeeds(local_stack):  # noqa: F811
    queue_drained(local_stack)
    # GATEWAY_MAX_ATTEMPTS defaults to 3 SDK attempts: three throttles fail the first delivery.
    requests.post(f"{local_stack.bedrock_url}/_local/faults",
                  json={"fault": "throttle", "count": 3, "operation": "Converse"}, timeout=10)
    r = submit(local_stack, {"request": converse("throttled at first")})
    job = wait_for(local_stack, r.json()["job_id"], timeout=90)
    assert job["status"] == "succeeded", job
    assert job["attempts"] == 2


def test_a_job_that_always_throttles_is_marked_failed_and_ends_in_the_dlq(local_stack):  # noqa: F811
    r = submit(local_stack, {"request": converse("always [[fault:throttle]]")})
    job_id = r.json()["job_id"]
    job = wait_for(local_stack, job_id, statuses=("failed",), timeout=120)
    assert job["error"]["type"] == "throttled" and job["error"]["retryable"] is True
    assert "gave up after 3 deliveries" in job["error"]["message"]
    assert job["attempts"] == 3
    sqs = local_stack._boto("sqs")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=local_stack.dlq_url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=1).get("Messages", [])
        if any(json.loads(m["Body"]).get("job_id") == job_id for m in msgs if m["Body"].startswith("{")):
            return
    raise AssertionError(f"{job_id} did not reach the dead-letter queue")


def test_a_model_error_fails_the_job_at_once(local_stack):  # noqa: F811
    r = submit(local_stack, {"request": converse("boom [[fault:model_error]]")})
    job = wait_for(local_stack, r.json()["job_id"])
    assert job["status"] == "failed" and job["attempts"] == 1
    assert job["error"]["type"] == "model_error" and job["error"]["retryable"] is False


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://2852039166/",  # 169.254.169.254 spelled as one decimal number
    "http://[::ffff:169.254.169.254]/",
    "ftp://example.com/",
])
def test_webhooks_to_private_or_metadata_addresses_are_refused_at_submission(local_stack, url):  # noqa: F811
    r = submit(local_stack, {"request": converse("x"), "webhook_url": url})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request"
    assert "webhook_url" in r.json()["error"]["message"]


@pytest.mark.parametrize("body, status", [
    ({"request": converse("x", model="no-such-model")}, 404),
    ({"request": converse("x", max_tokens=10_000_000)}, 400),
    ({"request": {"model": "nova-lite"}}, 400),
    ({"request": converse("x"), "extra": 1}, 400),
    ({"native": {"taskType": "TEXT_VIDEO"}, "model": "nova-lite"}, 400),  # not an async model
    ({"request": converse("x"), "idempotency_key": ""}, 400),
])
def test_bad_jobs_are_refused_up_front(local_stack, body, status):  # noqa: F811
    r = submit(local_stack, body)
    assert r.status_code == status, r.text


def test_unknown_and_malformed_job_ids_are_404(local_stack):  # noqa: F811
    for job_id in ("job_0123456789abcdef0123456789abcdef", "nope"):
        r = requests.get(local_stack.function_url("invoke", f"/v1/jobs/{job_id}"), timeout=30)
        openapi_check.validate("GET", "/v1/jobs/{id}", r.status_code, r.json(), r.headers)
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"


def test_async_invoke_job_polls_until_the_video_is_written(local_stack):  # noqa: F811
    model = requests.get(local_stack.function_url("invoke", "/v1/models/nova-reel"), timeout=30)
    assert model.status_code == 200, model.text
    assert model.json()["mode"] == "video_generation"
    native = {"taskType": "TEXT_VIDEO", "textToVideoParams": {"text": "a calm sea"},
              "videoGenerationConfig": {"durationSeconds": 6, "fps": 24, "dimension": "1280x720"}}
    r = submit(local_stack, {"native": native, "model": "amazon.nova-reel-v1:0"})
    assert r.status_code == 202, r.text
    job = wait_for(local_stack, r.json()["job_id"], timeout=60)
    assert job["status"] == "succeeded", job
    assert job["kind"] == "async_invoke" and job["async_invocation_arn"].startswith("arn:aws:bedrock:")
    result = requests.get(job["result"]["url"], timeout=10).json()
    assert result["output_s3_uri"].startswith(f"s3://{stack_module.BUCKET}/results/{job['job_id']}/")
    # Billed per second of video: 6 s x $0.08 (catalog price).
    from decimal import Decimal
    assert Decimal(job["cost"]["total"]) == Decimal("0.48") == Decimal(job["cost"]["output"]), job["cost"]


def test_a_video_model_on_the_synchronous_route_is_told_to_use_jobs(local_stack):  # noqa: F811
    native = {"taskType": "TEXT_VIDEO", "textToVideoParams": {"text": "a calm sea"}}
    r = requests.post(local_stack.function_url("invoke", "/v1/invoke/nova-reel"), json=native, timeout=30)
    assert r.status_code == 400, r.text
    assert "POST /v1/jobs" in r.json()["error"]["message"]


# ---- load: 500 jobs under throttling, each succeeds exactly once ----------------------------
# Runs in `make test` (about a minute on a 2-core machine): the bridge hands async-callback
# batches of 10, which it runs concurrently; a background thread keeps arming throttles so a
# share of first deliveries fail and come back.

LOAD_JOBS = 500
# Each wave throttles the next 30 Converse calls: with 10 jobs of a batch running concurrently
# and 3 SDK attempts each, that fails about one batch's first delivery. Two waves can fail a job
# on at most two deliveries, fewer than the queue's maxReceiveCount (3): bounded throttling that
# every job must survive, run once, which is what this test is about (a job that never gets
# through is test_a_job_that_always_throttles_...).
THROTTLE_WAVES = 2
THROTTLE_PER_WAVE = 30
WAVE_INTERVAL = 10.0


def _scan_jobs(stack, ids: set[str]) -> dict[str, dict]:
    ddb = stack._boto("dynamodb")
    found: dict[str, dict] = {}
    for page in ddb.get_paginator("scan").paginate(TableName=stack_module.TABLE, ConsistentRead=True):
        for item in page["Items"]:
            if item["job_id"]["S"] in ids:
                found[item["job_id"]["S"]] = item
    return found


def test_load_500_jobs_under_throttling_nothing_lost_nothing_run_twice(local_stack):  # noqa: F811
    from concurrent.futures import ThreadPoolExecutor

    queue_drained(local_stack)
    started = time.monotonic()
    before = bedrock_stats(local_stack)
    stop = threading.Event()

    def throttle_waves():
        for _ in range(THROTTLE_WAVES):
            requests.post(f"{local_stack.bedrock_url}/_local/faults",
                          json={"fault": "throttle", "count": THROTTLE_PER_WAVE, "operation": "Converse"},
                          timeout=10)
            if stop.wait(WAVE_INTERVAL):
                return

    armer = threading.Thread(target=throttle_waves, daemon=True)
    armer.start()
    url = local_stack.function_url("invoke", "/v1/jobs")
    session = requests.Session()

    def one(i: int) -> str:
        r = session.post(url, json={"request": converse(f"load job {i}", max_tokens=20)}, timeout=60)
        assert r.status_code == 202, r.text
        return r.json()["job_id"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(one, range(LOAD_JOBS)))
    assert len(set(ids)) == LOAD_JOBS
    submitted = time.monotonic() - started

    # Wait (bounded) until every record is final.
    deadline = time.monotonic() + 150
    while True:
        records = _scan_jobs(local_stack, set(ids))
        done = [r for r in records.values() if r["status"]["S"] in ("succeeded", "failed")]
        if len(done) == LOAD_JOBS:
            break
        assert time.monotonic() < deadline, f"{len(done)}/{LOAD_JOBS} finished"
        time.sleep(1)
    stop.set()
    armer.join(timeout=5)
    requests.delete(f"{local_stack.bedrock_url}/_local/faults", timeout=10)
    queue_drained(local_stack)
    after = bedrock_stats(local_stack)
    elapsed = time.monotonic() - started

    statuses = {r["status"]["S"] for r in records.values()}
    assert statuses == {"succeeded"}, statuses
    retried = sum(1 for r in records.values() if int(r["attempts"]["N"]) > 1)
    assert all(int(r["attempts"]["N"]) >= 1 for r in records.values())

    # Every result object exists.
    s3 = local_stack._boto("s3")
    keys = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack_module.BUCKET, Prefix="results/job_"):
        keys.update(o["Key"] for o in page.get("Contents", []))
    assert {f"results/{i}.json" for i in ids} <= keys

    # Exactly one successful Converse call per job: calls minus injected faults.
    calls = after["requests"]["Converse"] - before["requests"]["Converse"]
    faults = after["faults_injected"] - before["faults_injected"]
    assert calls - faults == LOAD_JOBS, (calls, faults)
    assert faults > 0 and retried > 0, "the run saw no throttling"
    print(f"\n{LOAD_JOBS} jobs: submitted in {submitted:.1f}s, all finished in {elapsed:.1f}s; "
          f"{faults} throttled calls, {retried} jobs needed a second delivery")
    assert elapsed < 180
