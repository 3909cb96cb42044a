"""infra/local/front.py, the stack's front door, against a fake `cargo lambda watch`.

The fake answers like the watcher does: the lost-answer error (500, text/plain, the bare problem
JSON) for the first N calls of a path, function answers (any status, JSON) otherwise, and chunked
streams. Checked: a lost answer is sent again and the caller sees the function's answer; the
re-sends are bounded and logged; no answer of a function is ever re-sent (a JSON 500, a text/plain
500 with detail); bodies and the Host header reach the watcher unchanged; a stream's first piece
reaches the caller before its last piece is written; a re-sent call the watcher holds without an
answer is sent once more after the front's re-send timeout (1 s here).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
LOST = b'{"type":"https://httpstatuses.com/500","status":500,"title":"Internal Server Error"}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeWatch(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    calls: Counter = Counter()
    seen: list = []
    stream_gate = threading.Event()
    held_gate = threading.Event()

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        FakeWatch.calls[self.path] += 1
        n = FakeWatch.calls[self.path]
        FakeWatch.seen.append((self.command, self.path, self.headers.get("host"), body))
        if self.path.startswith("/lost/"):
            fails = int(self.path.split("?")[0].split("/")[2])
            if n <= fails:
                return self._send(500, "text/plain; charset=utf-8", LOST)
            return self._send(200, "application/json", json.dumps({"n": n, "echo": body.decode()}).encode())
        if self.path == "/held":
            # The watcher loses the first answer, then holds the re-sent call (as seen in CI) until
            # another request arrives; the third call is answered.
            if n == 1:
                return self._send(500, "text/plain; charset=utf-8", LOST)
            if n == 2:
                FakeWatch.held_gate.wait(20)
                self.close_connection = True
                return
            FakeWatch.held_gate.set()
            return self._send(200, "application/json", json.dumps({"n": n}).encode())
        if self.path == "/function-500":
            return self._send(500, "application/json", b'{"error":{"type":"internal","message":"x"}}')
        if self.path == "/watcher-500-detail":
            return self._send(500, "text/plain; charset=utf-8",
                              b'{"type":"https://httpstatuses.com/500","status":500,'
                              b'"title":"Internal Server Error","detail":"missing field"}')
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i, piece in enumerate((b"data: one\n\n", b"data: two\n\n")):
                if i == 1:
                    # The second piece waits until the caller has seen the first.
                    FakeWatch.stream_gate.wait(10)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        self._send(404, "application/json", b"{}")


@pytest.fixture(scope="module")
def front():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), FakeWatch)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "infra" / "local" / "front.py"), str(port), str(upstream.server_address[1]), "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    yield base, proc
    proc.terminate()
    proc.wait(timeout=5)
    upstream.shutdown()


def test_lost_answer_is_sent_again_with_the_same_body_and_host(front):
    base, _ = front
    r = requests.post(f"{base}/lost/2?q=1", data=b'{"x": 1}', headers={"Host": "gateway.test"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == {"n": 3, "echo": '{"x": 1}'}
    sent = [s for s in FakeWatch.seen if s[1] == "/lost/2?q=1"]
    assert len(sent) == 3
    assert all(s[2] == "gateway.test" and s[3] == b'{"x": 1}' for s in sent)


def test_resends_are_bounded_and_the_last_answer_is_passed_on(front):
    base, _ = front
    r = requests.get(f"{base}/lost/99", timeout=10)
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/plain")
    assert r.content == LOST
    assert FakeWatch.calls["/lost/99"] == 4  # one call and three re-sends


def test_function_errors_are_never_resent(front):
    base, _ = front
    r = requests.post(f"{base}/function-500", json={}, timeout=10)
    assert r.status_code == 500 and r.json()["error"]["type"] == "internal"
    r = requests.post(f"{base}/watcher-500-detail", json={}, timeout=10)
    assert r.status_code == 500 and "missing field" in r.text
    assert FakeWatch.calls["/function-500"] == 1
    assert FakeWatch.calls["/watcher-500-detail"] == 1


def test_stream_pieces_arrive_as_they_are_written(front):
    base, _ = front
    FakeWatch.stream_gate.clear()
    with requests.get(f"{base}/stream", stream=True, timeout=10) as r:
        assert r.status_code == 200
        pieces = r.iter_content(chunk_size=None)
        first = next(pieces)
        assert first == b"data: one\n\n"  # before the watcher has written the second piece
        FakeWatch.stream_gate.set()
        assert b"".join(pieces) == b"data: two\n\n"


def test_a_held_resend_is_sent_once_more_after_the_resend_timeout(front):
    base, _ = front
    started = time.monotonic()
    r = requests.get(f"{base}/held", timeout=15)
    assert r.status_code == 200, r.text
    assert r.json() == {"n": 3}
    assert FakeWatch.calls["/held"] == 3
    assert time.monotonic() - started < 10  # the 1 s bound, not the held call's 20 s


def test_every_resend_is_logged_with_method_and_path_only(front):
    _, proc = front
    proc.terminate()
    _, err = proc.communicate(timeout=5)
    lines = [l for l in err.splitlines() if l.startswith("front: ")]
    assert len(lines) == 2 + 3 + 2, err
    assert "POST /lost/2;" in lines[0] and "q=1" not in lines[0]
    held = [l for l in lines if "/held" in l]
    assert "lost the function's answer to GET /held;" in held[0]
    assert "held the re-sent GET /held without an answer for 1 s" in held[1]
