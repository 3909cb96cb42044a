"""S3 trigger end to end: a JSON Lines file dropped under inbox/ in the results bucket (moto)
reaches async-callback through the S3 notification queue and the event-source bridge, runs
against bedrock-local, and yields one result line per input line under outbox/."""

from __future__ import annotations

import json
import time

from stack_fixture import stack_module


def _wait_for_object(s3, key, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return s3.get_object(Bucket=stack_module.BUCKET, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            time.sleep(0.5)
    raise AssertionError(f"{key} did not appear within {timeout}s")


def test_jsonl_with_one_bad_line_gives_all_good_results_and_one_error_line(local_stack):  # noqa: F811
    s3 = local_stack._boto("s3")
    lines = [
        json.dumps({"model": "haiku", "messages": [{"role": "user", "content": [{"text": "first"}]}]}),
        "{ this line is not JSON",
        json.dumps({"model": "nova-lite", "messages": [{"role": "user", "content": [{"text": "second"}]}],
                    "inferenceConfig": {"maxTokens": 50}}),
        json.dumps({"model": "no-such-model", "messages": [{"role": "user", "content": [{"text": "x"}]}]}),
    ]
    s3.put_object(Bucket=stack_module.BUCKET, Key="inbox/e2e-batch.jsonl",
                  Body=("\n".join(lines) + "\n").encode())
    out = _wait_for_object(s3, "outbox/e2e-batch.jsonl")
    results = [json.loads(l) for l in out.decode().splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 4]
    assert results[0]["ok"] and results[2]["ok"]
    for r in (results[0], results[2]):
        resp = r["response"]
        assert resp["output"]["message"]["content"][0]["text"]
        assert resp["usage"]["inputTokens"] > 0 and resp["usage"]["outputTokens"] > 0
        assert float(resp["cost"]["total"]) > 0
    assert results[0]["response"]["model"].endswith("anthropic.claude-haiku-4-5-20251001-v1:0")
    assert not results[1]["ok"] and results[1]["error"]["type"] == "invalid_request"
    assert not results[3]["ok"] and results[3]["error"]["type"] == "model_not_found"


def test_single_json_request_object(local_stack):  # noqa: F811
    s3 = local_stack._boto("s3")
    body = {"model": "haiku", "system": [{"text": "Be brief."}],
            "messages": [{"role": "user", "content": [{"text": "one request"}]}]}
    s3.put_object(Bucket=stack_module.BUCKET, Key="inbox/single.json", Body=json.dumps(body).encode())
    out = _wait_for_object(s3, "outbox/single.jsonl")
    results = [json.loads(l) for l in out.decode().splitlines()]
    assert len(results) == 1 and results[0]["ok"], results


def test_a_redelivered_s3_event_runs_no_line_twice(local_stack):  # noqa: F811
    """S3 events are at least once: the same notification delivered again (here sent to the
    notification queue by hand) reuses every line's checkpoint, so bedrock-local counts no new
    Converse call, and the outbox is rewritten with the same lines."""
    import requests

    s3 = local_stack._boto("s3")
    lines = [json.dumps({"model": "haiku", "messages": [{"role": "user", "content": [{"text": f"once {i}"}]}]})
             for i in range(3)]
    s3.put_object(Bucket=stack_module.BUCKET, Key="inbox/e2e-once.jsonl", Body="\n".join(lines).encode())
    first = _wait_for_object(s3, "outbox/e2e-once.jsonl")
    modified = s3.head_object(Bucket=stack_module.BUCKET, Key="outbox/e2e-once.jsonl")["LastModified"]
    stats = lambda: requests.get(f"{local_stack.bedrock_url}/_local/stats", timeout=10).json()  # noqa: E731
    before = stats()["requests"]["Converse"]
    time.sleep(1.1)  # LastModified has one-second resolution
    notification = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                 "s3": {"bucket": {"name": stack_module.BUCKET},
                                        "object": {"key": "inbox/e2e-once.jsonl"}}}]}
    local_stack._boto("sqs").send_message(QueueUrl=local_stack.events_queue_url,
                                          MessageBody=json.dumps(notification))
    deadline = time.monotonic() + 60
    while s3.head_object(Bucket=stack_module.BUCKET, Key="outbox/e2e-once.jsonl")["LastModified"] == modified:
        assert time.monotonic() < deadline, "the redelivered event was not processed"
        time.sleep(0.3)
    assert stats()["requests"]["Converse"] == before
    again = s3.get_object(Bucket=stack_module.BUCKET, Key="outbox/e2e-once.jsonl")["Body"].read()
    assert again == first
