"""The console (docs/console.md) in headless Chromium against the local stack.

Debian's `chromium` (installed by `make chromium`, which `make test` runs) driven by Playwright
for Python (pinned in infra/local/requirements.txt; no `playwright install`: the system browser,
offline). One stack for the module: API keys on, the local admin token on, and bedrock-local
with a first-token delay and a slow token rate so a streamed answer is visibly streamed.
Screenshots go to target/console-shots/.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import requests

import stack as stack_module
from stack_fixture import STARTED, _start_stack, issue_key

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = stack_module.target_dir() / "console-shots"
TOKEN = secrets.token_urlsafe(24)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
CONVERSE = {
    "model": "haiku",
    "messages": [{"role": "user", "content": [{"text": "Hello from the console test."}]}],
    "inferenceConfig": {"maxTokens": 40},
}


@pytest.fixture(scope="module")
def console_stack():
    st = _start_stack(
        auth="api_key",
        admin_token=TOKEN,
        visibility_timeout=2,
        extra_env={"GATEWAY_KEY_CACHE_SECONDS": "1"},
        # First token after 700 ms, then 12 tokens a second: a stream the page can be seen reading.
        bedrock_args=["--ttft-ms", "700", "--tokens-per-sec", "12"],
        log_dir=stack_module.target_dir() / "test-stack" / f"{os.getpid()}-console",
    )
    STARTED.append(st)
    yield st
    st.stop()


@pytest.fixture(scope="module")
def browser_context():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    user_data = tempfile.mkdtemp(prefix="console-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            user_data, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 900},
        )
        yield ctx
        ctx.close()
    shutil.rmtree(user_data, ignore_errors=True)


@pytest.fixture()
def page(browser_context, console_stack):
    pg = browser_context.new_page()
    pg.csp_errors = []
    pg.on("console", lambda m: pg.csp_errors.append(m.text)
          if "Content Security Policy" in m.text or m.type == "error" else None)
    yield pg
    pg.close()


def open_console(page, stack, token: str | None = TOKEN) -> None:
    url = stack.function_url("admin", "/console/") + (f"#token={token}" if token else "")
    page.goto(url)


def converse(stack, key: str) -> Decimal:
    r = requests.post(stack.function_url("invoke", "/v1/converse"), json=CONVERSE,
                      headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert r.status_code == 200, r.text
    return Decimal(r.json()["cost"]["total"])


def cents(d: Decimal) -> str:
    return f"${d.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def test_spend_page_totals_match_the_usage_report(console_stack, page):
    a, a_id = issue_key(console_stack, "console-team-a", budget_day="2")
    b, b_id = issue_key(console_stack, "console-team-b", budget_month="30")
    admin_key, _ = issue_key(console_stack, "console-admin", admin=True)
    for key in (a, a, b):
        converse(console_stack, key)

    open_console(page, console_stack)
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#top-table")
    frm, to = page.input_value("#spend-from"), page.input_value("#spend-to")
    r = requests.get(console_stack.function_url("invoke", f"/v1/usage?from={frm}&to={to}"),
                     headers={"Authorization": f"Bearer {admin_key}"}, timeout=60)
    assert r.status_code == 200, r.text
    report = r.json()
    want = Decimal(report["totals"]["cost"])
    assert want > 0
    total = page.locator("#total-cost")
    assert Decimal(total.get_attribute("data-exact")) == want
    assert total.inner_text() == cents(want)
    assert Decimal(page.inner_text("#total-cost-exact")) == want
    assert page.inner_text("#total-requests") == str(report["totals"]["requests"])
    # Each key's row in "Top callers" equals its rows in the report, to the last digit.
    for key_id in (a_id, b_id):
        row = page.locator("#top-table tbody tr", has_text=key_id)
        cells = row.locator("td").all_inner_texts()
        mine = sum(Decimal(x["cost"]) for x in report["data"] if x["key_id"] == key_id)
        assert Decimal(cells[-1]) == mine and cells[-2] == cents(mine), (key_id, cells)
    # Budgets: both keys listed with their period.
    budgets = page.inner_text("#budgets-table")
    assert "console-team-a" in budgets and "day" in budgets
    assert "console-team-b" in budgets and "month" in budgets
    # Every chart has its numbers as a table.
    assert page.locator("figure svg[role=img]").count() == 3
    assert page.locator("figure details table caption").count() == 3
    page.screenshot(path=str(SHOTS / "spend.png"), full_page=True)
    assert not page.csp_errors, page.csp_errors


def test_issue_list_revoke_a_key_in_the_page_and_nothing_is_stored(console_stack, page):
    open_console(page, console_stack)
    page.wait_for_selector("body[data-ready=true]")
    page.click("#tab-keys")
    page.fill("#issue-owner", "console-issued")
    page.fill("#issue-form input[name=budget_day_usd]", "1")
    page.click("#issue-form button[type=submit]")
    page.wait_for_selector("#issued:not([hidden])")
    key = page.inner_text("#issued-key")
    key_id = page.get_attribute("#issued-key", "data-key-id")
    assert key.startswith("gwk_") and key_id.startswith("key_")
    row = page.locator("#keys-table tbody tr", has_text=key_id)
    row.wait_for()
    assert "console-issued" in row.inner_text() and "active" in row.inner_text()
    models = console_stack.function_url("invoke", "/v1/models")
    assert requests.get(models, headers={"x-api-key": key}, timeout=30).status_code == 200

    # (d) the secret is nowhere but the page: no storage, no cookies, not in the URL.
    stored = page.evaluate("""async () => ({
        local: JSON.stringify(Object.entries(localStorage)),
        session: JSON.stringify(Object.entries(sessionStorage)),
        cookie: document.cookie,
        idb: (await indexedDB.databases()).length,
        caches: (await caches.keys()).length,
    })""")
    assert stored == {"local": "[]", "session": "[]", "cookie": "", "idb": 0, "caches": 0}, stored
    assert page.context.cookies() == []
    assert key not in page.url and TOKEN not in page.url

    page.click("#issued-hide")
    assert page.inner_text("#issued-key") == ""
    page.screenshot(path=str(SHOTS / "keys.png"), full_page=True)

    # Change its limits and models through the page (PATCH).
    page.click(f"button[aria-label='Change {key_id}']")
    page.fill("#change-form input[name=requests_per_minute]", "30")
    page.fill("#change-form input[name=models]", "haiku")
    page.click("#change-form button[type=submit]")
    row = page.locator("#keys-table tbody tr", has_text=key_id).filter(has_text="30 rpm")
    row.wait_for()
    assert "haiku" in row.inner_text()

    page.click(f"button[aria-label='Revoke {key_id}']")
    page.locator("#keys-table tbody tr", has_text=key_id).filter(has_text="revoked").wait_for()
    time.sleep(1.5)  # GATEWAY_KEY_CACHE_SECONDS=1
    r = requests.get(models, headers={"x-api-key": key}, timeout=30)
    assert r.status_code in (401, 403), r.text
    assert not page.csp_errors, page.csp_errors


def test_keys_page_shows_the_admin_routes_errors_as_they_are(console_stack, page):
    open_console(page, console_stack)
    page.wait_for_selector("body[data-ready=true]")
    page.click("#tab-keys")
    page.fill("#issue-owner", "console-bad")
    page.fill("#issue-form input[name=requests_per_minute]", "0")
    page.click("#issue-form button[type=submit]")
    err = page.locator("#keys-error")
    err.wait_for()
    text = err.inner_text()
    assert text.startswith("HTTP 400") and '"type": "invalid_request"' in text, text


def test_playground_streams_text_before_the_end_then_the_cost(console_stack, page):
    key, _ = issue_key(console_stack, "console-playground")
    open_console(page, console_stack)
    page.wait_for_selector("body[data-ready=true]")
    page.click("#tab-playground")
    page.fill("#pg-key", key)
    page.click("#pg-key-form button[type=submit]")
    page.wait_for_selector("#pg-model option", state="attached")
    assert page.input_value("#pg-key") == "", "the key leaves the DOM once read"
    options = page.locator("#pg-model option").all_inner_texts()
    haiku = next(o for o in options if "haiku" in o.lower())
    assert "per 1M tokens" in haiku
    page.select_option("#pg-model", label=haiku)
    page.fill("#pg-system", "Answer briefly.")
    page.fill("#pg-user", "Tell me about streaming, in a few sentences.")
    page.locator("#pg-compare input").nth(1).check()
    page.click("#pg-estimate")
    page.wait_for_selector("#estimates-table")
    assert page.locator("#estimates-table tbody tr").count() == 2

    page.click("#pg-send")
    # Text is on the page while the stream is still open, and the cost is not yet.
    page.wait_for_function("""() => { const a = document.getElementById('pg-answer');
        return a.dataset.state === 'streaming' && a.textContent.length > 0; }""", timeout=30000)
    partial = page.inner_text("#pg-answer")
    assert page.locator("#pg-cost").count() == 0
    page.wait_for_selector("#pg-answer[data-state=done]", timeout=60000)
    final = page.inner_text("#pg-answer")
    assert len(final) > len(partial) and final.startswith(partial.strip()[:10])
    cost = page.inner_text("#pg-cost")
    assert Decimal(cost) > 0, cost
    assert page.inner_text("#pg-ttft").endswith(" ms")
    assert int(page.inner_text("#pg-output")) > 0
    page.screenshot(path=str(SHOTS / "playground.png"), full_page=True)
    assert not page.csp_errors, page.csp_errors


def test_playground_shows_the_guardrail_report(console_stack, page):
    key, _ = issue_key(console_stack, "console-guardrail")
    open_console(page, console_stack)
    page.wait_for_selector("body[data-ready=true]")
    page.click("#tab-playground")
    page.fill("#pg-key", key)
    page.click("#pg-key-form button[type=submit]")
    page.wait_for_selector("#pg-model option", state="attached")
    # bedrock-local's demo guardrail (the local stack's GATEWAY_GUARDRAIL_ID) denies this topic.
    page.fill("#pg-user", "Which stocks should I invest in?")
    page.click("#pg-send")
    page.wait_for_selector("#pg-answer[data-state=done]", timeout=60000)
    assert '"action":"intervened"' in page.inner_text("#pg-guardrail")
    assert page.inner_text("#pg-finish") == "content_filter"
    assert Decimal(page.inner_text("#pg-cost")) >= 0


def test_console_routes_refuse_callers_without_admin_rights(console_stack, page):
    admin_key, _ = issue_key(console_stack, "console-admin-key", admin=True)
    for path in ("/v1/admin/keys", "/v1/admin/usage", "/console/config.json"):
        url = console_stack.function_url("admin", path)
        for headers in ({}, {"x-gateway-admin-token": TOKEN + "x"},
                        {"Authorization": f"Bearer {admin_key}"}, {"x-api-key": admin_key}):
            r = requests.get(url, headers=headers, timeout=30)
            assert r.status_code == 401, (path, headers, r.text)
            assert r.json()["error"]["type"] == "unauthorized"
        assert requests.get(url, headers={"x-gateway-admin-token": TOKEN},
                            timeout=30).status_code == 200, path
    r = requests.post(console_stack.function_url("admin", "/v1/admin/keys"),
                      json={"owner": "intruder"}, timeout=30)
    assert r.status_code == 401, r.text
    # The page without the token: the refusal is shown, no data.
    open_console(page, console_stack, token=None)
    page.wait_for_selector("#access-error")
    assert "HTTP 401" in page.inner_text("#access-error")
    assert page.locator("#top-table").count() == 0


def test_console_files_carry_their_type_and_a_strict_csp(console_stack):
    for path, ctype in (("/console/", "text/html"), ("/console/app.js", "text/javascript"),
                        ("/console/style.css", "text/css"), ("/console/favicon.svg", "image/svg+xml")):
        r = requests.get(console_stack.function_url("admin", path), timeout=30)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-type"].startswith(ctype), path
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-cache"
    r = requests.get(console_stack.function_url("admin", "/console/nope.js"), timeout=30)
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"
