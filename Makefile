# The two set-up commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration bench down clean

$(STAMP): pyproject.toml setup.py aioproducer/_speedups.c aioproducer/_relay.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

## demo: start (or reuse) a local Kafka broker and run the producer demo against it
demo: $(STAMP)
	@BOOTSTRAP=$$($(PY) -m aioproducer.testing up) && echo "broker: $$BOOTSTRAP" && \
	  $(PY) -m benchmarks.demo --bootstrap "$$BOOTSTRAP"

# The paths the optional C extension replaces, run again on the pure-Python code alone.
PURE_TESTS := tests/unit/test_records.py tests/unit/test_accumulator.py \
	tests/unit/test_record_runs.py tests/integration/test_produce.py \
	tests/integration/test_send_many.py

## test: quality gates, then the whole suite against a broker the run starts itself
test: $(STAMP) lint typecheck
	$(PY) -m pytest
	AIOPRODUCER_PURE_PYTHON=1 $(PY) -m pytest -q $(PURE_TESTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check aioproducer tests benchmarks
	$(VENV)/bin/ruff format --check aioproducer tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit

bench: $(STAMP)
	$(PY) -m benchmarks run

## down: stop the broker `make demo` left running
down: $(STAMP)
	$(PY) -m aioproducer.testing down

clean: down
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
