"""Shared pytest fixtures: a moto server (S3, SQS, DynamoDB, ...) and the bedrock-local emulator.

Both run as child processes on free loopback ports and are stopped by their own pid at teardown.

- `moto_server`: session-wide moto (`.venv/bin/moto_server -H 127.0.0.1 -p <free port>`); its
  `.url` is the endpoint for any AWS SDK, `.client(service)` returns a boto3 client for it.
- `bedrock_local`: session-wide bedrock-local (binary from `BEDROCK_LOCAL_BIN`, default
  `<CARGO_TARGET_DIR or repo/target>/debug/bedrock-local`) with its S3 writes pointed at `moto_server`.
- `bedrock`: a boto3 `bedrock-runtime` client for `bedrock_local` (dummy credentials, us-east-1,
  a single attempt per call so fault tests count exactly).
- `BedrockLocal.client(service)`: a boto3 client of `bedrock-runtime` (default) or `bedrock` (the
  control plane) for that emulator.
- `spawn_bedrock_local(args, env)`: start another emulator with its own flags (caller stops it).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))
import stack as stack_module  # noqa: E402
REGION = "us-east-1"
DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, 15)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, 9)
            proc.wait()


@dataclass
class MotoServer:
    url: str
    proc: subprocess.Popen

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


@pytest.fixture(scope="session")
def moto_server():
    exe = Path(sys.executable).with_name("moto_server")
    if not exe.exists():
        exe = ROOT / ".venv" / "bin" / "moto_server"
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **DUMMY_ENV},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
    yield MotoServer(url, proc)
    _stop(proc)


@dataclass
class BedrockLocal:
    url: str
    proc: subprocess.Popen

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def client(self, service: str = "bedrock-runtime", **config):
        """A boto3 client of `service` ("bedrock-runtime", or "bedrock" for the control plane)."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            # `total_max_attempts` counts the first try: exactly one request per call.
            # (`max_attempts` would still allow one retry.)
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config),
        )

    def stop(self) -> None:
        _stop(self.proc)


def spawn_bedrock_local(args: list[str] | None = None, env: dict | None = None) -> BedrockLocal:
    binary = os.environ.get("BEDROCK_LOCAL_BIN", str(stack_module.target_dir() / "debug" / "bedrock-local"))
    if not Path(binary).exists():
        pytest.fail(f"bedrock-local binary not found at {binary}; run `cargo build -p bedrock-local`")
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("BEDROCK_LOCAL_", "AWS_PROFILE"))}
    child_env.update(DUMMY_ENV)
    child_env.update(env or {})
    proc = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", "0", *(args or [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=child_env,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        _stop(proc)
        raise RuntimeError(f"unexpected first line from bedrock-local: {line!r}")
    return BedrockLocal(line.removeprefix("listening on "), proc)


@pytest.fixture(scope="session")
def bedrock_local(moto_server):
    bl = spawn_bedrock_local(
        ["--async-complete-ms", "300"],
        {"AWS_ENDPOINT_URL_S3": moto_server.url},
    )
    yield bl
    bl.stop()


@pytest.fixture()
def bedrock(bedrock_local):
    bedrock_local.control("DELETE", "/_local/faults")
    return bedrock_local.client()


# The local stacks (infra/local/stack.py) as session fixtures. Registered here, once: a fixture
# imported into several test modules is a separate fixture in each (pytest keys fixtures by the
# module that defines them), which started one whole stack per module.
from stack_fixture import auth_stack, clear_armed_faults, local_stack  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _disarm_stack_faults():
    """The stacks are shared by the whole session: after each test, faults it armed in their
    emulators and did not use up are cleared (they would fail an unrelated later test)."""
    yield
    clear_armed_faults()
