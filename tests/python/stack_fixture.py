"""A pytest fixture that starts the local stack (infra/local/stack.py) on free loopback ports.

Import it into a test module (`from stack_fixture import local_stack`) to share one stack across
a session. The stack stops its processes by their own pids when the session ends.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

import stack as stack_module  # noqa: E402


@pytest.fixture(scope="session")
def local_stack():
    st = stack_module.LocalStack(
        ports=stack_module.Ports.free(),
        # Short, so job retries (a batch item failure comes back after the visibility timeout)
        # fit in a test; nothing else in the suite depends on the 30 s default.
        visibility_timeout=2,
        log_dir=ROOT / "target" / "test-stack" / str(os.getpid()),
    )
    try:
        st.start()
    except stack_module.StackError:
        for name in ("bedrock-local", "moto", "cargo-lambda-watch"):
            print(f"--- {name} log ---\n{st.log_tail(name)}")
        raise
    yield st
    st.stop()
