# Farebox: `make run` starts the suite locally, `make test` runs every check and test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
BUF := $(VENV)/bin/buf

.PHONY: run test gen check-contracts check-gen check-k8s lint bench clean

$(INSTALLED): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

run: $(INSTALLED)
	$(PY) -m farebox_cli run

test: $(INSTALLED) check-contracts lint
	$(PY) -m pytest

gen: $(INSTALLED)
	PYTHON=$(PY) scripts/generate_stubs.sh gen

check-contracts: check-gen
	$(BUF) lint
	$(BUF) format --diff --exit-code --path proto/farebox
	scripts/check_breaking.sh $(BUF)

check-gen: $(INSTALLED)
	PYTHON=$(PY) scripts/check_generated.sh

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy common seat_service payment_service booking_service gateway farebox_cli benchmarks

check-k8s: $(INSTALLED)
	PYTHON=$(PY) scripts/validate_k8s.sh

bench: $(INSTALLED)
	$(PY) -m benchmarks all

clean:
	rm -rf $(VENV) .farebox .pytest_cache .ruff_cache .mypy_cache
