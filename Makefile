# Two commands for a fresh machine (Python 3.11, git, make):
#   make demo   the whole loop on the embedded defaults (MODEL=visits: that model's loop alone)
#   make test   lint, type check and every test suite
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# A uv already on PATH (a CI image, a runner that has one) is used as is; else it is pinned into the venv.
UV_ON_PATH := $(shell command -v uv 2>/dev/null)
UV     := $(or $(UV_ON_PATH),$(BIN)/uv)
STAMP  := $(VENV)/.installed
LOCK   ?= requirements.lock
PYTEST_ARGS ?= --durations=40

.PHONY: venv test lint typecheck unit demo bench lock binaries clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 2; }
	$(PYTHON) -m venv $(if $(UV_ON_PATH),--without-pip) $(VENV)

# The lock file pins every version; uv installs from it fast and reproducibly. Compiled at install:
# uv writes no bytecode by default, and where PYTHONDONTWRITEBYTECODE is set (CI images often do) every
# process would compile its imports again (`import mlflow`: 7.0 s of CPU, 2.6 s compiled).
$(STAMP): $(BIN)/python $(LOCK) pyproject.toml
	$(if $(UV_ON_PATH),,$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9")
	$(UV) pip sync --compile-bytecode --python $(BIN)/python $(LOCK)
	$(UV) pip install --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check scripts tests bench
	$(BIN)/ruff format --check scripts tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/core tests/architecture $(PYTEST_ARGS)

demo: $(STAMP)
	-@./scripts/install-binaries --if-root
	$(BIN)/modelops demo $(if $(MODEL),--model $(MODEL))

bench: $(STAMP)
	$(BIN)/python -m bench --write-readme

# Re-resolve the pins after changing a range in pyproject.toml.
lock: $(STAMP)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements.lock
	$(UV) pip compile requirements-rollback.in -c requirements.lock --python-version 3.11 --no-header -o requirements-rollback.lock

binaries:
	./scripts/install-binaries

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
