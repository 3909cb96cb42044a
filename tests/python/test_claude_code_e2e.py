"""The real Claude Code CLI (`@anthropic-ai/claude-code`, pinned in tools/agents/claude-code and
installed by `make agents-claude-code`, a prerequisite of `make test-python`) against the
stream-url function's `/v1/messages`, unchanged: `ANTHROPIC_BASE_URL` is the Function URL base
and `ANTHROPIC_API_KEY` a gateway key (GATEWAY_AUTH=api_key stack). It runs in print mode with a
throwaway HOME and every nonessential call off.

Claude Code sends fields and `anthropic-beta` flags Bedrock does not take (docs/compat.md,
"Claude Code"); bedrock-local refuses unknown beta flags and beta-gated fields sent without
their beta as Bedrock does, so these runs fail unless the gateway fits the request. The prompts
use bedrock-local's conventions: `use tool Read [[arg:file_path=...]]` makes the model call
Claude Code's Read tool on a given file, and a tool result is quoted back in the answer.
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import requests

import openapi_check
from stack_fixture import issue_key

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / "tools" / "agents" / "claude-code" / "node_modules" / ".bin" / "claude"
MODEL = "claude-haiku-4-5-20251001"


@pytest.fixture(scope="module")
def key(auth_stack):  # noqa: F811
    assert CLAUDE.exists(), f"{CLAUDE} is missing: run `make agents-claude-code`"
    return issue_key(auth_stack, "e2e-claude-code", budget_day="5")


def claude(stack, key: str, tmp_path: Path, prompt: str, *args: str) -> subprocess.CompletedProcess:
    """Runs `claude -p PROMPT ARGS` in `tmp_path/work` with a throwaway HOME and only the
    environment it needs."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": stack.function_url("stream-url", ""),
        "ANTHROPIC_API_KEY": key,
        "ANTHROPIC_MODEL": MODEL,
        # Whatever Claude Code uses a small, fast model for (titles, topics) is Haiku 4.5 too.
        "ANTHROPIC_SMALL_FAST_MODEL": MODEL,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": MODEL,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1",
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(CLAUDE), "-p", prompt, *args],
        cwd=work, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )


def result_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, f"claude failed ({proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
    out = json.loads(proc.stdout)
    assert out["type"] == "result" and out["subtype"] == "success", out
    assert out["is_error"] is False, out
    return out


def test_plain_prompt(auth_stack, key, tmp_path):  # noqa: F811
    out = result_of(claude(auth_stack, key[0], tmp_path, "Say hello.", "--output-format", "json"))
    assert "Hello from bedrock-local" in out["result"], out["result"]
    assert out["usage"]["output_tokens"] > 0


def test_tool_call_reads_a_file(auth_stack, key, tmp_path):  # noqa: F811
    (tmp_path / "work").mkdir()
    notes = tmp_path / "work" / "notes.txt"
    notes.write_text("the launch code is amber-falcon-42\n")
    prompt = f"Read my notes. use tool Read [[arg:file_path={notes}]]"
    out = result_of(claude(auth_stack, key[0], tmp_path, prompt, "--output-format", "json",
                           "--allowedTools", "Read"))
    # The second turn carries Claude Code's tool result, which the model quotes back.
    assert out["num_turns"] >= 2, out
    assert "The Read tool returned" in out["result"], out["result"]
    assert "amber-falcon-42" in out["result"], out["result"]


def test_streamed_answer(auth_stack, key, tmp_path):  # noqa: F811
    proc = claude(auth_stack, key[0], tmp_path, "Tell me something. [[len:60]]",
                  "--output-format", "stream-json", "--verbose", "--include-partial-messages")
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    deltas = [e for e in events if e.get("type") == "stream_event"
              and e["event"].get("type") == "content_block_delta"
              and e["event"]["delta"].get("type") == "text_delta"]
    assert len(deltas) > 3, [e.get("type") for e in events]
    final = events[-1]
    assert final["type"] == "result" and final["subtype"] == "success", final
    assert "Hello from bedrock-local" in final["result"]


def test_usage_report_shows_the_runs(auth_stack, key, tmp_path):  # noqa: F811
    """After a run, the key's usage report (`GET /v1/usage` on invoke) has its requests, tokens
    (Claude Code marks its system prompt for caching: reads and writes are counted) and cost."""
    result_of(claude(auth_stack, key[0], tmp_path, "Say hello again.", "--output-format", "json"))
    r = requests.get(auth_stack.function_url("invoke", "/v1/usage"),
                     headers={"x-api-key": key[0]}, timeout=60)
    body = openapi_check.validate("GET", "/v1/usage", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    totals = body["totals"]
    assert totals["requests"] >= 1
    # Claude Code puts a cache point on its last message, so nearly all input is a cache write
    # (first call) or read (repeats): `input_tokens` counts only what is left, maybe nothing.
    assert totals["cache_tokens"] > 0 and totals["output_tokens"] > 0, totals
    assert Decimal(totals["cost"]) > 0
    assert {row["model"] for row in body["data"]} <= {
        "anthropic.claude-haiku-4-5-20251001-v1:0"}, body["data"]


def claude_code_request(stream: bool) -> tuple[dict, dict]:
    """What Claude Code 2.1.332 sends (captured; its long system prompt and tool list cut
    short): its beta flags, `context_management`, `thinking.display`, a deferred tool."""
    headers = {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,"
                          "context-management-2025-06-27,thinking-token-count-2026-05-13,"
                          "advanced-tool-use-2025-11-20",
    }
    body = {
        "model": MODEL, "max_tokens": 32000, "stream": stream,
        "system": [{"type": "text", "text": "You are a coding agent.",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "tools": [{"name": "Read", "description": "Read a file.",
                   "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}},
                                    "required": ["file_path"]}},
                  {"name": "Later", "description": "Deferred.", "defer_loading": True,
                   "input_schema": {"type": "object"}}],
        "metadata": {"user_id": "{\"device_id\":\"d\"}"},
        "thinking": {"type": "enabled", "budget_tokens": 31999, "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    }
    return headers, body


DROPPED = ["thinking.display", "tools[].defer_loading", "anthropic-beta:claude-code-20250219",
           "anthropic-beta:thinking-token-count-2026-05-13",
           "anthropic-beta:advanced-tool-use-2025-11-20"]


def dropped_names(resp: requests.Response) -> list[str]:
    return [item.split(" (", 1)[0] for item in resp.headers["x-gateway-dropped"].split(", ")]


@pytest.mark.parametrize("stream", [False, True])
def test_dropped_header_names_what_was_left_out(auth_stack, key, stream):  # noqa: F811
    headers, body = claude_code_request(stream)
    headers["x-api-key"] = key[0]
    r = requests.post(auth_stack.function_url("stream-url", "/v1/messages?beta=true"),
                      json=body, headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    assert dropped_names(r) == DROPPED
    if not stream:
        openapi_check.validate("POST", "/v1/messages", r.status_code, r.json(), r.headers)
        # context_management was forwarded (Haiku 4.5 offers its beta), not dropped.
        assert r.json()["usage"]["input_tokens"] > 0
    else:
        assert "event: message_stop" in r.text


def test_count_tokens_takes_the_same_request(auth_stack, key):  # noqa: F811
    headers, body = claude_code_request(False)
    headers["x-api-key"] = key[0]
    for k in ("max_tokens", "stream", "metadata"):
        body.pop(k)
    r = requests.post(auth_stack.function_url("stream-url", "/v1/messages/count_tokens?beta=true"),
                      json=body, headers=headers, timeout=120)
    openapi_check.validate("POST", "/v1/messages/count_tokens", r.status_code, r.json(), r.headers)
    assert r.status_code == 200, r.text
    assert r.json()["input_tokens"] > 0
    assert dropped_names(r) == DROPPED
