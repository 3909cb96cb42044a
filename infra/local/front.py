"""The local stack's front door: 127.0.0.1:PORT -> `cargo lambda watch` on 127.0.0.1:UPSTREAM.

Why it exists: cargo-lambda 1.9.2's emulator answers a function's `POST .../response` with 200
*before* it has read the response body, then hands the body to the waiting caller. lambda_runtime
keeps one idle connection to the Runtime API (AWS_LAMBDA_MAX_CONCURRENCY=1, which the watcher
forces); when hyper has opened a second one in the meantime, it closes the surplus connection as
soon as that 200 arrives. If the watcher has not finished passing the body on by then, the
caller gets the watcher's own error instead of the function's answer:

    500, content-type text/plain, {"type":"https://httpstatuses.com/500","status":500,
    "title":"Internal Server Error"}

(seen in about 1 in 100 large answers, e.g. `/v1/models`, on a loaded 2-core machine; traced with
strace: the function writes the whole body, reads the 200, shuts the socket; the watcher reads
every byte, then EOF, then fails the body). The real Runtime API reads the body before it answers,
so this never happens on AWS. Nothing the function sends can prevent it, and the watcher sets
AWS_LAMBDA_RUNTIME_API itself, so nothing can sit between the function and the watcher.

So this proxy sits in front: it forwards every request as it came (method, path, headers, body)
and streams the answer back as it arrives (chunked answers chunk by chunk, so SSE streams stay
live). When, and only when, the watcher answers with exactly that error body, the request is sent
again (at most RETRIES times) and one line naming the method and path goes to stderr. The function
ran for the lost answer: a retried call is billed and metered twice in the local stack, which is
why every retry is logged. Our functions never answer text/plain, so no error of theirs is
retried. Started and stopped (by its pid) by stack.py.

A re-sent request can be held by the watcher: in CI (2026-12-07) the function answered
`GET /v1/models`, the watcher lost that answer, and the re-sent call reached the function only
when the next request arrived, two minutes later, after the caller had given up. So a re-sent
call that has no answer (status line and headers) within RESEND_TIMEOUT_S is sent once more,
within the same bound of RETRIES; the new request also wakes the watcher, which then delivers
the held one too (its answer is dropped). That too is logged. Only re-sent calls have this bound:
a first call may take as long as the function takes.

Usage: python3 front.py PORT UPSTREAM_PORT [RESEND_TIMEOUT_S]
"""

from __future__ import annotations

import http.client
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RETRIES = 3
# A Lambda call can stream for minutes (stream-url); the watcher itself has no timeout.
UPSTREAM_TIMEOUT_S = 900
# How long a re-sent call may wait for its status line and headers (a stream sends them first).
RESEND_TIMEOUT_S = 30.0
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade"}


def is_watcher_failure(status: int, content_type: str, body: bytes) -> bool:
    """The watcher's own ServerError answer, with no detail: never a function's answer."""
    if status != 500 or not content_type.lower().startswith("text/plain") or len(body) > 512:
        return False
    try:
        problem = json.loads(body)
    except ValueError:
        return False
    return problem == {"type": "https://httpstatuses.com/500", "status": 500,
                       "title": "Internal Server Error"}


class Front(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream_port = 0
    resend_timeout = RESEND_TIMEOUT_S

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - no access log: paths only on retries
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self) -> None:
        body = self._read_body()
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        for attempt in range(RETRIES + 1):
            wait = UPSTREAM_TIMEOUT_S if attempt == 0 else self.resend_timeout
            conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=wait)
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders(body)
                resp = conn.getresponse()
                if conn.sock is not None:
                    conn.sock.settimeout(UPSTREAM_TIMEOUT_S)
            except OSError as e:
                conn.close()
                held = attempt > 0 and isinstance(e, TimeoutError)
                if held and attempt < RETRIES:
                    print(f"front: cargo lambda watch held the re-sent {self.command} "
                          f"{self.path.split('?')[0]} without an answer for {wait:g} s; sending "
                          f"it again (retry {attempt + 1} of {RETRIES})", file=sys.stderr, flush=True)
                    continue
                if held:
                    self._send_plain_error(504, "front: cargo lambda watch did not answer the re-sent request")
                else:
                    self._send_plain_error(502, f"front: the functions emulator is unreachable: {e}")
                return
            if resp.status == 500 and attempt < RETRIES:
                ctype = resp.getheader("content-type", "")
                if ctype.lower().startswith("text/plain"):
                    first = resp.read()
                    if is_watcher_failure(resp.status, ctype, first):
                        conn.close()
                        print(f"front: cargo lambda watch lost the function's answer to "
                              f"{self.command} {self.path.split('?')[0]}; sending it again "
                              f"(retry {attempt + 1} of {RETRIES})", file=sys.stderr, flush=True)
                        continue
                    self._relay(resp, prefix=first, complete=True)
                    conn.close()
                    return
            self._relay(resp)
            conn.close()
            return

    def _relay(self, resp: http.client.HTTPResponse, prefix: bytes = b"", complete: bool = False) -> None:
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader("content-length")
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if complete or length is not None or self.command == "HEAD" or resp.status in (204, 304):
            data = prefix if complete else (b"" if self.command == "HEAD" else resp.read())
            if self.command != "HEAD" and resp.status not in (204, 304):
                self.send_header("Content-Length", str(len(data)))
            elif length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            if data:
                self.wfile.write(data)
            return
        # An answer of unknown length (a stream): pass each piece on as it arrives.
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        while True:
            piece = resp.read1(65536)
            if not piece:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_plain_error(self, status: int, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        try:
            self._forward()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> int:
    port, upstream = int(sys.argv[1]), int(sys.argv[2])
    Front.upstream_port = upstream
    if len(sys.argv) > 3:
        Front.resend_timeout = float(sys.argv[3])
    server = Server(("127.0.0.1", port), Front)
    print(f"forwarding 127.0.0.1:{port} -> cargo lambda watch on 127.0.0.1:{upstream}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
