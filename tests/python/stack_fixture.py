"""A pytest fixture that starts the local stack (infra/local/stack.py) on free loopback ports.

Registered once in conftest.py, so one stack serves the whole session (importing the fixture into
test modules would make a separate fixture, and a separate stack, per module). The stack stops
its processes by their own pids when the session ends.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

import stack as stack_module  # noqa: E402


# Stacks started in this session: `clear_armed_faults` (conftest.py, after every test) disarms
# their emulators, so a fault one test armed and did not use up cannot reach the next test.
STARTED: list = []


def clear_armed_faults() -> None:
    for st in STARTED:
        try:
            requests.delete(f"{st.bedrock_url}/_local/faults", timeout=5)
        except requests.RequestException:
            pass  # a stack that is down fails its own tests, with its own message


@pytest.fixture(scope="session")
def local_stack():
    st = stack_module.LocalStack(
        ports=stack_module.Ports.free(),
        # Short, so job retries (a batch item failure comes back after the visibility timeout)
        # fit in a test; nothing else in the suite depends on the 30 s default.
        visibility_timeout=2,
        log_dir=stack_module.target_dir() / "test-stack" / str(os.getpid()),
    )
    try:
        st.start()
    except stack_module.StackError:
        for name in ("bedrock-local", "moto", "cargo-lambda-watch"):
            print(f"--- {name} log ---\n{st.log_tail(name)}")
        raise
    STARTED.append(st)
    yield st
    st.stop()


def _start_stack(**kwargs) -> "stack_module.LocalStack":
    st = stack_module.LocalStack(ports=stack_module.Ports.free(), **kwargs)
    try:
        st.start()
    except stack_module.StackError:
        for name in ("bedrock-local", "moto", "cargo-lambda-watch"):
            print(f"--- {name} log ---\n{st.log_tail(name)}")
        raise
    return st


@pytest.fixture(scope="session")
def auth_stack():
    """A second local stack with `GATEWAY_AUTH=api_key` (docs/auth.md): every function needs a
    key. Issue keys with `issue_key(auth_stack, ...)`. Key records are cached for 1 s, so a
    revocation is seen one second later. Jobs run (bridge on, 2 s visibility timeout)."""
    st = _start_stack(
        auth="api_key",
        # Jobs run on it too (charged to their keys): the SQS bridge, and a short visibility
        # timeout so a retried delivery comes back within seconds (as in `local_stack`).
        visibility_timeout=2,
        extra_env={"GATEWAY_KEY_CACHE_SECONDS": "1"},
        log_dir=stack_module.target_dir() / "test-stack" / f"{os.getpid()}-auth",
    )
    STARTED.append(st)
    yield st
    st.stop()


ADMIN_BIN = Path(os.environ.get("GATEWAY_ADMIN_BIN", stack_module.target_dir() / "debug" / "gateway-admin"))


def admin_cli(stack, *args: str) -> dict:
    """Runs `gateway-admin --json <args>` against the stack's moto; returns its JSON output."""
    import json
    import subprocess

    if not ADMIN_BIN.exists():
        raise RuntimeError(f"{ADMIN_BIN} not found: run `cargo build --workspace --bins`")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": stack_module.REGION,
        "GATEWAY_KEYS_TABLE": stack_module.KEYS_TABLE,
        "GATEWAY_USAGE_TABLE": stack_module.USAGE_TABLE,
    }
    out = subprocess.run(
        [str(ADMIN_BIN), "--endpoint-url", stack.moto_url, "--json", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"gateway-admin {' '.join(args)} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def issue_key(stack, owner: str = "tests", *, models: list[str] = (), admin: bool = False,
              budget_day: str | None = None, budget_month: str | None = None,
              rpm: int | None = None, tpm: int | None = None) -> tuple[str, str]:
    """Issues a key with the admin CLI; returns `(key, key_id)`. Limits as `gateway-admin issue`."""
    args = ["issue", "--owner", owner]
    for m in models:
        args += ["--model", m]
    if admin:
        args.append("--admin")
    for flag, value in (("--budget-day", budget_day), ("--budget-month", budget_month),
                        ("--rpm", rpm), ("--tpm", tpm)):
        if value is not None:
            args += [flag, str(value)]
    out = admin_cli(stack, *args)
    return out["key"], out["record"]["id"]
