"""Conformance of bedrock-local with boto3: every operation, errors as ClientError with the right
code and status, both event streams read to the end, mid-stream errors as EventStreamError, and
the async path writing to moto's S3."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError, EventStreamError

from conftest import spawn_bedrock_local

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_BARE = "anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA_LITE = "amazon.nova-lite-v1:0"


def user(text):
    return [{"role": "user", "content": [{"text": text}]}]


def text_of(resp):
    return "".join(b.get("text", "") for b in resp["output"]["message"]["content"])


def anthropic_body(content, **extra):
    return json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "messages": [{"role": "user", "content": content}], **extra}
    )


def test_converse_deterministic_with_usage(bedrock):
    a = bedrock.converse(modelId=SONNET, messages=user("Tell me something"))
    b = bedrock.converse(modelId=SONNET, messages=user("Tell me something"))
    assert text_of(a) and text_of(a) == text_of(b)
    assert a["stopReason"] == "end_turn"
    u = a["usage"]
    assert u["totalTokens"] == u["inputTokens"] + u["outputTokens"]
    assert len(a["ResponseMetadata"]["RequestId"]) == 36
    assert "latencyMs" in a["metrics"]
    arn = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
    assert text_of(bedrock.converse(modelId=arn, messages=user("hi")))


def test_converse_limits_and_tools(bedrock):
    r = bedrock.converse(modelId=NOVA_LITE, messages=user("[[len:100]]"), inferenceConfig={"maxTokens": 10})
    assert r["stopReason"] == "max_tokens" and r["usage"]["outputTokens"] <= 10
    r = bedrock.converse(modelId=SONNET, messages=user("go [[say:HALT]]"), inferenceConfig={"stopSequences": ["HALT"]})
    assert r["stopReason"] == "stop_sequence"
    tools = {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "inputSchema": {
                        "json": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                            "required": ["city", "days"],
                        }
                    },
                }
            }
        ]
    }
    r = bedrock.converse(modelId=SONNET, messages=user("use tool get_weather"), toolConfig=tools)
    assert r["stopReason"] == "tool_use"
    msg = r["output"]["message"]
    tu = next(b["toolUse"] for b in msg["content"] if "toolUse" in b)
    assert isinstance(tu["input"]["city"], str) and isinstance(tu["input"]["days"], int)
    follow = [
        *user("use tool get_weather"),
        msg,
        {"role": "user", "content": [{"toolResult": {"toolUseId": tu["toolUseId"], "content": [{"text": "Rainy"}]}}]},
    ]
    r = bedrock.converse(modelId=SONNET, messages=follow, toolConfig=tools)
    assert r["stopReason"] == "end_turn" and "Rainy" in text_of(r)


def test_converse_stream_to_the_end(bedrock):
    resp = bedrock.converse_stream(modelId=SONNET, messages=user("stream please"))
    events = list(resp["stream"])
    assert "messageStart" in events[0]
    assert "messageStop" in events[-2] and "metadata" in events[-1]
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    plain = bedrock.converse(modelId=SONNET, messages=user("stream please"))
    assert text == text_of(plain)
    assert events[-1]["metadata"]["usage"]["outputTokens"] == plain["usage"]["outputTokens"]


@pytest.mark.parametrize(
    "model,body,path",
    [
        (SONNET, anthropic_body("hi"), ("content", 0, "text")),
        (NOVA_LITE, json.dumps({"messages": user("hi"), "inferenceConfig": {"max_new_tokens": 50}}), ("output", "message", "content", 0, "text")),
        ("amazon.titan-text-express-v1", json.dumps({"inputText": "hi"}), ("results", 0, "outputText")),
        ("meta.llama3-1-70b-instruct-v1:0", json.dumps({"prompt": "hi", "max_gen_len": 50}), ("generation",)),
        ("mistral.mixtral-8x7b-instruct-v0:1", json.dumps({"prompt": "<s>[INST] hi [/INST]"}), ("outputs", 0, "text")),
        ("mistral.mistral-large-2402-v1:0", json.dumps({"messages": [{"role": "user", "content": "hi"}]}), ("choices", 0, "message", "content")),
        ("cohere.command-r-plus-v1:0", json.dumps({"message": "hi"}), ("text",)),
    ],
)
def test_invoke_model_families(bedrock, model, body, path):
    r = bedrock.invoke_model(modelId=model, body=body, contentType="application/json", accept="application/json")
    v = json.loads(r["body"].read())
    for p in path:
        v = v[p]
    assert isinstance(v, str) and v
    headers = r["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) > 0
    assert int(headers["x-amzn-bedrock-input-token-count"]) > 0
    assert "x-amzn-bedrock-invocation-latency" in headers


def test_invoke_model_embeddings(bedrock):
    r = bedrock.invoke_model(modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "hello"}))
    v = json.loads(r["body"].read())
    assert len(v["embedding"]) == 1024 and v["inputTextTokenCount"] == 2


def test_invoke_model_with_response_stream(bedrock):
    body = anthropic_body("hi")
    resp = bedrock.invoke_model_with_response_stream(modelId=SONNET, body=body)
    assert resp["contentType"] == "application/json"
    chunks = [json.loads(e["chunk"]["bytes"]) for e in resp["body"]]
    types = [c["type"] for c in chunks]
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"]
    text = "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta")
    plain = json.loads(bedrock.invoke_model(modelId=SONNET, body=body)["body"].read())
    assert text == plain["content"][0]["text"]
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == plain["usage"]["output_tokens"]
    assert metrics["inputTokenCount"] == plain["usage"]["input_tokens"]
    nova = [json.loads(e["chunk"]["bytes"]) for e in bedrock.invoke_model_with_response_stream(modelId=NOVA_LITE, body=json.dumps({"messages": user("hi")}))["body"]]
    assert "messageStart" in nova[0] and "metadata" in nova[-1]


def test_count_tokens_agrees_with_usage(bedrock):
    msgs = user("Count these tokens, please!")
    used = bedrock.converse(modelId=SONNET, messages=msgs, system=[{"text": "Be terse."}])
    counted = bedrock.count_tokens(modelId=SONNET_BARE, input={"converse": {"messages": msgs, "system": [{"text": "Be terse."}]}})
    assert counted["inputTokens"] == used["usage"]["inputTokens"]
    body = anthropic_body("Count these tokens, please!", system="Be terse.")
    counted2 = bedrock.count_tokens(modelId=SONNET_BARE, input={"invokeModel": {"body": body.encode()}})
    invoked = json.loads(bedrock.invoke_model(modelId=SONNET, body=body)["body"].read())
    assert counted2["inputTokens"] == invoked["usage"]["input_tokens"] == counted["inputTokens"]
    with pytest.raises(ClientError) as e:
        bedrock.count_tokens(modelId=SONNET, input={"converse": {"messages": msgs}})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        bedrock.count_tokens(modelId=NOVA_LITE, input={"converse": {"messages": msgs}})
    assert e.value.response["Error"]["Message"] == "The provided model doesn't support counting tokens."


def test_prompt_cache(bedrock):
    system = [{"text": "A long shared system prompt for caching tests."}, {"cachePoint": {"type": "default"}}]
    first = bedrock.converse(modelId=SONNET, messages=user("python cache"), system=system)["usage"]
    second = bedrock.converse(modelId=SONNET, messages=user("python cache"), system=system)["usage"]
    assert first.get("cacheWriteInputTokens", 0) > 0 or first.get("cacheReadInputTokens", 0) > 0
    assert second["cacheReadInputTokens"] > 0 and second["cacheWriteInputTokens"] == 0


@pytest.mark.parametrize(
    "marker,code,status",
    [
        ("throttle", "ThrottlingException", 429),
        ("timeout", "ModelTimeoutException", 408),
        ("model_error", "ModelErrorException", 424),
        ("not_ready", "ModelNotReadyException", 429),
        ("unavailable", "ServiceUnavailableException", 503),
        ("internal", "InternalServerException", 500),
        ("access_denied", "AccessDeniedException", 403),
        ("quota", "ServiceQuotaExceededException", 400),
    ],
)
def test_fault_markers(bedrock, marker, code, status):
    with pytest.raises(ClientError) as e:
        bedrock.invoke_model(modelId=SONNET, body=anthropic_body(f"hi [[fault:{marker}]]"))
    err = e.value.response
    assert err["Error"]["Code"] == code
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status
    with pytest.raises(ClientError) as e:
        bedrock.converse(modelId=SONNET, messages=user(f"hi [[fault:{marker}]]"))
    assert e.value.response["Error"]["Code"] == code


def test_model_error_members(bedrock):
    with pytest.raises(ClientError) as e:
        bedrock.converse(modelId=SONNET, messages=user("[[fault:model_error]]"))
    assert e.value.response["originalStatusCode"] == 500
    assert e.value.response["resourceName"].startswith("arn:aws:bedrock:us-east-1::foundation-model/")


def test_validation_errors(bedrock):
    cases = [
        (dict(modelId=SONNET_BARE, messages=user("hi")), "with on-demand throughput isn\u2019t supported"),
        (dict(modelId="acme.nope-v1", messages=user("hi")), "The provided model identifier is invalid."),
        (dict(modelId=NOVA_LITE, messages=user("a") + user("b")), "alternate between user and assistant"),
        (dict(modelId=NOVA_LITE, messages=[{"role": "assistant", "content": [{"text": "x"}]}]), "must start with a user message"),
        (dict(modelId=NOVA_LITE, messages=user("a"), inferenceConfig={"maxTokens": 999999}), "exceeds the model limit"),
        (dict(modelId=NOVA_LITE, messages=user("a"), inferenceConfig={"temperature": 2.0}), "temperature"),
    ]
    for kwargs, fragment in cases:
        with pytest.raises(ClientError) as e:
            bedrock.converse(**kwargs)
        assert e.value.response["Error"]["Code"] == "ValidationException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert fragment in e.value.response["Error"]["Message"], kwargs
    with pytest.raises(ClientError) as e:
        bedrock.invoke_model(modelId=SONNET, body=json.dumps({"anthropic_version": "bedrock-2023-05-31", "messages": []}))
    assert e.value.response["Error"]["Message"] == (
        "Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again."
    )


def test_mid_stream_errors_are_event_stream_errors(bedrock):
    resp = bedrock.converse_stream(modelId=SONNET, messages=user("x [[fault:stream_error_after=3]]"))
    seen = 0
    with pytest.raises(EventStreamError) as e:
        for _ in resp["stream"]:
            seen += 1
    assert seen == 3
    assert e.value.response["Error"]["Code"] == "modelStreamErrorException"
    resp = bedrock.invoke_model_with_response_stream(modelId=SONNET, body=anthropic_body("x [[fault:stream_throttle_after=2]]"))
    with pytest.raises(EventStreamError) as e:
        for _ in resp["body"]:
            pass
    assert e.value.response["Error"]["Code"] == "throttlingException"


def test_guardrails(bedrock):
    gc = {"guardrailIdentifier": "demo", "guardrailVersion": "1", "trace": "enabled"}
    r = bedrock.converse(modelId=SONNET, messages=user("this is forbidden"), guardrailConfig=gc)
    assert r["stopReason"] == "guardrail_intervened"
    assert text_of(r) == "Sorry, the model cannot answer this question."
    words = r["trace"]["guardrail"]["inputAssessment"]["demo"]["wordPolicy"]["customWords"]
    assert words[0] == {"match": "forbidden", "action": "BLOCKED", "detected": True}
    events = list(bedrock.converse_stream(modelId=SONNET, messages=user("hi [[say:badword]]"), guardrailConfig=gc)["stream"])
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert len(deltas) > 2 and deltas[-1] == "Sorry, the model cannot provide this response."
    assert events[-2]["messageStop"]["stopReason"] == "guardrail_intervened"
    r = bedrock.invoke_model(modelId=SONNET, body=anthropic_body("call me at 555-123-4567 [[say:forbidden]]"), guardrailIdentifier="demo", guardrailVersion="DRAFT")
    v = json.loads(r["body"].read())
    assert v["amazon-bedrock-guardrailAction"] == "INTERVENED"
    a = bedrock.apply_guardrail(
        guardrailIdentifier="demo", guardrailVersion="1", source="OUTPUT", content=[{"text": {"text": "write to a@b.com"}}]
    )
    assert a["action"] == "GUARDRAIL_INTERVENED" and a["outputs"] == [{"text": "write to {EMAIL}"}]
    pii = a["assessments"][0]["sensitiveInformationPolicy"]["piiEntities"][0]
    assert pii == {"match": "a@b.com", "type": "EMAIL", "action": "ANONYMIZED", "detected": True}
    a = bedrock.apply_guardrail(guardrailIdentifier="demo", guardrailVersion="1", source="INPUT", content=[{"text": {"text": "key AKIAABCDEFGHIJKLMNOP"}}])
    assert a["outputs"] == [{"text": "Sorry, the model cannot answer this question."}]
    a = bedrock.apply_guardrail(guardrailIdentifier="demo", guardrailVersion="1", source="INPUT", content=[{"text": {"text": "fine"}}])
    assert a["action"] == "NONE" and a["outputs"] == []
    with pytest.raises(ClientError) as e:
        bedrock.apply_guardrail(guardrailIdentifier="nope", guardrailVersion="1", source="INPUT", content=[{"text": {"text": "x"}}])
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_missing_and_malformed_authorization(bedrock_local):
    url = f"{bedrock_local.url}/model/amazon.nova-lite-v1%3A0/converse"
    body = json.dumps({"messages": user("hi")}).encode()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"))
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"] == "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/"
    assert json.loads(e.value.read()) == {"Message": "Authorization header is missing"}
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST", headers={"Authorization": "nonsense"}))
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"].startswith("UnrecognizedClientException")


def test_control_api(bedrock_local, bedrock):
    bedrock_local.control("POST", "/_local/faults", {"fault": "throttle", "count": 2, "operation": "Converse"})
    before = bedrock_local.control("GET", "/_local/stats")
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            bedrock.converse(modelId=NOVA_LITE, messages=user("hi"))
        assert e.value.response["Error"]["Code"] == "ThrottlingException"
    bedrock.converse(modelId=NOVA_LITE, messages=user("hi"))
    after = bedrock_local.control("GET", "/_local/stats")
    assert after["requests"]["Converse"] - before["requests"]["Converse"] == 3
    assert after["faults_injected"] - before["faults_injected"] == 2
    assert bedrock_local.control("GET", "/_local/health")["status"] == "ok"


def test_async_invoke_writes_to_moto_s3(bedrock_local, bedrock, moto_server):
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket="reels")
    out = {"s3OutputDataConfig": {"s3Uri": "s3://reels/videos"}}
    model_input = {"taskType": "TEXT_VIDEO", "textToVideoParams": {"text": "a dog surfing"}}
    arn = bedrock.start_async_invoke(modelId="amazon.nova-reel-v1:0", modelInput=model_input, outputDataConfig=out, clientRequestToken="py-token-1")["invocationArn"]
    assert arn.startswith("arn:aws:bedrock:us-east-1:123456789012:async-invoke/")
    again = bedrock.start_async_invoke(modelId="amazon.nova-reel-v1:0", modelInput=model_input, outputDataConfig=out, clientRequestToken="py-token-1")
    assert again["invocationArn"] == arn
    assert bedrock.get_async_invoke(invocationArn=arn)["status"] == "InProgress"
    failing = bedrock.start_async_invoke(
        modelId="amazon.nova-reel-v1:0",
        modelInput={"taskType": "TEXT_VIDEO", "textToVideoParams": {"text": "[[fault:async_fail]]"}},
        outputDataConfig=out,
    )["invocationArn"]
    deadline = time.monotonic() + 10
    while bedrock.get_async_invoke(invocationArn=arn)["status"] == "InProgress" and time.monotonic() < deadline:
        time.sleep(0.1)
    got = bedrock.get_async_invoke(invocationArn=arn)
    assert got["status"] == "Completed", got.get("failureMessage")
    inv_id = arn.rsplit("/", 1)[1]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="reels", Prefix=f"videos/{inv_id}/")["Contents"])
    assert keys == [f"videos/{inv_id}/manifest.json", f"videos/{inv_id}/output.mp4"]
    manifest = json.loads(s3.get_object(Bucket="reels", Key=f"videos/{inv_id}/manifest.json")["Body"].read())
    assert manifest["invocationArn"] == arn
    while bedrock.get_async_invoke(invocationArn=failing)["status"] == "InProgress" and time.monotonic() < deadline:
        time.sleep(0.1)
    f = bedrock.get_async_invoke(invocationArn=failing)
    assert f["status"] == "Failed" and f["failureMessage"]
    listed = bedrock.list_async_invokes(statusEquals="Completed", sortOrder="Ascending")["asyncInvokeSummaries"]
    assert arn in [s["invocationArn"] for s in listed]
    page = bedrock.list_async_invokes(maxResults=1)
    assert len(page["asyncInvokeSummaries"]) == 1 and "nextToken" in page
    with pytest.raises(ClientError) as e:
        bedrock.start_async_invoke(modelId=SONNET, modelInput=model_input, outputDataConfig=out)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        bedrock.get_async_invoke(invocationArn="arn:aws:bedrock:us-east-1:123456789012:async-invoke/zzzzzzzzzzzz")
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_async_failure_when_bucket_missing(bedrock):
    arn = bedrock.start_async_invoke(
        modelId="amazon.nova-reel-v1:0",
        modelInput={"taskType": "TEXT_VIDEO", "textToVideoParams": {"text": "x"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": "s3://no-such-bucket-here/out"}},
    )["invocationArn"]
    deadline = time.monotonic() + 10
    while bedrock.get_async_invoke(invocationArn=arn)["status"] == "InProgress" and time.monotonic() < deadline:
        time.sleep(0.1)
    got = bedrock.get_async_invoke(invocationArn=arn)
    assert got["status"] == "Failed" and "no-such-bucket-here" in got["failureMessage"]


def test_seeded_random_faults_and_sigterm():
    def pattern():
        bl = spawn_bedrock_local(["--fault-rate", "0.3", "--seed", "7"])
        try:
            c = bl.client()
            out = []
            for _ in range(15):
                try:
                    c.converse(modelId=NOVA_LITE, messages=user("hi"))
                    out.append(False)
                except ClientError as e:
                    assert e.response["Error"]["Code"] == "ThrottlingException"
                    out.append(True)
            return out
        finally:
            bl.proc.terminate()
            assert bl.proc.wait(timeout=5) == 0

    a = pattern()
    assert a == pattern() and any(a) and not all(a)
