#!/usr/bin/env python3
"""Which crates a function binary's code and data come from: the symbol sizes of an unstripped
build (`nm -S -C`), summed by the crate that names each symbol.

The release profile strips the binaries, so build one without stripping first, into its own
target directory (the shipped build is not touched):

    CARGO_TARGET_DIR=target/unstripped CARGO_PROFILE_RELEASE_STRIP=false \\
        cargo lambda build --release --bin invoke
    python3 tools/size/crate_share.py target/unstripped/lambda/invoke/bootstrap

A symbol is counted under the first `crate::` path in its demangled name (for `<A as B>::f`,
A's crate; for the standard library's generic code, its type argument's crate). Code inlined into a caller counts as the caller's, so a crate whose functions are
mostly inlined (serde's generic code, say) shows less than it costs, and its callers more. The
figures are an estimate of where the bytes are, not an exact partition."""
import collections
import re
import subprocess
import sys

# Crates named by the groups below; anything else is listed on its own.
OURS = {
    "gateway_model",
    "inference_core",
    "gateway_stores",
    "gateway_jobs",
    "service_model",
    "invoke",
    "stream_url",
    "count",
    "async_callback",
    "admin",
}


# The standard library's generic code (`core::ptr::drop_in_place<T>`, `alloc::vec::Vec<T>`...)
# is counted under the crate of its type argument when it has one.
STD = {"core", "alloc", "std"}


def crate_of(name):
    crates = re.findall(r"(?<![A-Za-z0-9_:])([A-Za-z_][A-Za-z0-9_]*)::", name)
    if not crates:
        return "(no crate path)"
    if crates[0] in STD:
        return next((c for c in crates if c not in STD), crates[0])
    return crates[0]


def shares(binary):
    out = subprocess.run(
        ["nm", "--size-sort", "-S", "-C", binary], capture_output=True, text=True, check=True
    ).stdout
    by = collections.Counter()
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        try:
            size = int(parts[1], 16)
        except ValueError:
            continue
        by[crate_of(parts[3])] += size
    return by


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    by = shares(sys.argv[1])
    total = sum(by.values())
    if total == 0:
        sys.exit(f"{sys.argv[1]}: no symbols (a stripped build? see the docstring)")
    groups = {
        "the AWS SDK (aws_* crates)": sum(v for c, v in by.items() if c.startswith("aws_")),
        "  of which aws_sdk_bedrockruntime": by.get("aws_sdk_bedrockruntime", 0),
        "the gateway's own crates": sum(v for c, v in by.items() if c in OURS),
    }
    print(f"{'bytes':>10}  {'share':>6}  what")
    print(f"{total:>10}  100.0%  every sized symbol")
    for name, v in groups.items():
        print(f"{v:>10}  {100 * v / total:5.1f}%  {name}")
    print()
    for crate, v in by.most_common(30):
        print(f"{v:>10}  {100 * v / total:5.1f}%  {crate}")


if __name__ == "__main__":
    main()
