"""Python baseline of `make bench`: the usual Python Lambda doing the gateway's Converse job.

A boto3 `bedrock-runtime` client is created at import (once per cold start, as AWS recommends);
the handler takes an API Gateway HTTP API (payload 2.0) event whose body has `messages`, calls
Converse and returns the reply with its usage. The endpoint comes from the standard
`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` variable (bedrock-local in the bench). Run by the AWS runtime
interface client: `python -m awslambdaric handler.handler`.
"""

import json
import os

import boto3

MODEL_ID = os.environ.get("BENCH_MODEL_ID", "us.anthropic.claude-haiku-4-5-20251001-v1:0")
client = boto3.client("bedrock-runtime")


def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    resp = client.converse(modelId=MODEL_ID, messages=body["messages"])
    out = {
        "model": MODEL_ID,
        "output": resp["output"],
        "stopReason": resp["stopReason"],
        "usage": resp["usage"],
        "request_id": context.aws_request_id,
    }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(out),
    }
