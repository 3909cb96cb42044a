"""Python baseline of `make bench` for streaming: what a Python Lambda on the managed runtime does.

The managed Python runtime (awslambdaric) has no response streaming (that needs a custom runtime
or the Lambda Web Adapter), so the usual pattern is this buffered handler: call ConverseStream
with boto3, consume every event, and return the whole reply at the end. A client therefore sees
the first token only when the stream is complete; the bench reports its time to complete and its
output tokens per second over the whole invocation, labelled as such.

Takes the same Function URL event as `stream-url` (`POST /converse`, body with `messages` and
`inferenceConfig`). Run by `python -m awslambdaric handler_stream.handler`.
"""

import json
import os

import boto3

MODEL_ID = os.environ.get("BENCH_MODEL_ID", "us.anthropic.claude-haiku-4-5-20251001-v1:0")
client = boto3.client("bedrock-runtime")


def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    kwargs = {"modelId": MODEL_ID, "messages": body["messages"]}
    if "inferenceConfig" in body:
        kwargs["inferenceConfig"] = body["inferenceConfig"]
    resp = client.converse_stream(**kwargs)
    parts, usage, stop = [], {}, None
    for ev in resp["stream"]:
        if "contentBlockDelta" in ev:
            parts.append(ev["contentBlockDelta"]["delta"].get("text", ""))
        elif "messageStop" in ev:
            stop = ev["messageStop"].get("stopReason")
        elif "metadata" in ev:
            usage = ev["metadata"].get("usage", {})
    out = {
        "model": MODEL_ID,
        "text": "".join(parts),
        "stopReason": stop,
        "usage": usage,
        "request_id": context.aws_request_id,
    }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(out),
    }
