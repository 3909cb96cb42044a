"""Every function survives a response it could not deliver (issue 21, item 4).

Each function binary runs against a small Lambda Runtime API written here (on a free loopback
port, stopped by the test): the first event's response is cut (the connection is reset as soon
as the function starts posting it, as when a Function URL client gives up or `cargo lambda
watch` drops the exchange); the second event must still be asked for and answered by the same
process. Before the fix `lambda_runtime` returned the error out of `main` and the process exited.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "debug"
PREFIX = "/2018-06-01/runtime"


def http_event(path: str) -> dict:
    """An API Gateway HTTP API (v2) / Function URL event: a GET the router answers without AWS."""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "localhost", "accept": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "localhost",
            "domainPrefix": "localhost", "requestId": "r", "routeKey": "$default",
            "stage": "$default", "time": "02/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "test"},
        },
        "isBase64Encoded": False,
    }


class RuntimeApi:
    """Serves `events` in order on `/invocation/next` (then holds the poll open); resets the
    connection of the first posted result, records the others."""

    def __init__(self, events: list[dict]):
        self.events = list(events)
        self.results: dict[str, tuple[str, bytes]] = {}
        self.cut: list[str] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while not self.stopped.is_set():
                line = reader.readline()
                if not line:
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers = {}
                while (h := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                if not self._answer(conn, reader, method, target, headers):
                    return
        except OSError:
            return
        finally:
            conn.close()

    def _answer(self, conn, reader, method: str, target: str, headers: dict) -> bool:
        if method == "GET" and target == f"{PREFIX}/invocation/next":
            with self.lock:
                event = self.events.pop(0) if self.events else None
            if event is None:
                self.stopped.wait(60)
                return False
            rid = event["id"]
            body = json.dumps(event["payload"]).encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"lambda-runtime-aws-request-id: {rid}\r\n".encode()
                + f"lambda-runtime-deadline-ms: {int(time.time() * 1000) + 30_000}\r\n".encode()
                + b"lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode() + body)
            return True
        if method == "POST" and target.startswith(f"{PREFIX}/invocation/"):
            rid = target.split("/")[4]
            if rid.startswith("cut-"):
                with self.lock:
                    self.cut.append(rid)
                # Reset, not a clean close: what a vanished peer looks like to the writer.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return False
            body = read_body(reader, headers)
            with self.lock:
                self.results[rid] = (target.rsplit("/", 1)[1], body)
            conn.sendall(b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
                         b"content-length: 16\r\n\r\n{\"status\":\"OK\"}\n")
            return True
        conn.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
        return True


def read_body(reader, headers: dict) -> bytes:
    if "content-length" in headers:
        return reader.read(int(headers["content-length"]))
    out = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(reader.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while reader.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers (a streamed response's error, if any)
                return out
            out += reader.read(size)
            reader.readline()
    return out


FUNCTIONS = {
    "invoke": http_event("/v1/no-such-route"),
    "stream-url": http_event("/v1/no-such-route"),
    "count": http_event("/v1/no-such-route"),
    "admin": http_event("/v1/no-such-route"),
    # Not an event async-callback knows: it answers with an error, posted like a response.
    "async-callback": {"neither": "s3 nor sqs"},
}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_a_function_survives_a_response_it_could_not_deliver(function, tmp_path):
    binary = BIN / function
    if not binary.exists():
        pytest.fail(f"{binary} is missing: `make test` builds it (cargo build --workspace --bins)")
    payload = FUNCTIONS[function]
    api = RuntimeApi([{"id": "cut-1", "payload": payload}, {"id": "ok-2", "payload": payload}])
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
        "GATEWAY_AUTH": "none",
        "GATEWAY_METRICS": "false",
        "GATEWAY_KEYS_TABLE": "keys", "GATEWAY_USAGE_TABLE": "usage",
    }
    log = tmp_path / f"{function}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "ok-2" not in api.results and proc.poll() is None:
            time.sleep(0.05)
        assert api.cut == ["cut-1"], f"the first response was never posted\n{log.read_text()}"
        assert proc.poll() is None, (
            f"{function} exited ({proc.returncode}) after a response it could not deliver\n"
            f"{log.read_text()}")
        assert "ok-2" in api.results, f"{function} did not answer the next event\n{log.read_text()}"
        kind, body = api.results["ok-2"]
        assert kind in ("response", "error")
        if function != "async-callback":
            assert kind == "response"
            assert b"not_found" in body, body
    finally:
        proc.kill()
        proc.wait(10)
        api.stop()
