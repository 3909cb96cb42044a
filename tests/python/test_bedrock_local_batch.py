"""Conformance of bedrock-local's batch inference with boto3's `bedrock` client and moto's S3:
CreateModelInvocationJob → poll GetModelInvocationJob → Completed with Bedrock's output layout
(`<jobId>/<file>.out` records and `manifest.json.out`), partial failure, stop, validation errors
as ClientError with the right code and status, and ListModelInvocationJobs' filters and paging."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import spawn_bedrock_local

ROLE = "arn:aws:iam::123456789012:role/BatchRole"
NOVA_LITE = "amazon.nova-lite-v1:0"
HAIKU_US = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
RUNNING = {"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"}


@pytest.fixture(scope="module")
def batch_local(moto_server):
    bl = spawn_bedrock_local(
        ["--batch-step-ms", "30", "--batch-min-records", "3"],
        {"AWS_ENDPOINT_URL_S3": moto_server.url},
    )
    s3 = moto_server.client("s3")
    for b in ("batch-in", "batch-out"):
        s3.create_bucket(Bucket=b)
    yield bl
    bl.stop()


@pytest.fixture()
def control(batch_local):
    batch_local.control("DELETE", "/_local/batch/failures")
    return batch_local.client("bedrock")


@pytest.fixture()
def s3(moto_server):
    return moto_server.client("s3")


def nova(text):
    return {"messages": [{"role": "user", "content": [{"text": text}]}], "inferenceConfig": {"maxTokens": 40}}


def claude(text):
    return {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 40, "messages": [{"role": "user", "content": text}]}


def put_jsonl(s3, key, records):
    s3.put_object(Bucket="batch-in", Key=key, Body="".join(json.dumps(r) + "\n" for r in records).encode())


def create(control, name, model, uri, **extra):
    return control.create_model_invocation_job(
        jobName=name,
        roleArn=ROLE,
        modelId=model,
        inputDataConfig={"s3InputDataConfig": {"s3Uri": uri, "s3InputFormat": "JSONL"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": "s3://batch-out/out/"}},
        **extra,
    )["jobArn"]


def wait_end(control, arn):
    seen = []
    for _ in range(400):
        job = control.get_model_invocation_job(jobIdentifier=arn)
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] not in RUNNING:
            return job, seen
        time.sleep(0.01)
    raise AssertionError(f"{arn} did not end: {seen}")


def read_jsonl(s3, key):
    body = s3.get_object(Bucket="batch-out", Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def error_of(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Message"]


def test_submit_poll_completed_and_outputs(control, s3):
    records = [{"recordId": f"CALL{i:07d}", "modelInput": nova(f"question {i}")} for i in range(3)]
    records.append({"modelInput": nova("no id")})
    put_jsonl(s3, "py/complete.jsonl", records)
    arn = create(control, "py-complete", NOVA_LITE, "s3://batch-in/py/complete.jsonl", timeoutDurationInHours=48)
    job, seen = wait_end(control, arn)
    assert job["status"] == "Completed", job.get("message")
    assert seen[0] == "Submitted" and "InProgress" in seen
    assert job["timeoutDurationInHours"] == 48
    assert job["submitTime"] <= job["lastModifiedTime"] <= job["endTime"]
    assert job["inputDataConfig"]["s3InputDataConfig"]["s3Uri"] == "s3://batch-in/py/complete.jsonl"
    assert (job["totalRecordCount"], job["successRecordCount"], job["errorRecordCount"]) == (4, 4, 0)
    job_id = arn.rsplit("/", 1)[1]
    out = read_jsonl(s3, f"out/{job_id}/complete.jsonl.out")
    assert [o["recordId"] for o in out[:3]] == ["CALL0000000", "CALL0000001", "CALL0000002"]
    assert len(out[3]["recordId"]) == 11
    assert all(o["modelOutput"]["output"]["message"]["role"] == "assistant" for o in out)
    assert out[1]["modelInput"] == records[1]["modelInput"]
    manifest = json.loads(s3.get_object(Bucket="batch-out", Key=f"out/{job_id}/manifest.json.out")["Body"].read())
    assert manifest["totalRecordCount"] == manifest["processedRecordCount"] == manifest["successRecordCount"] == 4
    assert manifest["errorRecordCount"] == 0
    assert manifest["inputTokenCount"] == sum(o["modelOutput"]["usage"]["inputTokens"] for o in out)
    assert manifest["outputTokenCount"] == sum(o["modelOutput"]["usage"]["outputTokens"] for o in out)


def test_a_third_of_the_records_fail_partially_completed(batch_local, control, s3):
    put_jsonl(s3, "py/partial.jsonl", [{"recordId": f"r{i}", "modelInput": claude(f"q{i}")} for i in range(1, 7)])
    batch_local.control("POST", "/_local/batch/failures", {"every": 3})
    arn = create(control, "py-partial", HAIKU_US, "s3://batch-in/py/partial.jsonl")
    job, _ = wait_end(control, arn)
    assert job["status"] == "PartiallyCompleted"
    assert (job["successRecordCount"], job["errorRecordCount"]) == (4, 2)
    out = read_jsonl(s3, f"out/{arn.rsplit('/', 1)[1]}/partial.jsonl.out")
    failed = [o["recordId"] for o in out if "error" in o]
    assert failed == ["r3", "r6"]
    assert out[2]["error"]["errorCode"] == 424 and out[2]["error"]["errorMessage"]
    assert out[0]["modelOutput"]["type"] == "message"


def test_stop(moto_server, s3):
    slow = spawn_bedrock_local(
        ["--batch-step-ms", "400", "--batch-min-records", "1"], {"AWS_ENDPOINT_URL_S3": moto_server.url}
    )
    try:
        c = slow.client("bedrock")
        put_jsonl(s3, "py/stop.jsonl", [{"modelInput": nova("x")}])
        arn = create(c, "py-stop", NOVA_LITE, "s3://batch-in/py/stop.jsonl")
        c.stop_model_invocation_job(jobIdentifier=arn)
        assert c.get_model_invocation_job(jobIdentifier=arn)["status"] == "Stopping"
        job, _ = wait_end(c, arn)
        assert job["status"] == "Stopped" and "endTime" in job
        with pytest.raises(ClientError) as e:
            c.stop_model_invocation_job(jobIdentifier=arn)
        assert error_of(e)[:2] == ("ValidationException", 400)
    finally:
        slow.stop()


def test_validation_errors(control, s3):
    uri = "s3://batch-in/py/v.jsonl"
    cases = [
        (dict(name="bare-id", model="anthropic.claude-haiku-4-5-20251001-v1:0"), "inference profile"),
        (dict(name="reel", model="amazon.nova-reel-v1:0"), "does not support batch"),
        (dict(name="-bad", model=NOVA_LITE), "jobName"),
        (dict(name="x" * 64, model=NOVA_LITE), "jobName"),
        (dict(name="nope", model="no such model!"), "modelId"),
    ]
    for args, words in cases:
        with pytest.raises(ClientError) as e:
            create(control, args["name"], args["model"], uri)
        code, status, message = error_of(e)
        assert (code, status) == ("ValidationException", 400), args
        assert words in message, (args, message)
    with pytest.raises(ClientError) as e:
        control.create_model_invocation_job(
            jobName="role", roleArn="not-a-role", modelId=NOVA_LITE,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": uri}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": "s3://batch-out/o"}},
        )
    assert "roleArn" in error_of(e)[2]

    put_jsonl(s3, "py/v.jsonl", [{"modelInput": nova("only one")}])
    arn = create(control, "py-too-few", NOVA_LITE, uri)
    with pytest.raises(ClientError) as e:
        create(control, "py-too-few", NOVA_LITE, uri)
    assert error_of(e)[:2] == ("ConflictException", 400)
    job, _ = wait_end(control, arn)
    assert job["status"] == "Failed" and "minimum of 3" in job["message"]

    s3.put_object(Bucket="batch-in", Key="py/broken.jsonl", Body=b'{"modelInput": {}}\nnot json\n{"modelInput": {}}\n')
    job, _ = wait_end(control, create(control, "py-broken", NOVA_LITE, "s3://batch-in/py/broken.jsonl"))
    assert job["status"] == "Failed" and "line 2" in job["message"]

    for call in (control.get_model_invocation_job, control.stop_model_invocation_job):
        with pytest.raises(ClientError) as e:
            call(jobIdentifier="abcdefabcdef")
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_list_filters_and_paginator(control, s3):
    put_jsonl(s3, "py/list.jsonl", [{"modelInput": nova(str(i))} for i in range(3)])
    arns = [create(control, f"py-list-{i}", NOVA_LITE, "s3://batch-in/py/list.jsonl") for i in range(3)]
    for arn in arns:
        wait_end(control, arn)
    mine = control.list_model_invocation_jobs(nameContains="py-list", sortOrder="Ascending")["invocationJobSummaries"]
    assert [j["jobArn"] for j in mine] == arns
    assert all(j["status"] == "Completed" and j["totalRecordCount"] == 3 for j in mine)
    completed = control.list_model_invocation_jobs(statusEquals="Completed")["invocationJobSummaries"]
    assert set(arns) <= {j["jobArn"] for j in completed}
    assert all(j["status"] == "Completed" for j in completed)
    pages = control.get_paginator("list_model_invocation_jobs").paginate(
        nameContains="py-list", PaginationConfig={"PageSize": 2}
    )
    sizes = [len(p["invocationJobSummaries"]) for p in pages]
    assert sizes == [2, 1]
    with pytest.raises(ClientError) as e:
        control.list_model_invocation_jobs(statusEquals="Done")
    assert error_of(e)[:2] == ("ValidationException", 400)
