#!/usr/bin/env python3
"""The local stack: bedrock-local, moto's server and `cargo lambda watch`, wired together.

`make dev` runs `stack.py up`; the Python tests import `LocalStack` and start the same stack on
free loopback ports. Every process is started in its own process group and stopped by its own
pid (the group it leads), on normal exit, on Ctrl-C/SIGTERM and on failure, so nothing is left
running.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
REGION = "us-east-1"

# Physical names of the resources that template.yaml declares (logical IDs in comments).
BUCKET = "gateway-results"  # ResultsBucket
QUEUE = "gateway-jobs"  # JobsQueue
DLQ = "gateway-jobs-dlq"  # JobsDeadLetterQueue
TABLE = "gateway-jobs"  # JobsTable
CACHE_TABLE = "gateway-cache"  # CacheTable (docs/cache.md)
# The response cache locally: opt-in, so only requests that send `x-gateway-cache` use it and
# every other test keeps seeing fresh model calls; no memory tier, so every hit is served by the
# DynamoDB table (moto); a short TTL, so expiry is testable.
CACHE_ENV = {
    "GATEWAY_CACHE": "opt_in",
    "GATEWAY_CACHE_TABLE": CACHE_TABLE,
    "GATEWAY_CACHE_MEMORY_ENTRIES": "0",
    "GATEWAY_CACHE_TTL_SECONDS": "5",
}
KEYS_TABLE = "gateway-keys"  # KeysTable (docs/auth.md)
USAGE_TABLE = "gateway-usage"  # UsageTable: budgets, minute windows, usage report
EVENTS_QUEUE = "gateway-results-events"  # ResultsNotificationQueue (S3 inbox/ ObjectCreated)
MAX_RECEIVE_COUNT = 3
# Bedrock batch locally (docs/jobs.md): a role ARN turns the batch tier on (bedrock-local checks
# nothing about it); groups of 10 jobs are flushed, and bedrock-local accepts 10 records and moves
# a batch job on every 200 ms, so a small demo batch (`POST /v1/batches`) runs there in seconds.
BATCH_ENV = {
    "GATEWAY_BATCH_ROLE_ARN": "arn:aws:iam::123456789012:role/gateway-batch-local",
    "GATEWAY_BATCH_MIN_RECORDS": "10",
}
BEDROCK_BATCH_ENV = {"BEDROCK_LOCAL_BATCH_MIN_RECORDS": "10", "BEDROCK_LOCAL_BATCH_STEP_MS": "200"}
# The webhook signing key the local functions use (GATEWAY_WEBHOOK_SECRET_VALUE: a literal key,
# local development and tests only; deployed stacks reference a secret instead).
WEBHOOK_SECRET = "local-webhook-secret"

# Every binary `cargo lambda watch` serves (at /lambda-url/<name>/...), all with function_env():
# admin gets the keys and usage tables like the others. Locally nothing stands in front of admin
# (on AWS its routes require IAM): the stack binds 127.0.0.1 only, so only this machine reaches it.
FUNCTIONS = ("invoke", "stream-url", "count", "async-callback", "admin")


def target_dir(env: dict[str, str] | None = None) -> Path:
    """Cargo's target directory, as `make` builds into it: `CARGO_TARGET_DIR` when set (a relative
    one is relative to the repository root, where `make` runs cargo), else `<repo>/target`."""
    raw = (os.environ if env is None else env).get("CARGO_TARGET_DIR", "").strip()
    if not raw:
        return ROOT / "target"
    path = Path(raw).expanduser()
    return path if path.is_absolute() else ROOT / path


class StackError(RuntimeError):
    """A stack that cannot start: the message says what to do about it."""


@dataclass
class Ports:
    functions: int
    bedrock: int
    moto: int

    @staticmethod
    def from_env() -> "Ports":
        return Ports(
            functions=_env_port("GATEWAY_FUNCTIONS_PORT", 9000),
            bedrock=_env_port("BEDROCK_LOCAL_PORT", 9101),
            moto=_env_port("MOTO_PORT", 9102),
        )

    @staticmethod
    def free() -> "Ports":
        return Ports(functions=free_port(), bedrock=free_port(), moto=free_port())


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{name} must be a port number, got {raw!r}") from None
    if not 0 < port < 65536:
        raise StackError(f"{name} must be between 1 and 65535, got {port}")
    return port


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_port_free(port: int, variable: str, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise StackError(
                f"port {port} (for {what}) is already in use on 127.0.0.1; "
                f"stop whatever holds it or choose another port with {variable}=<port>"
            ) from None


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path | None = None

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the child and everything it started: its process group, led by its own pid."""
        if self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # The leader is gone; make sure no member of its group outlived it.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass
class LocalStack:
    ports: Ports
    use_bedrock_local: bool = True
    watch: bool = True
    bridge: bool = True
    visibility_timeout: int = 30
    log_dir: Path = field(default_factory=lambda: target_dir() / "local-stack")
    extra_env: dict[str, str] = field(default_factory=dict)
    bedrock_args: list[str] = field(default_factory=list)
    # GATEWAY_AUTH: "none" (the default: the README's curl calls need no key) or "api_key".
    auth: str = "none"
    quiet: bool = False
    # GATEWAY_ADMIN_TOKEN for admin (docs/console.md): None leaves the admin routes open to this
    # machine (the tests' stacks); `stack.py up` sets a random one per run.
    admin_token: str | None = None
    children: list[Child] = field(default_factory=list)
    queue_url: str = ""
    dlq_url: str = ""
    events_queue_url: str = ""

    # ---- URLs -------------------------------------------------------------------------------
    @property
    def bedrock_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.bedrock}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.moto}"

    @property
    def functions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.functions}"

    def function_url(self, function: str, path: str = "/") -> str:
        """The Function URL emulation of cargo lambda watch: HTTP in, Lambda event to `function`."""
        return f"{self.functions_url}/lambda-url/{function}{path}"

    def console_url(self) -> str:
        """The console (docs/console.md); the admin token rides in the fragment, which the
        browser never sends to a server."""
        url = self.function_url("admin", "/console/")
        return f"{url}#token={self.admin_token}" if self.admin_token else url

    def invoke_url(self, function: str) -> str:
        """Direct invoke (any event JSON), as `cargo lambda invoke` does it."""
        return f"{self.functions_url}/2015-03-31/functions/{function}/invocations"

    # ---- lifecycle ----------------------------------------------------------------------------
    def function_env(self) -> dict[str, str]:
        env = {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL_S3": self.moto_url,
            "AWS_ENDPOINT_URL_SQS": self.moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto_url,
            "GATEWAY_RESULTS_BUCKET": BUCKET,
            "GATEWAY_JOBS_TABLE": TABLE,
            "GATEWAY_JOBS_QUEUE_URL": self.queue_url,
            "GATEWAY_ALLOW_HTTP_WEBHOOKS": "true",
            "GATEWAY_WEBHOOK_SECRET_VALUE": WEBHOOK_SECRET,
            "GATEWAY_JOBS_MAX_RECEIVE_COUNT": str(MAX_RECEIVE_COUNT),
            **CACHE_ENV,
            **BATCH_ENV,
            "GATEWAY_AUTH": self.auth,
            # No web page may spend through the local stack (cross-origin, DNS rebinding).
            "GATEWAY_LOOPBACK_ONLY": "true",
            "GATEWAY_KEYS_TABLE": KEYS_TABLE,
            "GATEWAY_USAGE_TABLE": USAGE_TABLE,
        }
        if self.admin_token:
            env["GATEWAY_ADMIN_TOKEN"] = self.admin_token
        if self.use_bedrock_local:
            env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = self.bedrock_url
            # The control plane (application inference profiles, the live catalog).
            env["AWS_ENDPOINT_URL_BEDROCK"] = self.bedrock_url
            # bedrock-local's built-in demo guardrail, so guardrail paths work in `make dev` too.
            env.update(GATEWAY_GUARDRAIL_ID="demo", GATEWAY_GUARDRAIL_VERSION="1")
        env.update(self.extra_env)
        return env

    def start(self) -> "LocalStack":
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            if self.use_bedrock_local:
                self._start_bedrock_local()
            self._start_moto()
            self._create_resources()
            if self.watch:
                self._start_watch()
                if self.bridge:
                    self._start_bridge()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- the parts ----------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None,
               capture_stdout: bool = False) -> Child:
        log_path = self.log_dir / f"{name}.log"
        log = open(log_path, "ab")
        full_env = dict(os.environ)
        full_env["PATH"] = f"{VENV_BIN}{os.pathsep}{full_env.get('PATH', '')}"
        if env:
            full_env.update(env)
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else log,
            stderr=log,
            start_new_session=True,  # own process group, led by proc.pid
            # If whoever started the stack dies without stopping it (SIGKILL, a crashed test run),
            # the kernel sends the child SIGTERM: nothing of the stack outlives its owner.
            preexec_fn=_die_with_parent,
        )
        log.close()
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def _start_bedrock_local(self) -> None:
        check_port_free(self.ports.bedrock, "BEDROCK_LOCAL_PORT", "bedrock-local")
        binary = Path(os.environ.get("BEDROCK_LOCAL_BIN", target_dir() / "debug" / "bedrock-local"))
        if not binary.exists():
            raise StackError(f"{binary} not found: build it first with `cargo build -p bedrock-local`")
        child = self._spawn(
            "bedrock-local",
            [str(binary), "--host", "127.0.0.1", "--port", str(self.ports.bedrock), *self.bedrock_args],
            env={"AWS_ENDPOINT_URL_S3": self.moto_url, "AWS_ACCESS_KEY_ID": "test",
                 "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": REGION,
                 **{k: os.environ.get(k, v) for k, v in BEDROCK_BATCH_ENV.items()}},
            capture_stdout=True,
        )
        line = _read_first_line(child.proc, timeout=30)
        if not line.startswith("listening on "):
            raise StackError(f"bedrock-local did not start (first line {line!r}); see {child.log_path}")
        # Keep draining stdout so the emulator never blocks on a full pipe.
        threading.Thread(target=_drain, args=(child.proc.stdout, child.log_path), daemon=True).start()
        _wait_http(f"{self.bedrock_url}/_local/health", "bedrock-local", child)

    def _start_moto(self) -> None:
        check_port_free(self.ports.moto, "MOTO_PORT", "moto server")
        moto = VENV_BIN / "moto_server"
        if not moto.exists():
            raise StackError("moto_server not found in .venv: run `make venv`")
        # moto with DynamoDB's number arithmetic (see moto_server.py).
        server = Path(__file__).resolve().parent / "moto_server.py"
        child = self._spawn("moto", [str(VENV_BIN / "python"), str(server), "-H", "127.0.0.1",
                                     "-p", str(self.ports.moto)])
        _wait_http(f"{self.moto_url}/moto-api/", "moto", child)

    def _boto(self, service: str):
        import boto3  # imported late: only the venv has it

        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def _create_resources(self) -> None:
        """Creates what template.yaml declares: bucket, queue with DLQ, jobs table."""
        self._boto("s3").create_bucket(Bucket=BUCKET)
        sqs = self._boto("sqs")
        self.dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.queue_url = sqs.create_queue(
            QueueName=QUEUE,
            Attributes={
                "VisibilityTimeout": str(self.visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                ),
            },
        )["QueueUrl"]
        self.events_queue_url = sqs.create_queue(
            QueueName=EVENTS_QUEUE,
            Attributes={
                "VisibilityTimeout": str(self.visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                ),
            },
        )["QueueUrl"]
        events_arn = sqs.get_queue_attributes(
            QueueUrl=self.events_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._boto("s3").put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={"QueueConfigurations": [{
                "QueueArn": events_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "inbox/"}]}},
            }]},
        )
        ddb = self._boto("dynamodb")
        ddb.create_table(
            TableName=KEYS_TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "key_hash", "AttributeType": "S"},
                                  {"AttributeName": "key_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "key_hash", "KeyType": "HASH"}],
            # async-callback reads a job's key by its ID (the job records only the ID).
            GlobalSecondaryIndexes=[{
                "IndexName": "by-key-id",
                "KeySchema": [{"AttributeName": "key_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
        )
        ddb.create_table(
            TableName=USAGE_TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "key_id", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "key_id", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        ddb.update_time_to_live(
            TableName=USAGE_TABLE,
            TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True},
        )
        ddb.create_table(
            TableName=CACHE_TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        )
        ddb.update_time_to_live(
            TableName=CACHE_TABLE,
            TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True},
        )
        ddb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "job_id", "AttributeType": "S"},
                {"AttributeName": "idempotency_key", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-idempotency-key",
                    "KeySchema": [{"AttributeName": "idempotency_key", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )

    def _start_watch(self) -> None:
        check_port_free(self.ports.functions, "GATEWAY_FUNCTIONS_PORT", "cargo lambda watch")
        if not (VENV_BIN / "cargo-lambda").exists():
            raise StackError("cargo-lambda not found in .venv: run `make venv`")
        env_args: list[str] = []
        for key, value in self.function_env().items():
            env_args += ["--env-var", f"{key}={value}"]
        # The watcher listens on a private port; front.py serves the functions port in front of
        # it (it re-sends a call whose answer the watcher lost: see front.py).
        watch_port = free_port()
        child = self._spawn(
            "cargo-lambda-watch",
            ["cargo", "lambda", "watch", "--invoke-address", "127.0.0.1",
             "--invoke-port", str(watch_port), "--ignore-changes", *env_args],
            env=self.function_env(),
        )
        # The watcher answers once its runtime API is up; the first call to a function builds
        # and starts it, which can take a while on a cold target directory.
        _wait_http(f"http://127.0.0.1:{watch_port}/", "cargo lambda watch", child,
                   accept_any_status=True, timeout=300)
        front = self._spawn("front", [sys.executable, str(ROOT / "infra" / "local" / "front.py"),
                                      str(self.ports.functions), str(watch_port)])
        _wait_http(self.functions_url + "/", "the functions port (front.py)", front,
                   accept_any_status=True, timeout=30)
        _wait_http(self.function_url("invoke", "/v1/models"), "invoke (via cargo lambda watch)",
                   child, timeout=600, build_failure="could not compile")
        # `cargo lambda invoke` defaults to [::1]: forward the IPv6 loopback to the watcher.
        forward = self._spawn("loopback6", [sys.executable, str(ROOT / "infra" / "local" / "loopback6.py"),
                                            str(self.ports.functions)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and forward.proc.poll() is None:
            try:
                socket.create_connection(("::1", self.ports.functions), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

    def _start_bridge(self) -> None:
        """The event-source bridge (bridge.py): SQS -> async-callback, as Lambda's mapping does."""
        self._spawn(
            "bridge",
            [sys.executable, str(ROOT / "infra" / "local" / "bridge.py"),
             "--endpoint-url", self.moto_url,
             "--queue-url", self.queue_url,
             "--queue-url", self.events_queue_url,
             "--invoke-url", self.invoke_url("async-callback"),
             "--region", REGION],
        )

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _read_first_line(proc: subprocess.Popen, timeout: float) -> str:
    result: list[str] = []

    def read() -> None:
        result.append(proc.stdout.readline().decode(errors="replace").strip())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    return result[0] if result else ""


def _drain(stream, log_path: Path) -> None:
    with open(log_path, "ab") as log:
        for chunk in iter(lambda: stream.readline(), b""):
            log.write(chunk)
            log.flush()


def _wait_http(url: str, what: str, child: Child, timeout: float = 60,
               accept_any_status: bool = False, build_failure: str | None = None) -> None:
    """Waits until `url` answers. `build_failure`: a line that, once it appears in the child's
    log, means the wait is hopeless (cargo lambda watch keeps running after a failed build):
    fail at once with the compiler's errors instead of after `timeout`."""
    deadline = time.monotonic() + timeout
    last = ""
    log = child.log_path if build_failure else None
    start = log.stat().st_size if log and log.exists() else 0
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise StackError(f"{what} exited with status {child.proc.returncode}; see {child.log_path}")
        if log and log.exists():
            with open(log, "rb") as f:
                f.seek(start)
                text = f.read().decode("utf-8", "replace")
            if build_failure in text:
                errors = [l for l in text.splitlines() if l.startswith(("error", "  -->"))][:20]
                raise StackError(f"{what}: the build failed:\n" + "\n".join(errors)
                                 + f"\nsee {child.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if accept_any_status or e.code < 500:
                return
            last = f"HTTP {e.code}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
            last = str(e)
        time.sleep(0.2)
    raise StackError(f"{what} did not answer at {url} within {timeout:.0f}s ({last}); see {child.log_path}")


def _print_banner(stack: LocalStack) -> None:
    f = stack.functions_url
    print(
        f"""
Local stack is up.
  functions (cargo lambda watch)  {f}
  bedrock-local                   {stack.bedrock_url if stack.use_bedrock_local else '(off: real Bedrock)'}
  moto (S3, SQS, DynamoDB)        {stack.moto_url}
  logs                            {stack.log_dir}
  console (docs/console.md)       {stack.console_url()}

Try:
  curl -s {stack.function_url('invoke', '/v1/models')}
  curl -s {stack.function_url('invoke', '/v1/models/sonnet')}
  curl -s -X POST {stack.function_url('invoke', '/v1/converse')} -H 'content-type: application/json' \\
       -d '{{"model": "haiku", "messages": [{{"role": "user", "content": [{{"text": "Hello"}}]}}]}}'
  curl -sN -X POST {stack.function_url('stream-url', '/converse')} -H 'content-type: application/json' \\
       -d '{{"model": "haiku", "messages": [{{"role": "user", "content": [{{"text": "Hello"}}]}}]}}'
  curl -s -X POST {stack.function_url('count', '/v1/count')} -H 'content-type: application/json' \\
       -d '{{"model": "sonnet", "messages": [{{"role": "user", "content": [{{"text": "Hello"}}]}}]}}'

API keys (--auth api_key; docs/auth.md): issue one with the admin routes (on AWS: IAM only;
here: this run's admin token, as in the console URL):
  curl -s -X POST {stack.function_url('admin', '/v1/admin/keys')} -H 'content-type: application/json' \\
       -H 'x-gateway-admin-token: {stack.admin_token or ""}' \\
       -d '{{"owner": "me", "limits": {{"requests_per_minute": 60}}}}'

Ctrl-C stops everything.""",
        flush=True,
    )


def _die_with_parent() -> None:
    """In a freshly forked child, before exec: SIGTERM when the parent dies (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop_with_parent() -> None:
    """`make dev` is our parent: if it is killed (SIGTERM to make), we get SIGTERM too (Linux
    PR_SET_PDEATHSIG), and so the stack stops instead of being orphaned."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


# `make dev`'s model timing: about what small Bedrock models show through ConverseStream (first
# token in 0.25-0.6 s, 150-500 output tokens/s: aiperf.ghast.people.aws.dev's Bedrock report,
# rjesh.com/posts/bedrock-model-benchmark), so a streamed answer visibly streams. Larger models
# (Sonnet, Opus) are slower. Tests and the bench start bedrock-local with their own timing.
DEV_TTFT_MS = 400
DEV_TOKENS_PER_SEC = 150


def dev_timing_args(timing: str, env: dict[str, str]) -> list[str]:
    """bedrock-local's timing flags for `stack.py up`; BEDROCK_LOCAL_TTFT_MS and
    BEDROCK_LOCAL_TOKENS_PER_SEC, when set, win (bedrock-local reads them itself)."""
    if timing != "realistic":
        return []
    args = []
    if "BEDROCK_LOCAL_TTFT_MS" not in env:
        args += ["--ttft-ms", str(DEV_TTFT_MS)]
    if "BEDROCK_LOCAL_TOKENS_PER_SEC" not in env:
        args += ["--tokens-per-sec", str(DEV_TOKENS_PER_SEC)]
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the stack and serve until Ctrl-C or SIGTERM")
    up.add_argument("--no-watch", action="store_true", help="start emulators only")
    up.add_argument("--auth", choices=["none", "api_key"], default="none",
                    help="GATEWAY_AUTH for the functions (api_key: issue keys with gateway-admin)")
    up.add_argument("--timing", choices=["realistic", "instant"], default="realistic",
                    help="bedrock-local's pace: realistic (first token after "
                         f"{DEV_TTFT_MS} ms, {DEV_TOKENS_PER_SEC} tokens/s) or instant")
    args = parser.parse_args(argv)

    _stop_with_parent()
    use_local = os.environ.get("LOCAL_BEDROCK", "1") != "0"
    try:
        stack = LocalStack(ports=Ports.from_env(), use_bedrock_local=use_local, watch=not args.no_watch,
                           auth=args.auth, bedrock_args=dev_timing_args(args.timing, dict(os.environ)),
                           admin_token=secrets.token_urlsafe(24))
    except StackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def on_signal(signum, _frame):
        # Raised wherever the main thread is (starting or serving); `finally` stops the children.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        print("starting the local stack (the first build can take a few minutes)...", flush=True)
        stack.start()
        _print_banner(stack)
        while True:
            for child in stack.children:
                if child.proc.poll() is not None:
                    print(f"error: {child.name} exited with status {child.proc.returncode}; "
                          f"see {child.log_path}", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping the local stack...", flush=True)
        return 0
    except StackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
