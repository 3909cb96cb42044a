#!/usr/bin/env python3
"""Event-source bridge: plays Lambda's SQS event source mapping for the local stack.

Locally nothing invokes `async-callback` when a message lands in a queue, so this process does
what the event source mapping does on AWS:

- long-polls the queue, up to `--batch-size` messages, waiting at most `--batching-window`
  seconds to fill a batch;
- turns them into a real SQS event JSON (the shape Lambda sends) and invokes the function through
  cargo-lambda's invoke endpoint;
- on success deletes every message except those the function lists in `batchItemFailures`
  (partial batch response), which become visible again after the queue's visibility timeout;
- if the invocation fails as a whole (function error, bad response), deletes nothing: the whole
  batch comes back, as on AWS;
- the queue's redrive policy (moto implements it) moves a message to the dead-letter queue after
  `maxReceiveCount` receives.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass
class BatchResult:
    delivered: int
    deleted: int
    failed_items: int
    function_error: bool


def to_sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    """The SQS event Lambda delivers for these received messages."""
    records = []
    for m in messages:
        attrs = m.get("Attributes", {})
        records.append({
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {
                k: attrs[k]
                for k in ("ApproximateReceiveCount", "SentTimestamp", "SenderId",
                          "ApproximateFirstReceiveTimestamp")
                if k in attrs
            },
            "messageAttributes": {
                name: {
                    "stringValue": v.get("StringValue"),
                    "binaryValue": v.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": v.get("DataType", "String"),
                }
                for name, v in m.get("MessageAttributes", {}).items()
            },
            "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        })
    return {"Records": records}


class Bridge:
    def __init__(self, sqs, queue_url: str, invoke_url: str, region: str,
                 batch_size: int = 10, batching_window: float = 0.0, wait_seconds: int = 1,
                 invoke_timeout: float = 900.0):
        self.sqs = sqs
        self.queue_url = queue_url
        self.invoke_url = invoke_url
        self.region = region
        self.batch_size = max(1, min(batch_size, 10))
        self.batching_window = batching_window
        self.wait_seconds = wait_seconds
        self.invoke_timeout = invoke_timeout
        self.queue_arn = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def receive_batch(self) -> list[dict]:
        messages: list[dict] = []
        deadline = time.monotonic() + self.batching_window
        while len(messages) < self.batch_size:
            wait = self.wait_seconds if not messages else 0
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size - len(messages),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(got)
            if not got or time.monotonic() >= deadline:
                break
        return messages

    def invoke(self, event: dict) -> tuple[bool, dict]:
        """Invokes the function; returns (succeeded, response JSON)."""
        req = urllib.request.Request(
            self.invoke_url, data=json.dumps(event).encode(), method="POST",
            headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.invoke_timeout) as resp:
                body = resp.read()
                if resp.headers.get("X-Amz-Function-Error"):
                    return False, {}
                try:
                    return True, json.loads(body or b"{}")
                except json.JSONDecodeError:
                    return False, {}
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError):
            return False, {}

    def run_once(self) -> BatchResult | None:
        messages = self.receive_batch()
        if not messages:
            return None
        ok, response = self.invoke(to_sqs_event(messages, self.queue_arn, self.region))
        if not ok:
            return BatchResult(len(messages), 0, len(messages), True)
        failures = response.get("batchItemFailures")
        if failures is None:
            failures = []
        if not isinstance(failures, list):
            # A malformed partial batch response fails the whole batch, as on AWS.
            return BatchResult(len(messages), 0, len(messages), True)
        failed_ids = {f.get("itemIdentifier") for f in failures if isinstance(f, dict)}
        known_ids = {m["MessageId"] for m in messages}
        if not failed_ids <= known_ids:
            # Lambda treats an unknown or empty identifier as a failure of the whole batch.
            return BatchResult(len(messages), 0, len(messages), True)
        to_delete = [m for m in messages if m["MessageId"] not in failed_ids]
        for i in range(0, len(to_delete), 10):
            chunk = to_delete[i:i + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                         for n, m in enumerate(chunk)])
        return BatchResult(len(messages), len(to_delete), len(failed_ids), False)

    def run_forever(self, stop) -> None:
        while not stop():
            try:
                self.run_once()
            except Exception as e:  # keep polling: a transient moto or network hiccup
                print(f"bridge: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint-url", required=True, help="SQS endpoint (moto)")
    p.add_argument("--queue-url", action="append", required=True,
                   help="queue to poll (repeatable: one poller per queue)")
    p.add_argument("--invoke-url", required=True,
                   help="function invoke URL, e.g. http://127.0.0.1:9000/2015-03-31/functions/async-callback/invocations")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--batching-window", type=float, default=0.0)
    args = p.parse_args(argv)

    import threading

    import boto3

    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url, region_name=args.region,
                       aws_access_key_id="test", aws_secret_access_key="test")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    threads = []
    for url in args.queue_url:
        bridge = Bridge(sqs, url, args.invoke_url, args.region, args.batch_size,
                        args.batching_window)
        t = threading.Thread(target=bridge.run_forever, args=(stopping.is_set,), daemon=True)
        t.start()
        threads.append(t)
    print("bridge polling " + ", ".join(args.queue_url), flush=True)
    while not stopping.is_set():
        stopping.wait(0.5)
    for t in threads:
        t.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
