"""Offline deployability checks for template.yaml (issue 11).

Runs with the project venv only (`.venv/bin/pytest tests/python/test_template.py -q`): no AWS
account, no network. What it guards:

- cfn-lint reports nothing (errors, warnings) for template.yaml;
- every function builds a real workspace binary with cargo-lambda, on provided.al2023;
- every GATEWAY_* variable the code reads (docs/configuration.md) is set by the template or has a
  documented default, and the template sets no GATEWAY_* variable the doc does not know;
- IAM: no wildcard actions, no `Resource: "*"` except for actions that cannot be scoped, Bedrock
  actions exist in the service authorization reference, each function gets only its Bedrock actions;
- the HTTP API routes in docs/openapi.yaml and the template's HttpApi events are the same set;
- the async plumbing keeps the properties its correctness depends on (visibility timeout, DLQ,
  partial batch responses, bucket lockdown, table keys and TTL).

docs/configuration.md and docs/openapi.yaml are written by other people: when one is missing the
tests that need it FAIL (they do not skip), so a missing contract is visible.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CONFIG_DOC = ROOT / "docs" / "configuration.md"
OPENAPI = ROOT / "docs" / "openapi.yaml"

# Actions of the Amazon Bedrock service (prefix `bedrock`) that a runtime gateway could use, as
# listed in AWS's Service Authorization Reference, "Actions, resources, and condition keys for
# Amazon Bedrock" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html),
# cross-checked against cfn-lint's copy of the IAM action list (cfnlint/data/AdditionalSpecs/Policies.json).
# Converse and StartAsyncInvoke are authorised by InvokeModel, ConverseStream by
# InvokeModelWithResponseStream: there is no bedrock:Converse*, bedrock:StartAsyncInvoke or
# bedrock:InvokeModelAsync action.
VALID_BEDROCK_ACTIONS = {
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
    "bedrock:CountTokens",
    "bedrock:ApplyGuardrail",
    "bedrock:GetAsyncInvoke",
    "bedrock:ListAsyncInvokes",
    "bedrock:GetFoundationModel",
    "bedrock:ListFoundationModels",
    "bedrock:GetInferenceProfile",
    "bedrock:ListInferenceProfiles",
    "bedrock:GetGuardrail",
    "bedrock:CreateModelInvocationJob",
    "bedrock:GetModelInvocationJob",
    "bedrock:StopModelInvocationJob",
}
KNOWN_INVALID_BEDROCK_ACTIONS = {
    "bedrock:Converse",
    "bedrock:ConverseStream",
    "bedrock:InvokeModelAsync",
    "bedrock:StartAsyncInvoke",
}

# Actions whose service authorization reference entry lists no resource type: `Resource: "*"` is
# the only way to grant them, so it is allowed for these and nothing else.
UNSCOPABLE_ACTIONS = {
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "bedrock:ListAsyncInvokes",
    "bedrock:ListFoundationModels",
    "bedrock:ListInferenceProfiles",
}

# What each function may do with Bedrock (least privilege, see template comments).
# Every model-calling function reads the control plane: an application inference profile's model
# (GetInferenceProfile) and the live catalog (ListFoundationModels, ListInferenceProfiles).
CONTROL_PLANE = {"bedrock:GetInferenceProfile", "bedrock:ListFoundationModels",
                 "bedrock:ListInferenceProfiles"}
EXPECTED_BEDROCK_ACTIONS = {
    "invoke": {"bedrock:InvokeModel", "bedrock:ApplyGuardrail"} | CONTROL_PLANE,
    "stream-url": {"bedrock:InvokeModelWithResponseStream", "bedrock:ApplyGuardrail"} | CONTROL_PLANE,
    "count": {"bedrock:CountTokens"} | CONTROL_PLANE,
    # GetAsyncInvoke: video jobs are polled until they finish; the ModelInvocationJob actions:
    # jobs planned as Bedrock batch (docs/jobs.md).
    "async-callback": {"bedrock:InvokeModel", "bedrock:ApplyGuardrail", "bedrock:GetAsyncInvoke",
                       "bedrock:CreateModelInvocationJob", "bedrock:GetModelInvocationJob",
                       "bedrock:StopModelInvocationJob"}
    | CONTROL_PLANE,
    # Key administration only (docs/auth.md): no model access at all.
    "admin": set(),
}

# Logical IDs the local stack (infra/local/stack.py) creates under its own physical names.
SHARED_LOGICAL_IDS = {"ResultsBucket", "JobsQueue", "JobsDeadLetterQueue", "JobsTable"}


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    assert TEMPLATE.exists(), f"{TEMPLATE} is missing"
    # cfn-lint's loader understands the short-form tags (!Ref, !Sub, !If ...) and returns the
    # long form ({"Ref": ...}, {"Fn::Sub": ...}).
    return cfn_yaml.load(str(TEMPLATE))


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: res
        for name, res in template["Resources"].items()
        if res.get("Type") == "AWS::Serverless::Function"
    }


def fn_prop(template: dict[str, Any], res: dict[str, Any], key: str) -> Any:
    """A function property with SAM Globals applied (resource value wins)."""
    props = res.get("Properties", {})
    if key in props:
        return props[key]
    return template.get("Globals", {}).get("Function", {}).get(key)


def binary_of(res: dict[str, Any]) -> str:
    return res.get("Metadata", {}).get("BuildProperties", {}).get("Binary")


def workspace_binaries() -> set[str]:
    names: set[str] = set()
    for manifest in sorted((ROOT / "functions").glob("*/Cargo.toml")):
        data = tomllib.loads(manifest.read_text())
        bins = data.get("bin", [])
        if bins:
            names.update(b["name"] for b in bins if "name" in b)
        elif "package" in data and (manifest.parent / "src" / "main.rs").exists():
            names.add(data["package"]["name"])
    return names


def is_conditional_absent(value: Any) -> bool:
    """True when the value is an Fn::If one of whose branches is AWS::NoValue."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, a, b = value["Fn::If"]
        return any(
            x == {"Ref": "AWS::NoValue"} or is_conditional_absent(x) for x in (a, b)
        )
    return False


def if_branches(value: Any) -> Iterator[Any]:
    """Every concrete alternative of a value that may be an (nested) Fn::If."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, a, b = value["Fn::If"]
        yield from if_branches(a)
        yield from if_branches(b)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_statements(res: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in as_list(res.get("Properties", {}).get("Policies", [])):
        for doc in if_branches(policy):
            if isinstance(doc, dict) and "Statement" in doc:
                for st in as_list(doc["Statement"]):
                    yield from if_branches(st)
            # A SAM policy template or a managed policy name/ARN: not an inline statement.


def identity_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner, statement) for every identity-based policy statement the template writes."""
    for name, res in functions(template).items():
        for st in function_statements(res):
            yield name, st
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::IAM::Role":
            for pol in as_list(props.get("Policies", [])):
                for p in if_branches(pol):
                    for st in as_list(p.get("PolicyDocument", {}).get("Statement", [])):
                        yield name, st
        if res.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for st in as_list(props.get("PolicyDocument", {}).get("Statement", [])):
                yield name, st


def actions_of(st: dict[str, Any]) -> list[str]:
    return [a for a in as_list(st.get("Action", [])) if isinstance(a, str)]


def resources_of(st: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for r in as_list(st.get("Resource", [])):
        out.extend(if_branches(r))
    return out


# ------------------------------------------------------------------------------------------------
# cfn-lint
# ------------------------------------------------------------------------------------------------
def test_cfn_lint_reports_nothing() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    assert cfn_lint.exists(), f"cfn-lint not found next to {sys.executable}: run `make venv`"
    proc = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    report = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and not report, f"cfn-lint (rc={proc.returncode}):\n{report}"


# ------------------------------------------------------------------------------------------------
# build
# ------------------------------------------------------------------------------------------------
def test_every_function_builds_a_workspace_binary(template: dict[str, Any]) -> None:
    bins = workspace_binaries()
    assert bins, "no [[bin]] found in functions/*/Cargo.toml"
    fns = functions(template)
    assert fns, "template declares no AWS::Serverless::Function"
    deployed = set()
    for name, res in fns.items():
        meta = res.get("Metadata", {})
        assert meta.get("BuildMethod") == "rust-cargolambda", f"{name}: BuildMethod"
        binary = binary_of(res)
        assert binary in bins, f"{name}: Binary {binary!r} is not a workspace binary {sorted(bins)}"
        deployed.add(binary)
        assert fn_prop(template, res, "Runtime") == "provided.al2023", f"{name}: Runtime"
        assert fn_prop(template, res, "Handler") == "bootstrap", f"{name}: Handler"
        assert fn_prop(template, res, "CodeUri") == ".", f"{name}: CodeUri must be the workspace root"
        assert fn_prop(template, res, "Architectures") == [{"Ref": "Architecture"}], name
    assert deployed == bins, f"workspace binaries not deployed: {sorted(bins - deployed)}"


def test_architecture_parameter(template: dict[str, Any]) -> None:
    arch = template["Parameters"]["Architecture"]
    assert arch["Default"] == "arm64"
    assert set(arch["AllowedValues"]) == {"arm64", "x86_64"}


def test_function_sizing(template: dict[str, Any]) -> None:
    by_bin = {binary_of(r): r for r in functions(template).values()}
    timeout = {b: fn_prop(template, r, "Timeout") for b, r in by_bin.items()}
    # HTTP API integrations stop at 30 s: a longer invoke timeout only bills for lost answers.
    assert timeout["invoke"] <= 30
    assert timeout["count"] <= timeout["invoke"]
    assert timeout["stream-url"] > timeout["invoke"]
    assert all(isinstance(fn_prop(template, r, "MemorySize"), int) for r in by_bin.values())


# ------------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------------
def has_default(cell: str) -> bool:
    """Reads a Default cell: "required" or an empty/dash cell means the code needs a value;
    anything else ("`info`", "embedded catalog", "none (feature off)", "unset", "optional") is a
    documented behaviour when the variable is absent."""
    text = cell.strip().strip("`*_ ").lower()
    if "required" in text:
        return False
    if any(word in text for word in ("optional", "none", "unset", "off", "disabled", "empty")):
        return True
    return text not in {"", "-", "—", "–", "n/a"}


EXCLUDE_MARKERS = ("set by lambda", "local only", "local-only", "tests only", "test only")


def documented_variables() -> dict[str, dict[str, Any]]:
    """GATEWAY_* rows of the docs/configuration.md tables: name -> {default, excluded}."""
    assert CONFIG_DOC.exists(), (
        f"{CONFIG_DOC.relative_to(ROOT)} is missing: it is the contract for the variables the "
        "functions read (another engineer writes it)"
    )
    out: dict[str, dict[str, Any]] = {}
    header: list[str] | None = None
    for line in CONFIG_DOC.read_text().splitlines():
        line = line.strip()
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the |---|---| separator row
        m = re.fullmatch(r"`([A-Z0-9_]+)`", cells[0])
        if not m or not m.group(1).startswith("GATEWAY_"):
            continue
        default_cols = [i for i, h in enumerate(header) if "default" in h]
        default = cells[default_cols[0]] if default_cols and default_cols[0] < len(cells) else ""
        excluded = any(marker in line.lower() for marker in EXCLUDE_MARKERS)
        out[m.group(1)] = {
            "default": default,
            "has_default": has_default(default),
            "excluded": excluded,
        }
    assert out, f"no `GATEWAY_*` rows found in {CONFIG_DOC.relative_to(ROOT)}"
    return out


def template_variables(template: dict[str, Any]) -> dict[str, bool]:
    """GATEWAY_* variables the template sets: name -> always set (not conditionally absent)."""
    sources = [template.get("Globals", {}).get("Function", {}).get("Environment", {})]
    sources += [r.get("Properties", {}).get("Environment", {}) for r in functions(template).values()]
    out: dict[str, bool] = {}
    for env in sources:
        for key, value in (env or {}).get("Variables", {}).items():
            if key.startswith("GATEWAY_"):
                out[key] = out.get(key, False) or not is_conditional_absent(value)
    return out


def test_every_variable_the_code_reads_is_set_or_defaulted(template: dict[str, Any]) -> None:
    doc = documented_variables()
    tpl = template_variables(template)
    missing = [
        name
        for name, row in doc.items()
        if not row["excluded"] and not row["has_default"] and not tpl.get(name, False)
    ]
    assert not missing, (
        f"read by the code, no default in docs/configuration.md, not (always) set by "
        f"template.yaml: {missing}"
    )


def test_template_sets_only_documented_variables(template: dict[str, Any]) -> None:
    doc = documented_variables()
    unknown = sorted(set(template_variables(template)) - set(doc))
    assert not unknown, f"template.yaml sets variables docs/configuration.md does not list: {unknown}"


# ------------------------------------------------------------------------------------------------
# IAM
# ------------------------------------------------------------------------------------------------
def test_no_wildcard_actions_or_unscoped_resources(template: dict[str, Any]) -> None:
    problems = []
    for owner, st in identity_statements(template):
        if st.get("Effect") != "Allow":
            continue
        acts = actions_of(st)
        if "NotAction" in st or "NotResource" in st:
            problems.append(f"{owner}: NotAction/NotResource in an Allow statement")
        for a in acts:
            if "*" in a:
                problems.append(f"{owner}: wildcard action {a!r}")
        if "*" in resources_of(st):
            unscoped = [a for a in acts if a not in UNSCOPABLE_ACTIONS]
            if unscoped:
                problems.append(f"{owner}: Resource '*' for scopable actions {unscoped}")
    assert not problems, "\n".join(problems)


def test_bedrock_actions_exist(template: dict[str, Any]) -> None:
    used = {
        a
        for _, st in identity_statements(template)
        for a in actions_of(st)
        if a.lower().startswith("bedrock:")
    }
    assert used, "no Bedrock permissions at all"
    invalid = sorted(used & KNOWN_INVALID_BEDROCK_ACTIONS)
    assert not invalid, f"these are not IAM actions (use InvokeModel*): {invalid}"
    unknown = sorted(used - VALID_BEDROCK_ACTIONS)
    assert not unknown, f"not in the service authorization reference list: {unknown}"


def test_each_function_gets_only_its_bedrock_actions(template: dict[str, Any]) -> None:
    for name, res in functions(template).items():
        got = {a for st in function_statements(res) for a in actions_of(st) if a.startswith("bedrock:")}
        want = EXPECTED_BEDROCK_ACTIONS[binary_of(res)]
        assert got == want, f"{name}: bedrock actions {sorted(got)} != {sorted(want)}"


# What each function may do on the API keys tables (docs/auth.md, "IAM on AWS"): no function
# writes the keys table; async-callback never sees a key, so it reads a job's key by ID through
# the by-key-id index only.
EXPECTED_KEY_TABLE_ACCESS = {
    "invoke": ({"dynamodb:GetItem"},
               {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:Query",
                "dynamodb:Scan"}),
    "stream-url": ({"dynamodb:GetItem"}, {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"}),
    "count": ({"dynamodb:GetItem"}, {"dynamodb:GetItem", "dynamodb:UpdateItem"}),
    "async-callback": ({"dynamodb:Query"}, {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"}),
}


def test_each_function_gets_only_its_key_table_actions(template: dict[str, Any]) -> None:
    import json

    for name, res in functions(template).items():
        if binary_of(res) not in EXPECTED_KEY_TABLE_ACCESS:
            continue  # e.g. the admin function: its own test states what it may do
        got: dict[str, set[str]] = {"KeysTable": set(), "UsageTable": set()}
        resources: dict[str, set[str]] = {"KeysTable": set(), "UsageTable": set()}
        for policy in as_list(res["Properties"].get("Policies", [])):
            for doc in if_branches(policy):
                for st in as_list(doc.get("Statement", [])) if isinstance(doc, dict) else []:
                    for table in got:
                        refs = [r for r in resources_of(st) if table in json.dumps(r)]
                        if refs:
                            # Only granted with GatewayAuth=api_key (the tables exist only then).
                            assert policy.get("Fn::If", [None])[0] == "ApiKeysEnabled", (name, st)
                            got[table].update(actions_of(st))
                            resources[table].update(json.dumps(r) for r in refs)
        want_keys, want_usage = EXPECTED_KEY_TABLE_ACCESS[binary_of(res)]
        assert got["KeysTable"] == want_keys, f"{name}: keys table {sorted(got['KeysTable'])}"
        assert got["UsageTable"] == want_usage, f"{name}: usage table {sorted(got['UsageTable'])}"
        if binary_of(res) == "async-callback":
            assert resources["KeysTable"] == {json.dumps({"Fn::Sub": "${KeysTable.Arn}/index/by-key-id"})}
        env = fn_prop(template, res, "Environment")["Variables"]
        assert env["GATEWAY_AUTH"] == {"Ref": "GatewayAuth"}, name


def test_under_jwt_the_key_is_read_from_x_api_key_only(template: dict[str, Any]) -> None:
    """AuthMode=JWT puts the JWT in Authorization: the functions behind the HTTP API (invoke,
    count) must then read the gateway key from x-api-key only (docs/auth.md)."""
    jwt_if = {"Fn::If": ["UseJwt", "x-api-key", "authorization,x-api-key"]}
    for name, res in functions(template).items():
        env = (fn_prop(template, res, "Environment") or {}).get("Variables", {})
        if binary_of(res) in ("invoke", "count"):
            assert env.get("GATEWAY_KEY_HEADERS") == jwt_if, name
        else:
            # stream-url's Function URL has no JWT authorizer: both headers, the default.
            assert "GATEWAY_KEY_HEADERS" not in env, name


def test_keys_table_is_indexed_by_key_id(template: dict[str, Any]) -> None:
    t = template["Resources"]["KeysTable"]["Properties"]
    assert t["KeySchema"] == [{"AttributeName": "key_hash", "KeyType": "HASH"}]
    [gsi] = t["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "by-key-id"  # KEY_ID_INDEX in shared/stores/src/auth/keys.rs
    assert gsi["KeySchema"] == [{"AttributeName": "key_id", "KeyType": "HASH"}]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}


# The IAM action each Bedrock Runtime SDK operation needs (Service Authorization Reference).
SDK_OPERATION_ACTIONS = {
    "converse": "bedrock:InvokeModel",
    "invoke_model": "bedrock:InvokeModel",
    "start_async_invoke": "bedrock:InvokeModel",
    "converse_stream": "bedrock:InvokeModelWithResponseStream",
    "invoke_model_with_response_stream": "bedrock:InvokeModelWithResponseStream",
    "get_async_invoke": "bedrock:GetAsyncInvoke",
    "list_async_invokes": "bedrock:ListAsyncInvokes",
    "count_tokens": "bedrock:CountTokens",
    "apply_guardrail": "bedrock:ApplyGuardrail",
}


def test_the_jobs_crate_gets_every_bedrock_action_it_calls(template: dict[str, Any]) -> None:
    """async-callback runs the jobs crate: each Bedrock operation its code calls must be granted
    (GetAsyncInvoke was once called but not granted: video jobs could not finish on AWS)."""
    sources = "\n".join(p.read_text() for p in (ROOT / "shared" / "jobs" / "src").rglob("*.rs"))
    called = {
        SDK_OPERATION_ACTIONS[op]
        for op in re.findall(r"\.(\w+)\(\)", sources)
        if op in SDK_OPERATION_ACTIONS
    }
    assert "bedrock:GetAsyncInvoke" in called, "the scan no longer finds the jobs crate's calls"
    for name, res in functions(template).items():
        if binary_of(res) != "async-callback":
            continue
        granted = {a for st in function_statements(res) for a in actions_of(st)}
        assert called <= granted, f"{name}: calls {sorted(called - granted)} without a grant"


def test_bedrock_resources_are_model_profile_or_guardrail_arns(template: dict[str, Any]) -> None:
    allowed = ("foundation-model/", "inference-profile/", "guardrail/", "async-invoke/",
               "model-invocation-job/")
    for owner, st in identity_statements(template):
        if not any(a.startswith("bedrock:") for a in actions_of(st)):
            continue
        if set(actions_of(st)) <= UNSCOPABLE_ACTIONS:
            continue  # their `Resource: "*"` is checked by the unscopable-actions test
        text = repr(resources_of(st))
        assert any(k in text for k in allowed), f"{owner}: bedrock resource {text}"
        assert "foundation-model/*'" not in text, f"{owner}: every foundation model allowed"


def test_webhook_secret_is_a_reference_not_a_value(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    for name, p in params.items():
        low = name.lower()
        if re.search(r"secret|password|apikey|credential|signingkey", low):
            assert low.endswith(("arn", "parametername")), f"parameter {name} looks like a plain secret"
    dynamic_refs = re.findall(r"\{\{resolve:(secretsmanager|ssm-secure):", TEMPLATE.read_text())
    assert not dynamic_refs, "secret values must not be resolved into the template (env vars are readable)"


# ------------------------------------------------------------------------------------------------
# routes
# ------------------------------------------------------------------------------------------------
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def normalise(path: str) -> str:
    """Path parameter names do not matter to API Gateway's matching: /a/{x} == /a/{y}."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def openapi_routes() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(HTTP API routes, Function URL routes) of docs/openapi.yaml."""
    assert OPENAPI.exists(), (
        f"{OPENAPI.relative_to(ROOT)} is missing: the route contract the template must match "
        "(another engineer writes it)"
    )
    spec = yaml.safe_load(OPENAPI.read_text())
    http, url = set(), set()
    for path, item in (spec.get("paths") or {}).items():
        for method, op in (item or {}).items():
            if method.lower() not in HTTP_METHODS or not isinstance(op, dict):
                continue
            stream = (
                op.get("x-function") == "stream-url"
                or item.get("x-function") == "stream-url"
                or "stream" in [str(t).lower() for t in op.get("tags", [])]
            )
            (url if stream else http).add((method.upper(), path))
    return http, url


def template_http_routes(template: dict[str, Any]) -> set[tuple[str, str]]:
    routes = set()
    for res in functions(template).values():
        for ev in (res.get("Properties", {}).get("Events") or {}).values():
            if ev.get("Type") == "HttpApi":
                p = ev["Properties"]
                routes.add((str(p["Method"]).upper(), p["Path"]))
    return routes


def test_openapi_routes_match_http_api_events(template: dict[str, Any]) -> None:
    http, _ = openapi_routes()
    tpl = template_http_routes(template)
    doc_n = {(m, normalise(p)) for m, p in http}
    tpl_n = {(m, normalise(p)) for m, p in tpl}
    assert doc_n == tpl_n, (
        f"in docs/openapi.yaml, no HttpApi event: {sorted(doc_n - tpl_n)}\n"
        f"HttpApi event, not in docs/openapi.yaml: {sorted(tpl_n - doc_n)}"
    )


def test_stream_routes_have_a_streaming_function_url(template: dict[str, Any]) -> None:
    _, url = openapi_routes()
    assert url, "docs/openapi.yaml marks no operation `x-function: stream-url`"
    [stream] = [r for r in functions(template).values() if binary_of(r) == "stream-url"]
    cfg = stream["Properties"].get("FunctionUrlConfig", {})
    assert cfg.get("InvokeMode") == "RESPONSE_STREAM"
    # AWS_IAM unless the deployer opts into bearer-key clients (docs/compat.md, docs/deploy.md).
    assert cfg.get("AuthType") == {"Ref": "StreamUrlAuthType"}
    param = template["Parameters"]["StreamUrlAuthType"]
    assert param["Default"] == "AWS_IAM" and set(param["AllowedValues"]) == {"AWS_IAM", "NONE"}
    public = [r for r in template["Resources"].values()
              if r["Type"] == "AWS::Lambda::Permission" and r.get("Condition") == "StreamUrlPublic"]
    assert {p["Properties"]["Action"] for p in public} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert not stream["Properties"].get("Events"), "stream-url is reached only through its URL"


def test_http_api_auth_and_throttling(template: dict[str, Any]) -> None:
    api = template["Resources"]["HttpApi"]
    props = api["Properties"]
    auth = props["Auth"]
    assert auth["EnableIamAuthorizer"] is True
    assert auth["DefaultAuthorizer"] == {"Fn::If": ["UseJwt", "JwtAuthorizer", "AWS_IAM"]}
    # SAM needs a plain string there: only AWS::LanguageExtensions makes the Fn::If legal.
    assert "AWS::LanguageExtensions" in as_list(template["Transform"])
    assert as_list(template["Transform"])[-1] == "AWS::Serverless-2016-10-31"
    assert {"ThrottlingBurstLimit", "ThrottlingRateLimit"} <= set(props["DefaultRouteSettings"])
    assert "DestinationArn" in props["AccessLogSettings"]


# ------------------------------------------------------------------------------------------------
# async plumbing and data
# ------------------------------------------------------------------------------------------------
def test_shared_logical_ids(template: dict[str, Any]) -> None:
    missing = SHARED_LOGICAL_IDS - set(template["Resources"])
    assert not missing, f"the local stack mirrors these logical IDs: {sorted(missing)}"


def test_queues(template: dict[str, Any]) -> None:
    res = template["Resources"]
    [cb] = [r for r in functions(template).values() if binary_of(r) == "async-callback"]
    timeout = fn_prop(template, cb, "Timeout")
    sqs_events = [e for e in cb["Properties"]["Events"].values() if e["Type"] == "SQS"]
    assert sqs_events
    for ev in sqs_events:
        p = ev["Properties"]
        assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert "BatchSize" in p and "MaximumBatchingWindowInSeconds" in p
        queue = res[p["Queue"]["Fn::GetAtt"][0]]["Properties"]
        assert queue["VisibilityTimeout"] >= 6 * timeout, "visibility timeout < 6 x function timeout"
        assert queue["SqsManagedSseEnabled"] is True
        assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}
        assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "JobsMaxReceiveCount"}
    assert res["JobsDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True


def test_results_bucket(template: dict[str, Any]) -> None:
    res = template["Resources"]
    b = res["ResultsBucket"]["Properties"]
    assert all(v is True for v in b["PublicAccessBlockConfiguration"].values())
    assert len(b["PublicAccessBlockConfiguration"]) == 4
    assert b["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    prefixes = {r.get("Prefix") for r in b["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r}
    assert {"outbox/", "results/"} <= prefixes
    [notif] = b["NotificationConfiguration"]["QueueConfigurations"]
    assert notif["Event"].startswith("s3:ObjectCreated:")
    assert notif["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "inbox/"}]
    [policy] = [r for r in res.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    [deny] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_jobs_table(template: dict[str, Any]) -> None:
    t = template["Resources"]["JobsTable"]["Properties"]
    assert t["BillingMode"] == "PAY_PER_REQUEST"
    assert t["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    [gsi] = t["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "by-idempotency-key"  # the name the local stack and the code use
    assert gsi["KeySchema"] == [{"AttributeName": "idempotency_key", "KeyType": "HASH"}]
    assert t["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert t["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert t["SSESpecification"]["SSEEnabled"] is True


def test_alarms_and_outputs(template: dict[str, Any]) -> None:
    res = template["Resources"]
    alarms = [r["Properties"] for r in res.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    metrics = {(a["Namespace"], a["MetricName"]) for a in alarms}
    assert {("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), ("AWS/Lambda", "Duration"),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible")} <= metrics
    assert any(a.get("ExtendedStatistic") == "p99" for a in alarms)
    outputs = set(template["Outputs"])
    assert {"ApiUrl", "StreamUrl", "ResultsBucketName", "JobsQueueUrl", "JobsTableName"} <= outputs


# ------------------------------------------------------------------------------------------------
# API keys: who may write the keys table, and the IAM-only admin routes (docs/auth.md)
# ------------------------------------------------------------------------------------------------
# DynamoDB actions on each table, per function binary (least privilege, see docs/auth.md "IAM on
# AWS"). Only admin may write the keys table.
EXPECTED_KEY_TABLE_ACTIONS = {
    "invoke": ({"dynamodb:GetItem"},
               {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:Query",
                "dynamodb:Scan"}),
    "stream-url": ({"dynamodb:GetItem"}, {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"}),
    "count": ({"dynamodb:GetItem"}, {"dynamodb:GetItem", "dynamodb:UpdateItem"}),
    # Owned by the jobs work (a job charged to its key): read-only on the keys table, checked below.
    "async-callback": None,
    "admin": ({"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Scan"},
              {"dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem"}),
}
READ_ONLY_DYNAMODB = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                      "dynamodb:Scan", "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem"}


def table_actions(statements, table: str) -> set[str]:
    """Actions of the statements whose resources name `table` (by GetAtt/Ref/Sub)."""
    out: set[str] = set()
    for st in statements:
        if st.get("Effect") == "Allow" and table in repr(resources_of(st)):
            out.update(actions_of(st))
    return out


def test_only_the_admin_role_writes_the_keys_table(template: dict[str, Any]) -> None:
    by_bin = {binary_of(r): r for r in functions(template).values()}
    assert set(by_bin) == set(EXPECTED_KEY_TABLE_ACTIONS)
    for binary, want in EXPECTED_KEY_TABLE_ACTIONS.items():
        statements = list(function_statements(by_bin[binary]))
        if want is None:
            assert table_actions(statements, "KeysTable") <= READ_ONLY_DYNAMODB, binary
            continue
        keys_want, usage_want = want
        assert table_actions(statements, "KeysTable") == keys_want, binary
        assert table_actions(statements, "UsageTable") == usage_want, binary
    writers = {
        owner
        for owner, st in identity_statements(template)
        if st.get("Effect") == "Allow"
        and "KeysTable" in repr(resources_of(st))
        and set(actions_of(st)) - READ_ONLY_DYNAMODB
    }
    assert writers == {"AdminFunction"}, f"may write the keys table: {sorted(writers)}"
    assert not any("dynamodb:DeleteItem" in actions_of(st) and "KeysTable" in repr(resources_of(st))
                   for _, st in identity_statements(template)), "nobody deletes key records"


def test_admin_routes_always_require_iam(template: dict[str, Any]) -> None:
    [(name, admin)] = [(n, r) for n, r in functions(template).items() if binary_of(r) == "admin"]
    # Only with keys: no keys table, no admin function.
    assert admin.get("Condition") == "ApiKeysEnabled"
    assert template["Resources"]["KeysTable"].get("Condition") == "ApiKeysEnabled"
    assert "FunctionUrlConfig" not in admin["Properties"], "reached only through the HTTP API"
    events = admin["Properties"]["Events"]
    assert {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()} == {
        ("POST", "/v1/admin/keys"), ("GET", "/v1/admin/keys"),
        ("GET", "/v1/admin/keys/{key_id}"), ("PATCH", "/v1/admin/keys/{key_id}"),
        ("DELETE", "/v1/admin/keys/{key_id}"), ("GET", "/v1/admin/usage"),
        # The console (docs/console.md): IAM only like the admin routes it calls.
        ("GET", "/console"), ("GET", "/console/"), ("GET", "/console/{file}"),
    }
    for ev_name, ev in events.items():
        assert ev["Type"] == "HttpApi", ev_name
        # A literal AWS_IAM per route, not the API's default (which AuthMode=JWT changes).
        assert ev["Properties"].get("Auth") == {"Authorizer": "AWS_IAM"}, f"{name}.{ev_name}"
        # On their own API: an execute-api:Invoke grant on the inference API cannot mint keys.
        assert ev["Properties"]["ApiId"] == {"Ref": "AdminHttpApi"}, f"{name}.{ev_name}"
    api = template["Resources"]["AdminHttpApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    assert api.get("Condition") == "ApiKeysEnabled"
    auth = api["Properties"]["Auth"]
    assert auth["EnableIamAuthorizer"] is True, "per-route AWS_IAM needs it"
    assert auth["DefaultAuthorizer"] == "AWS_IAM", "IAM only, whatever AuthMode says"
    assert "Authorizers" not in auth, "no JWT authorizer on the admin API"
    assert "AdminHttpApi" in template["Outputs"]["AdminApiUrl"]["Value"]["Fn::Sub"]
    # No other function serves an admin path, nor anything on the admin API.
    for other, res in functions(template).items():
        if other == name:
            continue
        for ev in (res["Properties"].get("Events") or {}).values():
            path = str(ev.get("Properties", {}).get("Path", ""))
            assert not path.startswith(("/v1/admin", "/console")), f"{other} serves {path}"
            if ev.get("Type") == "HttpApi":
                assert ev["Properties"]["ApiId"] == {"Ref": "HttpApi"}, f"{other}: {ev}"


def test_streams_cannot_take_the_accounts_whole_concurrency(template: dict[str, Any]) -> None:
    # A stream holds an environment for up to 900 s: stream-url is bounded by default, so long
    # streams cannot starve every other function of the account (issue 21, item 13).
    [stream] = [r for r in functions(template).values() if binary_of(r) == "stream-url"]
    assert stream["Properties"]["Timeout"] == 900
    bound = stream["Properties"]["ReservedConcurrentExecutions"]
    assert bound == {"Fn::If": ["BoundStreamUrlConcurrency",
                                {"Ref": "StreamUrlReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    param = template["Parameters"]["StreamUrlReservedConcurrency"]
    assert int(param["Default"]) > 0, "bounded unless the deployer opts out"
    cond = template["Conditions"]["BoundStreamUrlConcurrency"]
    assert cond == {"Fn::Not": [{"Fn::Equals": [{"Ref": "StreamUrlReservedConcurrency"}, "0"]}]}
