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

.PHONY: all run test lint proto stubs clean emulator bench bench-quick node-deps
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
stubs: $(GEN)
	@echo "Python stubs: package 'sfdest.v1' in $(GEN_DIR) (installed editable in $(VENV))."

run: $(GEN)
	$(VENV)/bin/sfdest serve

emulator: $(GEN)
	$(VENV)/bin/sfdest emulator

test: $(GEN)
	$(PY) -m pytest -n 2 tests

lint: $(GEN)
	$(PY) -m ruff check core adapters server tests tools
	$(PY) tools/check_dependencies.py
	@if command -v npx >/dev/null 2>&1; then \
	  npx --yes @bufbuild/buf@1.50.0 lint proto; \
	else echo "npx not found: buf lint skipped"; fi

clean:
	rm -rf $(VENV) gen .pytest_cache .ruff_cache .hypothesis node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
