"""The local stack behind `make dev`: it serves, it reports port clashes clearly, and it leaves
no process behind when stopped by Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from stack_fixture import ROOT, stack_module

STACK_PY = ROOT / "infra" / "local" / "stack.py"


def test_models_list_through_cargo_lambda_watch(local_stack):  # noqa: F811
    resp = requests.get(local_stack.function_url("invoke", "/v1/models"), timeout=60)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    ids = [m["id"] for m in resp.json()["models"]]
    assert "anthropic.claude-sonnet-4-5-20250929-v1:0" in ids


@pytest.mark.parametrize("function, event", [
    ("invoke", "apigw-v2-get-models.json"),
    ("count", "apigw-v2-post-count.json"),
])
def test_cargo_lambda_invoke_works_as_its_docs_show(local_stack, function, event):  # noqa: F811
    """`cargo lambda invoke <function> --data-file <event>` with cargo-lambda's default address
    ([::1]); only the port is named, since the test stack takes a free one instead of 9000."""
    out = subprocess.run(
        [str(stack_module.VENV_BIN / "cargo-lambda"), "lambda", "invoke", function,
         "--invoke-port", str(local_stack.ports.functions),
         "--data-file", str(ROOT / "tests" / "fixtures" / "events" / event)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    import json
    reply = json.loads(out.stdout)
    assert reply["statusCode"] == 200, reply


def test_resources_of_the_template_exist(local_stack):  # noqa: F811
    s3 = local_stack._boto("s3")
    assert stack_module.BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    sqs = local_stack._boto("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=local_stack.queue_url, AttributeNames=["All"])["Attributes"]
    assert "RedrivePolicy" in attrs
    ddb = local_stack._boto("dynamodb")
    assert ddb.describe_table(TableName=stack_module.TABLE)["Table"]["TableStatus"] == "ACTIVE"


def test_port_in_use_names_the_port_and_the_variable(monkeypatch):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        monkeypatch.setenv("MOTO_PORT", str(port))
        ports = stack_module.Ports.from_env()
        st = stack_module.LocalStack(ports=ports, use_bedrock_local=False, watch=False,
                                     log_dir=ROOT / "target" / "test-stack-clash")
        with pytest.raises(stack_module.StackError) as err:
            st.start()
        assert str(port) in str(err.value)
        assert "MOTO_PORT" in str(err.value)
        assert not st.children, "nothing is left running after a failed start"


def test_bad_port_value_is_named():
    env = dict(os.environ, BEDROCK_LOCAL_PORT="ninety")
    out = subprocess.run([sys.executable, str(STACK_PY), "up"], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2
    assert "BEDROCK_LOCAL_PORT" in out.stderr


def _processes_mentioning(needle: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return pids


def _port_listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_make_dev_stops_everything_on_signal(sig):
    """What `make dev` runs, stopped the way a user stops it: nothing of the stack survives."""
    ports = stack_module.Ports.free()
    env = dict(os.environ, GATEWAY_FUNCTIONS_PORT=str(ports.functions),
               BEDROCK_LOCAL_PORT=str(ports.bedrock), MOTO_PORT=str(ports.moto))
    proc = subprocess.Popen([sys.executable, str(STACK_PY), "up"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(output)
        assert "Local stack is up" in text, text
        # The printed curl works as printed.
        curl = next(l.strip() for l in output if l.strip().startswith("curl -s http"))
        url = curl.split()[-1]
        assert requests.get(url, timeout=60).json()["models"]
        # The console's URL (docs/console.md) carries this run's admin token in its fragment;
        # the admin routes refuse a caller without it.
        console = next(l.split()[-1] for l in output if l.strip().startswith("console (docs/console.md)"))
        page, _, token = console.partition("#token=")
        assert len(token) >= 16 and requests.get(page, timeout=60).status_code == 200, console
        keys = page.replace("/console/", "/v1/admin/keys")
        assert requests.get(keys, timeout=60).status_code == 401
        assert requests.get(keys, headers={"x-gateway-admin-token": token}, timeout=60).status_code == 200
        # bedrock-local runs at make dev's realistic pace, so a streamed answer visibly streams.
        assert _processes_mentioning(f"--port {ports.bedrock} --ttft-ms 400"), "no realistic timing"
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(output)
    for port in (ports.functions, ports.bedrock, ports.moto):
        assert not _port_listening(port), f"something still listens on {port}"
    assert not _processes_mentioning(f"--port {ports.bedrock}"), "bedrock-local survived"
    assert not _processes_mentioning(f"-p {ports.moto}"), "moto survived"
    assert not _processes_mentioning(f"--invoke-port {ports.functions}"), "cargo lambda watch survived"


def test_stack_dies_with_a_killed_owner():
    """A test run killed outright (SIGKILL: no teardown runs) still leaves nothing behind."""
    ports = stack_module.Ports.free()
    script = (
        "import sys, time; sys.path.insert(0, %r); import stack as s; "
        "st = s.LocalStack(ports=s.Ports(functions=%d, bedrock=%d, moto=%d), watch=False, "
        "log_dir=s.ROOT / 'target' / 'test-stack-killed'); st.start(); print('up', flush=True); "
        "time.sleep(600)"
    ) % (str(ROOT / "infra" / "local"), ports.functions, ports.bedrock, ports.moto)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "up"
        assert _port_listening(ports.bedrock) and _port_listening(ports.moto)
        owner.kill()
        owner.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (_port_listening(ports.bedrock) or _port_listening(ports.moto)):
            time.sleep(0.2)
        assert not _port_listening(ports.bedrock), "bedrock-local survived its owner"
        assert not _port_listening(ports.moto), "moto survived its owner"
    finally:
        if owner.poll() is None:
            owner.kill()


def test_a_failed_build_under_cargo_lambda_watch_fails_the_start_at_once(tmp_path):
    """cargo lambda watch keeps running after a function fails to compile; the stack must say
    so with the compiler's errors instead of waiting out its 600 s timeout."""
    log = tmp_path / "cargo-lambda-watch.log"
    log.write_text("old run: error: could not compile `x`\n")  # before the wait: ignored
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child = stack_module.Child("cargo-lambda-watch", proc, log)
    def build_fails_later():
        time.sleep(0.5)
        with open(log, "a") as f:
            f.write("error[E0583]: file not found for module `admin`\n"
                    "  --> shared/core/src/auth/mod.rs:18:1\n"
                    "error: could not compile `inference-core` (lib) due to 1 previous error\n")

    threading.Thread(target=build_fails_later, daemon=True).start()
    try:
        # Nothing listens on this port: without the log check this would wait 30 s.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(stack_module.StackError) as e:
            stack_module._wait_http(f"http://127.0.0.1:{port}/", "invoke", child, timeout=30,
                                    build_failure="could not compile")
        assert time.monotonic() - t0 < 5
        assert "E0583" in str(e.value) and "shared/core/src/auth/mod.rs:18:1" in str(e.value)
    finally:
        proc.kill()
        proc.wait()


def test_make_dev_timing_is_realistic_unless_told_otherwise():
    """`stack.py up` paces bedrock-local like a real model; the env variables and --timing win."""
    assert stack_module.dev_timing_args("realistic", {}) == [
        "--ttft-ms", "400", "--tokens-per-sec", "150"]
    assert stack_module.dev_timing_args("realistic", {"BEDROCK_LOCAL_TTFT_MS": "0"}) == [
        "--tokens-per-sec", "150"]
    assert stack_module.dev_timing_args("instant", {}) == []
