"""A Lambda Runtime API written here, for running a function binary as Lambda would.

Serves events on `/invocation/next` (holding the poll open while there are none, as Lambda
does), records each posted result, and resets the connection of any result whose request ID
starts with `cut-` (a client that gave up). It counts invocations in flight (handed out, result
not yet posted) so a test can see how many a process runs at once; each connection has its own
thread, so it serves as many concurrent polls as a process opens.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

from stack import target_dir  # noqa: E402

PREFIX = "/2018-06-01/runtime"
# The function binaries `cargo build --workspace --bins` wrote (CARGO_TARGET_DIR honoured).
BIN = target_dir() / "debug"


def http_event(path: str, method: str = "GET", body: str | None = None) -> dict:
    """An API Gateway HTTP API (v2) / Function URL event."""
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "localhost", "accept": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "localhost",
            "domainPrefix": "localhost", "requestId": "r", "routeKey": "$default",
            "stage": "$default", "time": "02/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "test"},
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["headers"]["content-type"] = "application/json"
        event["body"] = body
    return event


def function_env(function: str, runtime_api: str, **extra: str) -> dict[str, str]:
    """What Lambda gives a function process (no AWS account: dummy credentials)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
        "GATEWAY_AUTH": "none",
        "GATEWAY_METRICS": "false",
        "GATEWAY_KEYS_TABLE": "keys", "GATEWAY_USAGE_TABLE": "usage",
        # No live-catalog refresh: it would read Bedrock's control plane on AWS, off loopback.
        "GATEWAY_CATALOG_REFRESH_SECS": "0",
        **extra,
    }


class RuntimeApi:
    """See the module doc. `add` hands out more events; `wait_results` waits for their results."""

    def __init__(self, events: list[dict] | None = None):
        self.events: list[dict] = list(events or [])
        self.results: dict[str, tuple[str, bytes]] = {}
        self.cut: list[str] = []
        self.handed_out: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Condition()
        self.stopped = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def add(self, events: list[dict]) -> None:
        with self.lock:
            self.events.extend(events)
            self.lock.notify_all()

    def reset_max(self) -> None:
        with self.lock:
            self.max_in_flight = self.in_flight

    def wait_results(self, ids: list[str], timeout: float, proc=None) -> bool:
        """True once every one of `ids` was posted (or cut); False on timeout or exit."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not all(i in self.finished for i in ids):
                if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                    return False
                self.lock.wait(0.05)
            return True

    def stop(self) -> None:
        self.stopped.set()
        with self.lock:
            self.lock.notify_all()
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

    def _next_event(self) -> dict | None:
        with self.lock:
            while not self.events and not self.stopped.is_set():
                self.lock.wait(0.5)
            if self.stopped.is_set():
                return None
            event = self.events.pop(0)
            self.handed_out[event["id"]] = time.monotonic()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return event

    def _finish(self, rid: str) -> None:
        with self.lock:
            if rid in self.handed_out and rid not in self.finished:
                self.finished[rid] = time.monotonic()
                self.in_flight -= 1
            self.lock.notify_all()

    def _answer(self, conn, reader, method: str, target: str, headers: dict) -> bool:
        if method == "GET" and target == f"{PREFIX}/invocation/next":
            event = self._next_event()
            if event is None:
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
                self._finish(rid)
                # Reset, not a clean close: what a vanished peer looks like to the writer.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return False
            body = read_body(reader, headers)
            with self.lock:
                self.results[rid] = (target.rsplit("/", 1)[1], body)
            self._finish(rid)
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
