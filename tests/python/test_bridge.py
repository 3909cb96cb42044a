"""The local event-source bridge behaves like Lambda's SQS event source mapping: partial batch
responses delete only what succeeded, failures come back, a failing invocation deletes nothing,
and a message that keeps failing lands in the dead-letter queue. Checked against moto's SQS with a
scripted function on loopback."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stack_fixture import ROOT, stack_module

import sys

sys.path.insert(0, str(ROOT / "infra" / "local"))
import bridge as bridge_module  # noqa: E402


class ScriptedFunction:
    """A stand-in for cargo-lambda's invoke endpoint: records events, answers per a script."""

    def __init__(self, decide):
        self.decide = decide  # (event) -> (status, body dict, function_error: bool)
        self.events: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                event = json.loads(self.rfile.read(int(self.headers["content-length"])))
                outer.events.append(event)
                status, body, fn_error = outer.decide(event)
                data = json.dumps(body).encode()
                self.send_response(status)
                if fn_error:
                    self.send_header("X-Amz-Function-Error", "Unhandled")
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/2015-03-31/functions/async-callback/invocations"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def moto_stack():
    st = stack_module.LocalStack(ports=stack_module.Ports.free(), use_bedrock_local=False,
                                 watch=False, visibility_timeout=1,
                                 log_dir=ROOT / "target" / "test-bridge")
    st.start()
    yield st
    st.stop()


_N = [0]


def _fresh_queues(sqs):
    """A new queue with its own DLQ per test (PurgeQueue is limited to once a minute)."""
    _N[0] += 1
    name = f"bridge-test-{_N[0]}"
    dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    q = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(stack_module.MAX_RECEIVE_COUNT)}),
    })["QueueUrl"]
    return q, dlq


def _send(sqs, url, bodies):
    ids = []
    for b in bodies:
        ids.append(sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"])
    return ids


def _drain(bridge, until, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until():
        if bridge.run_once() is None:
            time.sleep(0.2)


def _count(sqs, url):
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_event_is_a_real_sqs_event(moto_stack):
    sqs = moto_stack._boto("sqs")
    queue, dlq = _fresh_queues(sqs)
    fn = ScriptedFunction(lambda ev: (200, {"batchItemFailures": []}, False))
    try:
        b = bridge_module.Bridge(sqs, queue, fn.url, "us-east-1")
        _send(sqs, queue, ['{"job_id": "a"}'])
        _drain(b, lambda: fn.events)
        rec = fn.events[0]["Records"][0]
        assert rec["eventSource"] == "aws:sqs"
        assert rec["eventSourceARN"].endswith(":" + queue.rsplit("/", 1)[-1])
        assert rec["body"] == '{"job_id": "a"}'
        assert rec["attributes"]["ApproximateReceiveCount"] == "1"
        assert rec["receiptHandle"] and rec["messageId"] and rec["md5OfBody"]
    finally:
        fn.close()


def test_partial_batch_failures_come_back_and_the_rest_is_deleted(moto_stack):
    sqs = moto_stack._boto("sqs")
    queue, dlq = _fresh_queues(sqs)
    seen: dict[str, int] = {}

    def decide(ev):
        failures = []
        for r in ev["Records"]:
            seen[r["body"]] = seen.get(r["body"], 0) + 1
            # "flaky" fails on its first delivery only.
            if r["body"].startswith("flaky") and seen[r["body"]] == 1:
                failures.append({"itemIdentifier": r["messageId"]})
        return 200, {"batchItemFailures": failures}, False

    fn = ScriptedFunction(decide)
    try:
        b = bridge_module.Bridge(sqs, queue, fn.url, "us-east-1")
        bodies = ["ok-1", "flaky-1", "ok-2", "flaky-2", "ok-3"]
        _send(sqs, queue, bodies)
        _drain(b, lambda: all(seen.get(x, 0) >= (2 if x.startswith("flaky") else 1) for x in bodies)
               and _count(sqs, queue) == 0)
        assert {k: v for k, v in seen.items()} == {"ok-1": 1, "ok-2": 1, "ok-3": 1, "flaky-1": 2, "flaky-2": 2}
        assert _count(sqs, queue) == 0
        assert _count(sqs, dlq) == 0
    finally:
        fn.close()


def test_function_error_deletes_nothing(moto_stack):
    sqs = moto_stack._boto("sqs")
    queue, dlq = _fresh_queues(sqs)
    calls = []

    def decide(ev):
        calls.append(len(ev["Records"]))
        if len(calls) == 1:
            return 200, {"errorMessage": "boom", "errorType": "Panic"}, True
        return 200, {"batchItemFailures": []}, False

    fn = ScriptedFunction(decide)
    try:
        b = bridge_module.Bridge(sqs, queue, fn.url, "us-east-1")
        _send(sqs, queue, ["a", "b"])
        first = None
        while first is None:
            first = b.run_once()
        assert first.function_error and first.deleted == 0
        # Both come back after the visibility timeout and are then deleted.
        _drain(b, lambda: _count(sqs, queue) == 0)
        assert sum(calls) >= 4
        assert _count(sqs, queue) == 0
    finally:
        fn.close()


def test_a_message_that_keeps_failing_lands_in_the_dlq(moto_stack):
    sqs = moto_stack._boto("sqs")
    queue, dlq = _fresh_queues(sqs)

    def decide(ev):
        return 200, {"batchItemFailures": [
            {"itemIdentifier": r["messageId"]} for r in ev["Records"] if r["body"] == "poison"]}, False

    fn = ScriptedFunction(decide)
    try:
        b = bridge_module.Bridge(sqs, queue, fn.url, "us-east-1")
        _send(sqs, queue, ["poison", "fine"])
        _drain(b, lambda: _count(sqs, dlq) == 1, timeout=30)
        assert _count(sqs, dlq) == 1
        assert _count(sqs, queue) == 0
        msgs = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in msgs] == ["poison"]
        deliveries = [r["body"] for ev in fn.events for r in ev["Records"]]
        assert deliveries.count("poison") == stack_module.MAX_RECEIVE_COUNT
        assert deliveries.count("fine") == 1
    finally:
        fn.close()


def test_unknown_item_identifier_fails_the_whole_batch(moto_stack):
    sqs = moto_stack._boto("sqs")
    queue, dlq = _fresh_queues(sqs)
    fn = ScriptedFunction(lambda ev: (200, {"batchItemFailures": [{"itemIdentifier": "nope"}]}, False))
    try:
        b = bridge_module.Bridge(sqs, queue, fn.url, "us-east-1")
        _send(sqs, queue, ["x"])
        res = None
        while res is None:
            res = b.run_once()
        assert res.function_error and res.deleted == 0
    finally:
        fn.close()
