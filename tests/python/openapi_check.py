"""Validates HTTP responses against docs/openapi.yaml (OpenAPI 3.1).

Import it from any test module (`import openapi_check`) and check each response:

    body = openapi_check.validate("POST", "/v1/converse", r.status_code, r.json(), r.headers)

- `path_template` is the documented path (`/v1/invoke/{modelId}`), not the concrete URL.
- The status must be documented for the operation (exactly, or as a `4XX`/`5XX` range): an
  undocumented status, path or method fails the test, so the document and the code cannot drift.
- The body is validated with JSON Schema 2020-12 (OpenAPI 3.1's dialect) against the response's
  schema for its media type, with every `$ref` into `components` resolved by `referencing`.
- With `headers` (any case-insensitive mapping, e.g. `requests`' `r.headers`) every header the
  response declares `required: true` must be present and match its schema.

`validate_response(r, path_template)` does the same from a `requests.Response`.
`check_document()` validates the document itself with openapi-spec-validator.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "docs" / "openapi.yaml"
SPEC_URI = "urn:gateway:openapi"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@functools.cache
def spec() -> dict[str, Any]:
    """The parsed document (read once per session)."""
    assert OPENAPI.exists(), f"{OPENAPI} is missing"
    return yaml.safe_load(OPENAPI.read_text())


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012))


def check_document() -> None:
    """Raises if docs/openapi.yaml is not a valid OpenAPI 3.1 document."""
    from openapi_spec_validator import validate as validate_spec

    validate_spec(spec())


def operation(method: str, path_template: str) -> dict[str, Any]:
    """The operation object for `method path_template`; fails if it is not documented."""
    paths = spec().get("paths") or {}
    assert path_template in paths, f"{path_template} is not a path of docs/openapi.yaml (have {sorted(paths)})"
    item = paths[path_template]
    op = item.get(method.lower())
    assert isinstance(op, dict), (
        f"{method.upper()} {path_template} is not documented "
        f"(have {sorted(m.upper() for m in item if m in HTTP_METHODS)})"
    )
    return op


def _deref(obj: dict[str, Any]) -> dict[str, Any]:
    """Follows a local `$ref` (responses, headers) to the component it names."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        assert ref.startswith("#/"), f"only local references are supported, got {ref}"
        node: Any = spec()
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
        seen += 1
        assert seen < 20, f"reference loop at {ref}"
    return obj


def response_spec(method: str, path_template: str, status: int) -> dict[str, Any]:
    """The documented response for `status` (exact code first, then `4XX`/`5XX`)."""
    responses = operation(method, path_template).get("responses") or {}
    for key in (str(status), f"{str(status)[0]}XX"):
        if key in responses:
            return _deref(responses[key])
    raise AssertionError(
        f"{method.upper()} {path_template}: status {status} is not documented (have {sorted(responses)})"
    )


def _absolute(schema: Any) -> Any:
    """A copy of an inline schema whose local `$ref`s point into the registered document."""
    if isinstance(schema, dict):
        return {
            k: (SPEC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _absolute(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_absolute(v) for v in schema]
    return schema


def validate_schema(schema: dict[str, Any], instance: Any, where: str) -> None:
    """Validates `instance` against an inline OpenAPI schema; the error names `where`."""
    validator = jsonschema.Draft202012Validator(_absolute(copy.deepcopy(schema)), registry=_registry())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n".join(
            f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]
        )
        raise AssertionError(f"{where} does not match docs/openapi.yaml:\n{details}")


def _media_schema(content: dict[str, Any], content_type: str) -> dict[str, Any] | None:
    essence = content_type.split(";")[0].strip().lower()
    if essence in content:
        return content[essence].get("schema")
    if "*/*" in content:
        return content["*/*"].get("schema")
    raise AssertionError(f"content type {content_type!r} is not documented (have {sorted(content)})")


def validate(
    method: str,
    path_template: str,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> Any:
    """Checks one response against the document; returns `body` for chaining."""
    where = f"{method.upper()} {path_template} -> {status}"
    resp = response_spec(method, path_template, status)
    content = resp.get("content") or {}
    lower = {k.lower(): v for k, v in (headers or {}).items()}
    content_type = lower.get("content-type", content_type)
    if content:
        schema = _media_schema(content, content_type)
        if schema is not None:
            validate_schema(schema, body, f"{where} body")
    else:
        assert body in (None, b"", ""), f"{where}: no content is documented, got a body"
    if headers is not None:
        for name, header in (resp.get("headers") or {}).items():
            header = _deref(header)
            value = lower.get(name.lower())
            if value is None:
                assert not header.get("required"), f"{where}: required header {name} is missing"
                continue
            if "schema" in header:
                validate_schema(header["schema"], value, f"{where} header {name}")
    return body


def validate_response(r: Any, path_template: str) -> Any:
    """`validate` for a `requests.Response` (method from its request); returns the JSON body."""
    body = r.json() if r.content else None
    return validate(r.request.method, path_template, r.status_code, body, r.headers)


def validate_error(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Any:
    """For answers outside any documented operation (unknown route, wrong method): the body must
    be the `Error` schema, with `Retry-After` on 429/503 and `x-request-id` always."""
    validate_schema({"$ref": "#/components/schemas/Error"}, body, f"{status} error body")
    if headers is not None:
        lower = {k.lower(): v for k, v in headers.items()}
        assert lower.get("x-request-id"), "x-request-id header is missing"
        if status in (429, 503):
            assert lower.get("retry-after", "").isdigit(), "Retry-After header is missing"
    return body
