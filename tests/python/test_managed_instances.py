"""Lambda Managed Instances: one process runs many invocations at once (issue 24, item 2).

Every function binary runs against the Runtime API of `runtime_api.py`, with every AWS endpoint
pointed at a slow upstream (each request answered after `DELAY` seconds, with an error the SDKs
do not retry), so every invocation below waits on AWS the way a model call does.

- With `AWS_LAMBDA_MAX_CONCURRENCY=64` and 64 invocations handed out at once, all 64 are in
  flight together and finish in about the time of one. Three results cut first (clients that gave
  up) must not cost capacity: before `serve::Undelivered`, each ended one of the 64 workers.
- Without it (classic Lambda), invocations still run one at a time.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from runtime_api import BIN, RuntimeApi, function_env, http_event

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
DELAY = 1.0
N = 64
CUT = 3
SLOW_EVENTS = {
    "invoke": "apigw-v2-post-converse.json",
    "stream-url": "function-url-post-converse.json",
    "count": "apigw-v2-post-count.json",
    "admin": "apigw-v2-get-models.json",
    "async-callback": "s3-object-created-inbox.json",
}


def slow_event(function: str) -> dict:
    """An invocation of `function` that makes at least one AWS call (the fixture events)."""
    event = json.loads((EVENTS / SLOW_EVENTS[function]).read_text())
    if function == "admin":
        event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/admin/keys"
    return event


def fast_event(function: str) -> dict:
    """An invocation answered without AWS (its result is the one the Runtime API cuts)."""
    if function == "async-callback":
        return {"neither": "s3 nor sqs"}
    return http_event("/v1/no-such-route")


FUNCTIONS = ("invoke", "stream-url", "count", "admin", "async-callback")


class SlowUpstream:
    """Every AWS service: answers each request after DELAY with a 400 (not retried)."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                time.sleep(DELAY)
                body = b'{"__type":"ValidationException","message":"slow upstream"}'
                self.send_response(400)
                self.send_header("content-type", "application/json")
                self.send_header("x-amzn-errortype", "ValidationException")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _any

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.request_queue_size = 512
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def upstream():
    up = SlowUpstream()
    yield up
    up.stop()


def start(function: str, api: RuntimeApi, upstream: SlowUpstream, log: Path, **extra: str):
    binary = BIN / function
    if not binary.exists():
        pytest.fail(f"{binary} is missing: `make test` builds it (cargo build --workspace --bins)")
    env = function_env(function, api.address, AWS_ENDPOINT_URL=upstream.url,
                       AWS_ENDPOINT_URL_BEDROCK_RUNTIME=upstream.url,
                       AWS_ENDPOINT_URL_DYNAMODB=upstream.url, AWS_ENDPOINT_URL_S3=upstream.url,
                       AWS_ENDPOINT_URL_SQS=upstream.url, **extra)
    with open(log, "wb") as out:
        return subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT)


def run_batch(api: RuntimeApi, function: str, prefix: str, n: int, proc, log: Path) -> float:
    """Hands out `n` slow invocations at once; returns the seconds until the last result."""
    ids = [f"{prefix}-{i}" for i in range(n)]
    api.reset_max()
    began = time.monotonic()
    api.add([{"id": i, "payload": slow_event(function)} for i in ids])
    assert api.wait_results(ids, timeout=30 + n * DELAY / 4, proc=proc), (
        f"{function}: {sum(i in api.finished for i in ids)}/{n} results\n{log.read_text()[-3000:]}")
    return max(api.finished[i] for i in ids) - began


@pytest.mark.parametrize("function", FUNCTIONS)
def test_sixty_four_invocations_in_flight_at_once(function, upstream, tmp_path):
    api = RuntimeApi()
    log = tmp_path / f"{function}.log"
    proc = start(function, api, upstream, log, AWS_LAMBDA_MAX_CONCURRENCY=str(N))
    try:
        cut = [f"cut-{i}" for i in range(CUT)]
        api.add([{"id": i, "payload": fast_event(function)} for i in cut])
        assert api.wait_results(cut, timeout=30, proc=proc), log.read_text()[-3000:]
        one = run_batch(api, function, "one", 1, proc, log)
        assert one >= DELAY, f"{function} did not wait on the slow upstream ({one:.2f}s)"
        took = run_batch(api, function, "many", N, proc, log)
        assert api.max_in_flight == N, (
            f"{function}: at most {api.max_in_flight} of {N} in flight\n{log.read_text()[-3000:]}")
        assert took < 3 * one, f"{function}: {N} took {took:.2f}s, one {one:.2f}s"
        assert proc.poll() is None
        kinds = {api.results[f"many-{i}"][0] for i in range(N)}
        assert kinds <= {"response", "error"}, kinds
    finally:
        proc.kill()
        proc.wait(10)
        api.stop()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_without_max_concurrency_one_at_a_time(function, upstream, tmp_path):
    api = RuntimeApi()
    log = tmp_path / f"{function}.log"
    proc = start(function, api, upstream, log)
    try:
        run_batch(api, function, "seq", 2, proc, log)
        assert api.max_in_flight == 1, f"{function}: {api.max_in_flight} in flight"
    finally:
        proc.kill()
        proc.wait(10)
        api.stop()
