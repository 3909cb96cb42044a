"""OpenAI batches on stream-url (docs/jobs.md, "OpenAI batches"), driven by the pinned `openai`
client against the local stack: `files.create`, `batches.create`, `batches.retrieve` until done,
`files.content` for the output and error files.

Each line becomes a job with the 24 h completion window as its deadline, so the planner holds the
Nova Lite lines for a Bedrock batch. The local stack runs batch (`BATCH_ENV` in
infra/local/stack.py: groups of 10, bedrock-local accepting 10 records); the test sends
async-callback the schedule's event, as EventBridge would, to flush and poll. A line whose
record fails in the batch is re-planned on demand and run from the jobs queue (the bridge); one
that fails there too ends in the error file.
"""

from __future__ import annotations

import io
import json
import time

import openai
import pytest
import requests

import openapi_check

LINES = 12


def base_url(stack) -> str:
    return stack.function_url("stream-url", "/v1")


@pytest.fixture(scope="module")
def client(local_stack):
    return openai.OpenAI(base_url=base_url(local_stack), api_key="unused-locally", max_retries=0,
                         timeout=300)


def line(n: int, text: str, model: str = "nova-lite", custom_id: str | None = None) -> dict:
    return {
        "custom_id": custom_id or f"req-{n}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "max_tokens": 60, "messages": [{"role": "user", "content": text}]},
    }


def jsonl(lines: list[dict]) -> bytes:
    return "".join(json.dumps(l) + "\n" for l in lines).encode()


def checked(raw, method: str, path: str):
    """A raw client response validated against docs/openapi.yaml, parsed."""
    http = raw.http_response
    openapi_check.validate(method, path, http.status_code, http.json(), http.headers)
    return raw.parse()


def tick(stack) -> None:
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    r = requests.post(stack.invoke_url("async-callback"), json=event, timeout=300)
    assert r.status_code == 200, r.text


def test_a_batch_runs_every_line_once_with_usage_and_cost(local_stack, client):
    lines = [line(n, f"question {n} [[say:tok{n}x]]") for n in range(LINES)]
    lines[4] = line(4, "question 4 [[fault:model_error]]")
    f = checked(client.files.with_raw_response.create(
        file=("questions.jsonl", io.BytesIO(jsonl(lines))), purpose="batch"), "POST", "/v1/files")
    assert f.id.startswith("file-") and f.purpose == "batch" and f.bytes > 0
    batch = checked(client.batches.with_raw_response.create(
        input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
        metadata={"suite": "e2e"}), "POST", "/v1/batches")
    assert batch.status == "in_progress"
    assert batch.request_counts.total == LINES
    # The completion window is each line's deadline: Bedrock batch, at half the price.
    assert batch.model_extra["plans"] == {"batch": LINES}

    deadline = time.monotonic() + 240
    while batch.status == "in_progress":
        assert time.monotonic() < deadline, f"batch never finished: {batch}"
        tick(local_stack)
        time.sleep(1)
        batch = checked(client.batches.with_raw_response.retrieve(batch.id), "GET", "/v1/batches/{id}")
    assert batch.status == "completed", batch
    assert batch.request_counts.completed == LINES - 1
    assert batch.request_counts.failed == 1
    assert batch.metadata == {"suite": "e2e"}

    out = [json.loads(l) for l in client.files.content(batch.output_file_id).text.splitlines()]
    ids = [l["custom_id"] for l in out]
    assert sorted(ids) == sorted(f"req-{n}" for n in range(LINES) if n != 4)
    for l in out:
        n = int(l["custom_id"].removeprefix("req-"))
        body = l["response"]["body"]
        assert l["response"]["status_code"] == 200 and l["error"] is None
        assert f"tok{n}x" in body["choices"][0]["message"]["content"]
        assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0
        assert body["cost"]["tier"] == "batch" and float(body["cost"]["total"]) > 0
        assert l["plan"]["mode"] == "batch"

    errors = [json.loads(l) for l in client.files.content(batch.error_file_id).text.splitlines()]
    assert [e["custom_id"] for e in errors] == ["req-4"]
    assert errors[0]["response"] is None and errors[0]["error"]["code"]

    listed = client.batches.list()
    assert batch.id in [b.id for b in listed.data]


def test_a_bad_line_is_a_400_naming_it(client):
    lines = [line(0, "a"), line(1, "b", custom_id="req-0")]
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("dup.jsonl", io.BytesIO(jsonl(lines))), purpose="batch")
    assert e.value.status_code == 400
    r = e.value.response
    openapi_check.validate("POST", "/v1/files", r.status_code, r.json(), r.headers)
    assert e.value.body["param"] == "line 2: custom_id"
    assert "unique" in e.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_doesnotexist")
