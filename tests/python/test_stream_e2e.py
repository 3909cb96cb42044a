"""The stream-url function end to end: HTTP through `cargo lambda watch`'s Function URL emulation
(RESPONSE_STREAM), the function, and bedrock-local. Events are read as they arrive, stamped with
client-side arrival times.

The shared stack's bedrock-local is unpaced. Timing is shown two ways:
- a long unpaced stream: when the first event reaches the client, bedrock-local still reports the
  upstream stream as active (not completed), and events keep arriving over time;
- a paced stream via per-request markers `[[ttft_ms:N]]` / `[[tokens_per_sec:N]]` in the request
  body (overriding `--ttft-ms` / `--tokens-per-sec` for that request). Skipped, saying so, when the
  emulator does not support them yet.
"""

from __future__ import annotations

import json
import time
import urllib.request

import boto3
import pytest
import requests
from botocore.config import Config

import openapi_check


HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
PACE = "[[ttft_ms:200]] [[tokens_per_sec:50]]"


def user(text):
    return [{"role": "user", "content": [{"text": text}]}]


class Event:
    def __init__(self, name: str, data, at: float):
        self.name, self.data, self.at = name, data, at

    def __repr__(self):
        return f"{self.name}@{self.at:.3f}"


def read_events(resp, t0: float, on_first=None) -> list[Event]:
    """Splits the body into SSE events as chunks arrive; `at` is seconds since `t0`."""
    events, buf = [], ""
    for chunk in resp.iter_content(chunk_size=None):
        now = time.monotonic() - t0
        buf += chunk.decode()
        while "\n\n" in buf:
            raw, buf = buf.split("\n\n", 1)
            name, data = "", None
            for line in raw.splitlines():
                if line.startswith("event: "):
                    name = line[len("event: "):]
                elif line.startswith("data: "):
                    data = json.loads(line[len("data: "):])
            events.append(Event(name, data, now))
            if on_first and len(events) == 1:
                on_first()
    assert buf == "", f"partial event at the end: {buf!r}"
    return events


def post(stack, path: str, body: dict, **kw):
    return requests.post(stack.function_url("stream-url", path), json=body, stream=True, timeout=60, **kw)


def template(path: str) -> str:
    """The documented path of a concrete one."""
    return "/invoke/{modelId}" if path.startswith("/invoke/") else path


def stream(stack, path: str, body: dict) -> list[Event]:
    """POSTs, reads every event, and checks status, headers and the closing event against
    docs/openapi.yaml (`StreamDone` / `Error`)."""
    t0 = time.monotonic()
    resp = post(stack, path, body)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/event-stream"
    events = read_events(resp, t0)
    openapi_check.validate("POST", template(path), 200, "", resp.headers)
    last = events[-1]
    schema = {"done": "StreamDone", "error": "Error"}[last.name]
    openapi_check.validate_schema({"$ref": f"#/components/schemas/{schema}"}, last.data, f"{last.name} event")
    return events


def names(events):
    return [e.name for e in events]


def stats(stack) -> dict:
    with urllib.request.urlopen(f"{stack.bedrock_url}/_local/stats", timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def pacing_markers(local_stack):  # noqa: F811
    """Whether bedrock-local honours the per-request pacing markers (asked directly, via boto3)."""
    br = boto3.client("bedrock-runtime", endpoint_url=local_stack.bedrock_url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(retries={"total_max_attempts": 1}))
    t0 = time.monotonic()
    out = br.converse_stream(modelId=HAIKU, messages=user(f"probe {PACE} [[len:5]]"))
    for ev in out["stream"]:
        if "contentBlockDelta" in ev:
            return time.monotonic() - t0 >= 0.15
    return False


def test_converse_streams_every_event_then_done(local_stack):  # noqa: F811
    ev = stream(local_stack, "/converse", {"model": "haiku", "messages": user("Hello")})
    n = names(ev)
    assert n[0] == "messageStart" and ev[0].data == {"role": "assistant"}
    assert "contentBlockDelta" in n
    assert n[-4:] == ["contentBlockStop", "messageStop", "metadata", "done"]
    done, metadata = ev[-1].data, ev[-2].data
    assert done["model"] == HAIKU
    assert done["usage"] == metadata["usage"] and done["usage_known"] is True
    assert float(done["cost"]["total"]) > 0
    assert done["request_id"]
    assert 0 <= done["metrics"]["timeToFirstTokenMs"] <= done["metrics"]["latencyMs"]


def test_first_event_arrives_while_the_upstream_is_still_streaming(local_stack):  # noqa: F811
    # About 2.8 MB of events: more than the pipes between emulator, function and client hold.
    before = stats(local_stack)
    seen = {}
    body = {"model": "haiku", "messages": user("Long answer [[len:60000]]"),
            "inferenceConfig": {"maxTokens": 60000}}
    t0 = time.monotonic()
    resp = post(local_stack, "/converse", body)
    ev = read_events(resp, t0, on_first=lambda: seen.update(stats(local_stack)))
    assert ev[-1].name == "done"
    # At the first event, bedrock-local had not finished the stream: nothing waited for the end.
    assert seen["streams_completed"] == before["streams_completed"], seen
    # `metadata` is bedrock-local's last event, sent `latencyMs` after its stream began: the first
    # event reached us in the first half of the upstream stream's life, not after its end.
    metadata = next(e for e in ev if e.name == "metadata")
    upstream_s = metadata.data["metrics"]["latencyMs"] / 1000
    assert metadata.at - ev[0].at > upstream_s / 2, (ev[0], metadata, upstream_s)
    assert ev[-1].at - ev[0].at > 0.1, "all events arrived at once"


def test_paced_stream_events_are_spread_over_time(local_stack, pacing_markers):  # noqa: F811
    if not pacing_markers:
        pytest.skip("bedrock-local lacks per-request pacing markers [[ttft_ms:N]] / [[tokens_per_sec:N]]")
    ev = stream(local_stack, "/converse", {"model": "haiku", "messages": user(f"Hi {PACE} [[len:30]]")})
    deltas = [e for e in ev if e.name == "contentBlockDelta"]
    assert ev[0].name == "messageStart"
    # messageStart comes before the time to first token, the first delta after it, and the
    # deltas follow the token rate (30 tokens at 50/s: about 0.6 s) instead of arriving together.
    assert deltas[0].at - ev[0].at >= 0.15, ev
    assert ev[-1].at - deltas[0].at >= 0.3, ev
    gaps = [b.at - a.at for a, b in zip(deltas, deltas[1:])]
    assert sum(g > 0.005 for g in gaps) >= len(gaps) // 2, ev
    assert ev[-1].data["metrics"]["timeToFirstTokenMs"] >= 190


def test_tool_use_stream(local_stack):  # noqa: F811
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather for a city",
                                     "inputSchema": {"json": {"type": "object",
                                                              "properties": {"city": {"type": "string"}},
                                                              "required": ["city"]}}}}]}
    ev = stream(local_stack, "/converse",
                {"model": "haiku", "messages": user("use tool get_weather"), "toolConfig": tools})
    start = next(e for e in ev if e.name == "contentBlockStart")
    assert start.data["start"]["toolUse"]["name"] == "get_weather"
    args = "".join(e.data["delta"]["toolUse"]["input"] for e in ev
                   if e.name == "contentBlockDelta" and "toolUse" in e.data["delta"])
    assert json.loads(args) == {"city": "sample city"}
    assert next(e for e in ev if e.name == "messageStop").data["stopReason"] == "tool_use"


def test_reasoning_stream(local_stack):  # noqa: F811
    ev = stream(local_stack, "/converse", {
        "model": "sonnet", "messages": user("Think first"), "inferenceConfig": {"maxTokens": 2000},
        "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}}})
    reasoning = [e.data["delta"]["reasoningContent"] for e in ev
                 if e.name == "contentBlockDelta" and "reasoningContent" in e.data["delta"]]
    assert any("text" in r for r in reasoning) and any("signature" in r for r in reasoning)
    assert ev[-1].name == "done"


def test_native_anthropic_stream(local_stack):  # noqa: F811
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
            "messages": [{"role": "user", "content": "Hello"}]}
    ev = stream(local_stack, "/invoke/haiku", body)
    assert set(names(ev[:-1])) == {"chunk"}
    assert ev[0].data["type"] == "message_start"
    assert any(e.data.get("type") == "content_block_delta" for e in ev[:-1])
    metrics = ev[-2].data["amazon-bedrock-invocationMetrics"]
    done = ev[-1]
    assert done.name == "done"
    assert done.data["usage"]["outputTokens"] == metrics["outputTokenCount"]
    assert done.data["max_tokens"]["value"] == 100
    assert float(done.data["cost"]["total"]) > 0


def test_native_nova_stream(local_stack):  # noqa: F811
    ev = stream(local_stack, "/invoke/amazon.nova-lite-v1:0",
                {"messages": user("Hello nova"), "inferenceConfig": {"maxTokens": 100}})
    assert "messageStart" in ev[0].data
    assert any("contentBlockDelta" in e.data for e in ev[:-1])
    done = ev[-1].data
    assert done["usage"]["inputTokens"] > 0 and done["usage"]["outputTokens"] > 0


@pytest.mark.parametrize("marker,kind", [("[[fault:stream_error_after=3]]", "model_error"),
                                         ("[[fault:stream_throttle_after=3]]", "throttled")])
def test_mid_stream_error_is_an_error_event(local_stack, marker, kind):  # noqa: F811
    ev = stream(local_stack, "/converse", {"model": "haiku", "messages": user(f"Hi {marker} [[len:40]]")})
    assert len(ev) == 4, ev
    assert ev[-1].name == "error"
    assert ev[-1].data["error"]["type"] == kind
    assert ev[-1].data["error"]["request_id"]
    assert "done" not in names(ev)


@pytest.mark.parametrize("path,body,status,kind", [
    ("/converse", {"model": "haiku", "messages": user("[[fault:throttle]]")}, 429, "throttled"),
    ("/converse", {"model": "no-such-model", "messages": user("hi")}, 404, "model_not_found"),
    ("/invoke/no-such-model", {"inputText": "hi"}, 404, "model_not_found"),
    ("/converse", {"model": "haiku", "messages": user("[[fault:internal]]")}, 502, "upstream_error"),
])
def test_errors_before_the_stream_are_json(local_stack, path, body, status, kind):  # noqa: F811
    resp = requests.post(local_stack.function_url("stream-url", path), json=body, timeout=60)
    assert resp.status_code == status, resp.text
    openapi_check.validate_response(resp, template(path))
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["error"]["type"] == kind
    if status == 429:
        assert int(resp.headers["retry-after"]) > 0


def test_wrong_method_is_json_405(local_stack):  # noqa: F811
    resp = requests.get(local_stack.function_url("stream-url", "/converse"), timeout=60)
    assert resp.status_code == 405
    openapi_check.validate_error(405, resp.json(), resp.headers)
    assert resp.json()["error"]["type"] == "method_not_allowed"


def test_client_disconnect_cancels_the_upstream(local_stack):  # noqa: F811
    before = stats(local_stack)
    body = {"model": "haiku", "messages": user("Very long answer [[len:60000]]"),
            "inferenceConfig": {"maxTokens": 60000}}
    resp = post(local_stack, "/converse", body)
    assert resp.status_code == 200
    next(resp.iter_content(chunk_size=None))
    resp.close()  # the client goes away after the first event
    deadline = time.monotonic() + 3
    while True:
        s = stats(local_stack)
        if s["streams_cancelled"] > before["streams_cancelled"] and s["active_streams"] == 0:
            break
        assert time.monotonic() < deadline, f"upstream still running: {s}"
        time.sleep(0.05)
    assert s["streams_completed"] == before["streams_completed"]
