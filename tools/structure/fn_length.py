#!/usr/bin/env python3
"""Functions over a line limit (default 120) in the workspace's non-test Rust sources.

Counts from a `fn` line to its closing brace, in the code before a file's first `#[cfg(test)]`;
files under `tests/` and the bench harness (`infra/bench`) are left out, as the core redesign's
acceptance says. Prints each long function and exits 1 if there is any. Run from the repo root."""
import os
import re
import sys

LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else 120
ROOTS = ["shared", "functions", "infra/bedrock-local", "tools", "tests"]
FN = re.compile(r"\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)")


def long_functions(path):
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    end = next((i for i, l in enumerate(lines) if l.strip() == "#[cfg(test)]"), len(lines))
    out = []
    for i in range(end):
        m = FN.match(lines[i])
        if not m:
            continue
        depth, opened, j = 0, False, i
        while j < end:
            for ch in lines[j]:
                if ch == "{":
                    depth, opened = depth + 1, True
                elif ch == "}":
                    depth -= 1
            if (opened and depth <= 0) or (not opened and lines[j].rstrip().endswith(";")):
                break
            j += 1
        if j - i + 1 > LIMIT:
            out.append((j - i + 1, f"{path}:{i + 1}", m.group(6)))
    return out


found = []
for root in ROOTS:
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("target", "tests", "node_modules", ".venv")]
        for f in files:
            if f.endswith(".rs") and f != "tests.rs":
                found += long_functions(os.path.join(dirpath, f))
for n, where, name in sorted(found, reverse=True):
    print(f"function over {LIMIT} lines: {where} {name} ({n})")
print(f"fn_length: {len(found)} functions over {LIMIT} lines")
sys.exit(1 if found else 0)
