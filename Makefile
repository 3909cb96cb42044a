# Entry points named in the README. Everything a target needs is installed by the target itself:
# Python tools into the project-local .venv (pinned in infra/local/requirements.txt), Rust crates
# by cargo. Nothing is installed system-wide.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
VENV_STAMP  := $(VENV)/.installed
REQS        := infra/local/requirements.txt
# cargo-lambda (from PyPI) is the `cargo-lambda` script in the venv; cargo finds subcommands on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# Lambda architecture for `make build`: arm64 by default (what template.yaml deploys).
ARCH        ?= arm64
# Every function template.yaml deploys (build.sh refuses a list that misses one).
FUNCTIONS   := invoke stream-url count async-callback admin
# The functions the benchmarks run (admin is not on a measured path).
BENCH_FUNCTIONS := invoke stream-url count async-callback

# (chromium: the console's browser tests)
.PHONY: chromium help venv agents agents-claude-code dev test test-rust test-python build lint fmt bench bench-quick bench-peers bench-lmi bench-build structure fuzz fuzz-build

help:
	@echo "make dev     build, start the local stack (bedrock-local, moto, cargo lambda watch), serve the API"
	@echo "make agents  npm ci the agent CLIs the e2e tests drive (Codex CLI, Claude Code)"
	@echo "make test    install what is needed, run every test (unit, integration, conformance, template lint)"
	@echo "make fuzz    run every cargo-fuzz target for FUZZ_SECONDS (60) each; grows fuzz/corpus (docs/fuzzing.md)"
	@echo "make bench   run the benchmarks against bedrock-local (writes bench/results.json, docs/performance.md)"
	@echo "make bench-peers  only the peers part: this gateway beside LiteLLM and Portkey (installs them pinned)"
	@echo "make bench-lmi    only the LMI part: 1, 8, 64, 256 concurrent paced streams in one stream-url process"
	@echo "make bench-charts redraw the SVG charts in docs/ from bench/results.json (no run)"
	@echo "make build   cargo lambda build --release for every deployed function (ARCH=arm64|x86_64)"
	@echo "make lint    cargo fmt --check, clippy -D warnings, cfn-lint template.yaml"

$(VENV_STAMP): $(REQS)
	@command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(REQS)
	@touch $@

venv: $(VENV_STAMP)

# Agent CLIs the e2e tests drive (Codex CLI), pinned in tools/agents/package.json and
# package-lock.json, installed by `npm ci` into the git-ignored tools/agents/node_modules.
AGENTS_DIR   := tools/agents
AGENTS_STAMP := $(AGENTS_DIR)/node_modules/.installed
$(AGENTS_STAMP): $(AGENTS_DIR)/package.json $(AGENTS_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 16+) is required for the agent CLI tests" >&2; exit 1; }
	npm ci --prefix $(AGENTS_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

# The real Claude Code CLI for tests/python/test_claude_code_e2e.py, pinned in
# tools/agents/claude-code/package.json + package-lock.json, installed with `npm ci` into that
# folder's git-ignored node_modules (its postinstall links the platform's native binary).
CLAUDE_CODE_DIR   := tools/agents/claude-code
CLAUDE_CODE_STAMP := $(CLAUDE_CODE_DIR)/node_modules/.installed
$(CLAUDE_CODE_STAMP): $(CLAUDE_CODE_DIR)/package.json $(CLAUDE_CODE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js) is required for the Claude Code e2e test" >&2; exit 1; }
	npm ci --prefix $(CLAUDE_CODE_DIR) --no-audit --no-fund
	@touch $@

agents-claude-code: $(CLAUDE_CODE_STAMP)

# Every agent CLI the e2e tests drive.
agents: $(AGENTS_STAMP) $(CLAUDE_CODE_STAMP)

# Debug build of every workspace binary: bedrock-local and the functions that the stack and the
# tests run. `cargo lambda watch` reuses these artifacts: it runs `cargo run --bin <f>`, which
# (every member being a default member) resolves features as this build does, in the same target
# dir and profile, so the stack starts on these binaries without a rebuild.
# `cargo test --workspace` adds the dev-dependencies; tests/Cargo.toml asks for the features they
# would add, all but regex-syntax's Unicode tables (which would grow the functions), so the test
# build reuses this one's dependencies, the SDK crates above all.
build-dev:
	cargo build --workspace --bins

dev: $(VENV_STAMP) build-dev
	$(PY) infra/local/stack.py up

test: structure $(VENV_STAMP) $(AGENTS_STAMP) $(CLAUDE_CODE_STAMP) chromium build-dev test-rust test-python

# Debian's chromium for the console's browser tests (tests/python/test_console_e2e.py, driven by
# the pinned Playwright in .venv; never `playwright install`). Installed when missing (sudo only
# when not root; `apt-get update` first if the package is not known yet); if it cannot be, this
# fails and says so: the browser tests are never skipped.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get install -y chromium || { $$SUDO apt-get update && $$SUDO apt-get install -y chromium; }; \
	}
	@command -v chromium >/dev/null || { echo "chromium could not be installed (apt-get install chromium): the console's browser tests need it" >&2; exit 1; }

# The core redesign's structure rules (docs/architecture.md): module cycles and long files by the
# shared structure report (../shared/tools/structure.py, beside this repo here and in CI), long
# functions by tools/structure/fn_length.py.
structure:
	@test -f ../shared/tools/structure.py || { echo "../shared/tools/structure.py is missing: the structure check needs the shared/ folder beside this repo" >&2; exit 1; }
	python3 ../shared/tools/structure.py
	python3 tools/structure/fn_length.py

test-rust:
	cargo test --workspace --no-fail-fast

test-python: $(VENV_STAMP) $(AGENTS_STAMP) $(CLAUDE_CODE_STAMP) chromium
	$(PY) -m pytest tests/python -q

build: $(VENV_STAMP)
	@bash infra/local/build.sh "$(ARCH)" $(FUNCTIONS)

lint: $(VENV_STAMP)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	@if [ -f template.yaml ]; then $(PY) $(VENV)/bin/cfn-lint template.yaml; fi

fmt:
	cargo fmt --all

# The Python baseline (boto3 + awslambdaric) for the benchmarks, pinned in infra/bench.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(VENV_STAMP) infra/bench/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r infra/bench/requirements.txt
	@touch $@

# Release builds of everything the bench runs. The functions (and the minimal Rust function, the
# cold-start baseline) are measured as they ship: built one at a time by cargo-lambda
# (`target/lambda/<f>/bootstrap`), which is what `sam build` runs per function. Built in one
# `cargo build` with the bench and bedrock-local instead, features unify across the packages and
# cargo-lambda's `panic = "abort"` is missing: invoke came out 1.0 MB larger. The harness and
# bedrock-local use the `bench-tools` profile (speed, not size).
HOST_TRIPLE = $(shell rustc -vV | sed -n 's/^host: //p')
BENCH_RUN   = $${CARGO_TARGET_DIR:-target}/bench-tools/bench --profile bench-tools --functions-dir $${CARGO_TARGET_DIR:-target}/lambda
bench-build: $(BENCH_STAMP)
	cargo build --profile bench-tools -p bedrock-local -p bench
	for f in $(BENCH_FUNCTIONS) bench-minimal-fn; do cargo lambda build --release --target $(HOST_TRIPLE) --bin $$f || exit 1; done

bench: bench-build
	$(BENCH_RUN) --out bench/results.json --doc docs/performance.md

bench-quick: bench-build
	$(BENCH_RUN) --quick --out bench/results.json --doc docs/performance.md

# The peers section alone (issue 24): LiteLLM proxy (pinned in infra/bench/peers/litellm, own venv
# in target/peers/litellm-venv) and Portkey's gateway (pinned in infra/bench/peers/portkey, npm ci)
# beside this gateway; updates the Peers part of docs/performance.md and bench/results.json.
bench-peers: bench-build
	$(BENCH_RUN) --only peers --out bench/results.json --doc docs/performance.md

# The LMI section alone (issue 24): N = 1, 8, 64, 256 concurrent paced streams in one release
# stream-url process (AWS_LAMBDA_MAX_CONCURRENCY=N); updates the LMI part of docs/performance.md
# and the lmi block of bench/results.json.
bench-lmi: bench-build
	$(BENCH_RUN) --only lmi --out bench/results.json --doc docs/performance.md

# The SVG charts next to docs/performance.md, redrawn from bench/results.json without running
# anything (every bench run draws them too).
bench-charts:
	cargo run -q -p bench --bin bench -- --charts --out bench/results.json --doc docs/performance.md

.PHONY: build-dev bench-charts

# Fuzzing (docs/fuzzing.md). cargo-fuzz is pinned and installed into tools/cargo-fuzz (git-ignored)
# with the pinned nightly toolchain (`rustup toolchain list`: rustc 1.97.0-nightly e50aa6fba
# 2026-05-19); rust-toolchain.toml stays stable for everything else. The fuzz crate (fuzz/) is its
# own workspace with its own lock file and target dir, outside `make test`.
FUZZ_TOOLCHAIN    := nightly-x86_64-unknown-linux-gnu
CARGO_FUZZ_VER    := 0.13.2
CARGO_FUZZ_ROOT   := tools/cargo-fuzz
CARGO_FUZZ        := $(CURDIR)/$(CARGO_FUZZ_ROOT)/bin/cargo-fuzz
CARGO_FUZZ_STAMP  := $(CARGO_FUZZ_ROOT)/.installed-$(CARGO_FUZZ_VER)
FUZZ_TARGETS      := converse_request compat_request model_resolve webhook_url sse event_stream
# Seconds each target runs (`make fuzz FUZZ_SECONDS=600`); FUZZ_TARGETS narrows the set.
FUZZ_SECONDS      ?= 60
# No sanitizer: the code under test is safe Rust, where the findings are panics and failed
# properties; AddressSanitizer would double the (SDK-sized) build for nothing it can catch there.
FUZZ_RUN          := RUSTUP_TOOLCHAIN=$(FUZZ_TOOLCHAIN) $(CARGO_FUZZ)
FUZZ_FLAGS        := --fuzz-dir fuzz --target-dir fuzz/target --sanitizer none --debug-assertions

$(CARGO_FUZZ_STAMP):
	cargo +$(FUZZ_TOOLCHAIN) install cargo-fuzz --version $(CARGO_FUZZ_VER) --locked --root $(CARGO_FUZZ_ROOT)
	@touch $@

fuzz-build: $(CARGO_FUZZ_STAMP)
	$(FUZZ_RUN) build $(FUZZ_FLAGS)

# Each target for FUZZ_SECONDS on the checked-in corpus (new inputs are added to it: minimise
# with `cargo fuzz cmin` before committing them). A crash stops the run and leaves its input in
# fuzz/artifacts/<target>/.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  mkdir -p fuzz/corpus/$$t; \
	  $(FUZZ_RUN) run $(FUZZ_FLAGS) $$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    -timeout=10 -print_final_stats=1 || exit 1; \
	done
