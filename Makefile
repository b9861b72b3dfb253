# sfdest: every target builds what it needs (virtual environment, generated code) itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
GEN_DIR := gen/python/sfdest
PROTOS := $(wildcard proto/sfdest/v1/*.proto)
GEN := $(GEN_DIR)/v1/destination_pb2.py
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export SFDEST_LISTEN ?= 127.0.0.1:50051
# buf (lint, breaking, generate) from the npm registry, pinned; config in buf.yaml / buf.gen.yaml.
BUF_VERSION := 1.75.0
BUF := npx --yes @bufbuild/buf@$(BUF_VERSION)
# `buf breaking` compares the working tree's proto/ with this branch.
BREAKING_AGAINST ?= main
# The Node.js interop client (tests/node): its npm dependencies, installed by `make node-deps`.
NODE_DIR := tests/node
NODE_STAMP := $(NODE_DIR)/node_modules/.sfdest-installed

.PHONY: all run test explore lint proto stubs clean emulator bench bench-quick bench-million node-deps soak redis-server
all: proto

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	mkdir -p $(GEN_DIR)/v1 && touch $(GEN_DIR)/__init__.py $(GEN_DIR)/v1/__init__.py
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(GEN): $(PROTOS) $(STAMP)
	mkdir -p $(GEN_DIR)/v1 && touch $(GEN_DIR)/__init__.py $(GEN_DIR)/v1/__init__.py
	$(PY) -m grpc_tools.protoc -I proto --python_out=gen/python --pyi_out=gen/python \
	  --grpc_python_out=gen/python $(PROTOS)

proto: $(GEN)
stubs: $(GEN) node-deps
	@echo "Python stubs: package 'sfdest.v1' in $(GEN_DIR) (installed editable in $(VENV))."
	@if [ -x $(NODE_DIR)/node_modules/.bin/protoc-gen-es ]; then \
	  $(BUF) generate && echo "TypeScript stubs (protobuf-es): gen/ts/sfdest/v1/destination_pb.ts"; \
	else echo "TypeScript stubs skipped: no npm (tests/node/node_modules/.bin/protoc-gen-es)"; fi

# npm ci when npm exists (CI has it); without npm the Node interop test fails and says why.
ifeq ($(shell command -v npm 2>/dev/null),)
node-deps:
	@echo "npm not found: $(NODE_DIR) dependencies not installed (tests/e2e/interop will fail)"
else
node-deps: $(NODE_STAMP)
endif

$(NODE_STAMP): $(NODE_DIR)/package.json $(wildcard $(NODE_DIR)/package-lock.json)
	if [ -f $(NODE_DIR)/package-lock.json ]; then npm ci --prefix $(NODE_DIR) --no-audit --no-fund --ignore-scripts; \
	else npm install --prefix $(NODE_DIR) --no-audit --no-fund --ignore-scripts; fi
	touch $@

run: $(GEN)
	$(VENV)/bin/sfdest serve

# The Salesforce emulator (tools/emulator), in the foreground: make emulator [PORT=8383] [CONN=conn.json]
PORT ?= 8383
emulator: $(GEN)
	$(PY) -m tools.emulator --port $(PORT) $(if $(CONN),--conn $(CONN))

# sfdest serve against the Salesforce emulator (latency model, README) beside the per-event baseline; figures also
# in bench-results.json. bench-quick: N = 1 (200 Applies) and 200, 10 ms base.
bench: $(GEN)
	$(PY) -m tests.bench --json bench-results.json

bench-quick: $(GEN)
	$(PY) -m tests.bench --quick --json bench-results-quick.json

# The Redis adapter's tests and the multi-replica suite start a real redis-server (Debian's package).
redis-server:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; \
	  else echo "redis-server not found: install it (Debian/Ubuntu: sudo apt-get install redis-server;" \
	    "macOS: brew install redis) so that redis-server is on PATH, then run make test again" >&2; exit 1; fi; }

# 4 workers on 2 cores: many tests wait (on sfdest serve and Redis processes, the emulator's latency model,
# deadlines, Bulk jobs), and waits overlap; more workers than 4 only add start-up work. worksteal: a worker
# that runs out takes queued tests from the others (plain load leaves one worker with a long tail).
# Bytecode caches on even where PYTHONDONTWRITEBYTECODE is set: otherwise every worker rewrites and compiles
# every test module again, and every `sfdest serve` the tests start compiles sfdest.
test: $(GEN) node-deps redis-server
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n 4 --dist worksteal tests

# Not in `make test`: the Hypothesis properties with new examples on every run (make test replays a fixed set, so
# CI's verdict never depends on the draw). A failure prints the example; make it a test of its own. EXPLORE_RUNS=5.
EXPLORE_RUNS ?= 5
explore: $(GEN)
	for i in $$(seq $(EXPLORE_RUNS)); do HYPOTHESIS_PROFILE=explore $(PY) -m pytest -q -n 2 -m hypothesis tests || exit 1; done

# Not in `make test`: 100 rounds of 50 concurrent upserts of one new Email through `sfdest serve` and the
# emulator; prints "N of 100 rounds end with one Lead" (about 2 minutes). Then newest event wins at the issue's
# scale (20,000 events on 500 keys over 3 replicas and a real Redis; make test runs 2,000 on 100); prints the figure.
# Then kill -9 of the replica polling a 50,000-record Bulk job (make test runs 2,500); prints the figure.
# Then the write paths at the issue's scale: 20,000 upserts a write with the default collections of 200 and Bulk
# weighed from 10,000 (make test runs 2,000 with collections of 20 and Bulk from 1,000: the same calls).
# Then the larger sizes of tests make test runs small: one ApplyStream of 20,000 events in 20 messages (make test:
# 4,000), 2,000 generated SOQL values and names per property (make test: 100), 150 random scenarios per block of
# the batch differential test (make test: 80).
# Then `sfdest serve` (memory backend) under many orgs, idle connections and connection churn, without and with
# the memory and connection bounds, 2 minutes each: prints RSS at start, middle and end, the drift, orgs and
# records kept, connections open.
soak: $(GEN) redis-server
	$(PY) -m tests.e2e.salesforce.upsert_rounds --rounds 100 --racers 50
	NEWEST_EVENTS=20000 NEWEST_KEYS=500 NEWEST_PER_APPLY=200 $(PY) -m pytest -q -s -p no:randomly \
	    tests/e2e/replicas/test_newest_event.py
	BULK_KILL_RECORDS=50000 $(PY) -m pytest -q -s -p no:randomly tests/e2e/replicas/test_bulk_handover.py
	WRITE_PATHS_RECORDS=20000 $(PY) -m pytest -q -s -p no:randomly tests/e2e/salesforce/test_grpc_write_paths.py
	STREAM_EVENTS=20000 SOQL_PROPERTY_EXAMPLES=2000 DIFFERENTIAL_SEEDS=150 $(PY) -m pytest -q -p no:randomly \
	    tests/e2e/salesforce/test_apply_stream.py tests/e2e/salesforce/test_soql_values_property.py \
	    tests/contract/test_batch_differential.py
	GRPC_VERBOSITY=ERROR $(PY) -m tests.server.memory_soak --seconds 120

lint: $(GEN)
	$(PY) -m ruff check core adapters server tests tools
	$(PY) tools/check_dependencies.py
	$(PY) -m mypy  # core, adapters and server; settings in pyproject.toml [tool.mypy]
	@command -v npx >/dev/null 2>&1 || { echo "lint: npx not found: buf needs Node.js and npm" >&2; exit 1; }
	$(BUF) lint
	@ref=$(BREAKING_AGAINST); \
	if git rev-parse -q --verify "refs/heads/$$ref^{commit}" >/dev/null; then against=".git#branch=$$ref"; \
	elif git rev-parse -q --verify "refs/remotes/origin/$$ref^{commit}" >/dev/null; then \
	  ref="origin/$$ref"; against=".git#ref=$$ref"; \
	else echo "buf breaking: no branch '$$ref' (nor origin/$$ref) to compare with" >&2; exit 1; fi; \
	if ! git ls-tree -r --name-only "$$ref" -- proto | grep -q '\.proto$$'; then \
	  echo "buf breaking: skipped: $$ref has no proto/ yet"; exit 0; fi; \
	git cat-file -e "$$ref:buf.yaml" 2>/dev/null || against="$$against,subdir=proto"; \
	echo "$(BUF) breaking --against '$$against'"; \
	$(BUF) breaking --against "$$against"

clean:
	rm -rf $(VENV) gen .pytest_cache .ruff_cache .hypothesis node_modules $(NODE_DIR)/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# 1,000,000 upserts on an external id through one ApplyStream against the emulator (latency model): API calls in
# all, a result per event, the server's CPU time (per step) and peak RSS. Not part of bench. RECORDS=200000 for less.
RECORDS ?= 1000000
bench-million: $(GEN)
	$(PY) -m tests.bench.million --records $(RECORDS)
