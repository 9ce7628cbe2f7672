# The two commands a newcomer runs are `make demo` and `make test`; both set themselves up.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TOOLS := .tools

.PHONY: setup system-deps demo test lint typecheck actions-lint unit bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

system-deps:
	@bash scripts/install-system-deps.sh

setup: $(STAMP) system-deps

lint: $(STAMP)
	$(VENV)/bin/ruff check bot sandbox tests benchmarks
	$(VENV)/bin/ruff format --check bot sandbox tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy bot sandbox tests  # strict; tests relax only annotations (pyproject.toml)

actions-lint: setup
	@bash scripts/lint-actions.sh

# Four workers on two cores: most tests wait on git, the registry or the sandbox, not the CPU.
unit: setup
	$(VENV)/bin/pytest -n 4

test: setup lint typecheck actions-lint unit

demo: setup
	$(PY) -m sandbox.demo

bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
