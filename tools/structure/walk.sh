#!/usr/bin/env bash
# The project files one `POST /v1/converse` crosses (docs/architecture.md, "One request"): runs
# `functions/invoke/tests/walk.rs` under valgrind's callgrind with instrumentation off, turns it on
# for the measured request only, and lists every project source file (tests excluded) with code
# that ran, with the instructions spent in it.
#
# Needs valgrind (`callgrind_control`, `callgrind_annotate`), which the project does not install:
# a manual check, not part of `make test`. Run from the repository root after `make venv` (moto):
#   bash tools/structure/walk.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

bin="$(cargo test -p invoke --test walk --no-run --message-format=json |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "walk" and m.get("executable"):
        print(m["executable"])')"
[ -x "$bin" ] || { echo "walk: test binary not built" >&2; exit 1; }

wait_file() { # name, seconds; gives up when the test has ended
    for _ in $(seq $(($2 * 10))); do
        [ -e "$work/$1" ] && return 0
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    echo "walk: no $1 after $2 s" >&2; return 1
}

(cd "$work" && WALK_DIR="$work" exec valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$work/callgrind.out" "$bin" --ignored --exact one_converse_request \
    > "$work/test.log" 2>&1) &
pid=$!
wait_file ready 600 || { cat "$work/test.log" >&2; kill "$pid" 2> /dev/null; exit 1; }
(cd "$work" && callgrind_control -i on "$pid" > /dev/null)
touch "$work/go"
wait_file done 300
(cd "$work" && callgrind_control -i off "$pid" > /dev/null)
touch "$work/end"
wait "$pid" || { cat "$work/test.log" >&2; exit 1; }

# Every function's cost with its source file; keep the project's own files, not tests.
callgrind_annotate --inclusive=no --threshold=100 "$work/callgrind.out" 2>/dev/null |
    python3 -c '
import re, sys, os
root = os.getcwd() + "/"
files = {}
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(\S+?):", line) or re.match(r"\s*([\d,]+)\s+(\S+?):", line)
    if not m:
        continue
    cost, path = int(m.group(1).replace(",", "")), m.group(2)
    if path.startswith(root):
        path = path[len(root):]
    if not path.endswith(".rs") or not os.path.isfile(path) or path.startswith(("/", "tests/", "target/")):
        continue
    if "/tests/" in path or path.endswith("/tests.rs"):
        continue
    files[path] = files.get(path, 0) + cost
for path, cost in sorted(files.items(), key=lambda kv: -kv[1]):
    print(f"{cost:>12,}  {path}")
def crate(path):
    parts = path.split("/")
    # The crate is the directory that holds src/ (a file outside src/ counts with its folder).
    return "/".join(parts[:parts.index("src")]) if "src" in parts else os.path.dirname(path)
by_crate = {}
for path in files:
    by_crate[crate(path)] = by_crate.get(crate(path), 0) + 1
print(f"{len(files)} project files: " + ", ".join(f"{c} {n}" for c, n in sorted(by_crate.items(), key=lambda kv: -kv[1])))
'
