"""Writes bedrock-runtime.json: the part of AWS's published Bedrock Runtime service model that
request validation needs (the input shapes of the operations bedrock-local serves, with their
constraints; no documentation), taken from the botocore pinned in infra/local/requirements.txt.

    .venv/bin/python shared/service-model/extract.py            # rewrite the file
    .venv/bin/python shared/service-model/extract.py --check    # exit 1 if it is out of date
"""

import gzip
import json
import pathlib
import sys

import botocore

OPERATIONS = [
    "Converse",
    "ConverseStream",
    "InvokeModel",
    "InvokeModelWithResponseStream",
    "CountTokens",
    "ApplyGuardrail",
    "StartAsyncInvoke",
    "GetAsyncInvoke",
    "ListAsyncInvokes",
]
# What a check reads; everything else (documentation, error flags, event flags) is left out.
SHAPE_KEYS = ["type", "payload", "required", "members", "member", "key", "value", "min", "max",
              "pattern", "enum", "union", "document", "sensitive"]
MEMBER_KEYS = ["shape", "location", "locationName", "jsonvalue"]

OUT = pathlib.Path(__file__).with_name("bedrock-runtime.json")


def source():
    data = pathlib.Path(botocore.__file__).parent / "data" / "bedrock-runtime"
    (version,) = [p for p in data.iterdir() if p.is_dir()]
    path = version / "service-2.json.gz"
    if path.exists():
        return json.load(gzip.open(path))
    return json.loads((version / "service-2.json").read_text())


def trimmed(model):
    shapes = model["shapes"]
    keep = {}

    def walk(name):
        if name in keep:
            return
        s = shapes[name]
        t = {k: s[k] for k in SHAPE_KEYS if k in s}
        if "members" in t:
            t["members"] = {m: {k: v[k] for k in MEMBER_KEYS if k in v}
                            for m, v in s["members"].items()}
        for k in ("member", "key", "value"):
            if k in t:
                t[k] = {"shape": s[k]["shape"]}
        keep[name] = t
        for m in t.get("members", {}).values():
            walk(m["shape"])
        for k in ("member", "key", "value"):
            if k in t:
                walk(t[k]["shape"])

    ops = {}
    for name in OPERATIONS:
        op = model["operations"][name]
        ops[name] = {"http": op["http"], "input": op["input"]["shape"]}
        walk(op["input"]["shape"])
    return {
        "source": f"botocore {botocore.__version__}, bedrock-runtime {model['metadata']['apiVersion']}",
        "operations": ops,
        "shapes": dict(sorted(keep.items())),
    }


def main():
    text = json.dumps(trimmed(source()), indent=1, sort_keys=False) + "\n"
    if "--check" in sys.argv:
        if OUT.read_text() != text:
            print(f"{OUT} is out of date: run {sys.argv[0]}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
