"""Every function survives a response it could not deliver (issue 21, item 4).

Each function binary runs against a small Lambda Runtime API written here (on a free loopback
port, stopped by the test): the first event's response is cut (the connection is reset as soon
as the function starts posting it, as when a Function URL client gives up or `cargo lambda
watch` drops the exchange); the second event must still be asked for and answered by the same
process. Before the fix `lambda_runtime` returned the error out of `main` and the process exited.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from runtime_api import BIN, RuntimeApi, function_env, http_event

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
    env = function_env(function, api.address)
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
