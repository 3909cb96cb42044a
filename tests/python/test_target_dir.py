"""`make dev`, `make test` and the stack find the binaries where cargo put them (issue 24, item 5)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "local"))

from stack import target_dir  # noqa: E402


def test_unset_or_empty_is_the_repository_target():
    assert target_dir({}) == ROOT / "target"
    assert target_dir({"CARGO_TARGET_DIR": "  "}) == ROOT / "target"


def test_an_absolute_directory_is_taken_as_is(tmp_path):
    assert target_dir({"CARGO_TARGET_DIR": str(tmp_path)}) == tmp_path


def test_a_relative_directory_is_relative_to_the_repository_root():
    assert target_dir({"CARGO_TARGET_DIR": "build/cargo"}) == ROOT / "build" / "cargo"


def test_home_is_expanded():
    assert target_dir({"CARGO_TARGET_DIR": "~/cargo-target"}) == Path.home() / "cargo-target"
