"""The real Codex CLI (`@openai/codex`, pinned in tools/agents/package.json and installed by
`make agents` with `npm ci`) against the gateway's `/v1/responses`, unchanged: a custom model
provider with `wire_api = "responses"` whose `base_url` is the stream-url function's `/v1`, on
the API-key stack so the key's usage report can be checked.

Codex runs `codex exec` non-interactively (approval `never`) in a throwaway HOME/CODEX_HOME and
work directory; it talks to nothing but the loopback gateway. bedrock-local decides the model's
moves: `use tool exec_command` makes it call Codex's shell tool, with the command given by the
`[[tool_input:{...}]]` marker, and a tool result makes it quote the result back.

The sandbox is `danger-full-access`: Codex's Linux sandbox needs user namespaces (bubblewrap),
which CI containers may not grant; the only command run is the `echo` the prompt dictates.
"""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from stack_fixture import issue_key

ROOT = Path(__file__).resolve().parents[2]
CODEX = ROOT / "tools" / "agents" / "node_modules" / ".bin" / "codex"


@pytest.fixture(scope="module")
def codex_key(auth_stack):
    if not CODEX.exists():
        pytest.fail(f"{CODEX} is missing: run `make agents` (npm ci in tools/agents)")
    return issue_key(auth_stack, "e2e-codex")


def config(stack) -> str:
    base = stack.function_url("stream-url", "/v1")
    return f"""
model = "haiku"
model_provider = "gateway"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.gateway]
name = "Bedrock gateway"
base_url = "{base}"
env_key = "GATEWAY_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false
"""


def codex(stack, key: str, tmp_path: Path, prompt: str) -> list[dict]:
    """Runs `codex exec --json PROMPT`; returns its JSONL events (fails with its output)."""
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(config(stack))
    work = tmp_path / "work"
    work.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(home / ".codex"),
        "GATEWAY_API_KEY": key,
        "NO_PROXY": "127.0.0.1,localhost",
        "RUST_LOG": "error",
    }
    out = subprocess.run(
        [str(CODEX), "exec", "--json", "--skip-git-repo-check", "--cd", str(work), prompt],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, f"codex failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert events, out.stdout + out.stderr
    failed = [e for e in events if e.get("type") in ("error", "turn.failed")]
    assert not failed, failed
    return events


def items(events: list[dict], kind: str) -> list[dict]:
    return [e["item"] for e in events
            if e.get("type") == "item.completed" and e["item"].get("type") == kind]


def turn_usage(events: list[dict]) -> dict:
    [done] = [e for e in events if e.get("type") == "turn.completed"]
    return done["usage"]


def test_codex_plain_tool_and_streamed_prompts_are_charged_to_the_key(auth_stack, codex_key,
                                                                      tmp_path):
    key, key_id = codex_key

    plain = codex(auth_stack, key, tmp_path / "plain", "Say hello.")
    [answer] = items(plain, "agent_message")
    assert answer["text"].startswith("Hello from bedrock-local")
    assert turn_usage(plain)["input_tokens"] > 0 and turn_usage(plain)["output_tokens"] > 0

    tool = codex(auth_stack, key, tmp_path / "tool",
                 'Check the shell. use tool exec_command '
                 '[[tool_input:{"cmd":"echo gateway-tool-ok"}]]')
    [run] = items(tool, "command_execution")
    assert "echo gateway-tool-ok" in run["command"]
    assert run["exit_code"] == 0 and "gateway-tool-ok" in run["aggregated_output"]
    # The second request carried Codex's tool output back and the model quoted it (its first
    # ~30 tokens: Codex's header of the output, which reports the exit code).
    final = items(tool, "agent_message")[-1]["text"]
    assert final.startswith("The exec_command tool returned:")
    assert "Process exited with code 0" in final

    long = codex(auth_stack, key, tmp_path / "stream", "Tell me a story [[len:120]]")
    [story] = items(long, "agent_message")
    # About 120 tokens of bedrock-local's words: 60 to 70 words seen (its seed hashes the request,
    # and Codex's request differs per run). Fewer than 50 means part of the stream was lost.
    assert len(story["text"].split()) >= 50, story["text"]
    assert turn_usage(long)["output_tokens"] >= 100

    r = requests.get(auth_stack.function_url("invoke", "/v1/usage"),
                     headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["key_id"] == key_id
    totals = body["totals"]
    # One Responses call for the plain and the streamed prompt, two for the tool round trip.
    assert totals["requests"] == 4, body
    assert totals["input_tokens"] > 0 and totals["output_tokens"] > 0
    assert Decimal(totals["cost"]) > 0
