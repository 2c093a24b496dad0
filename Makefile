# IOC Stream. The two commands of the README: `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STACK := deploy/stack.sh
IOC_SIMULATE ?= 1
API_PORT := $(or $(IOC_API_PORT),8000)
# The services find the stack where deploy/stack.sh starts it, unless told otherwise.
export IOC_DATABASE_URL ?= postgresql://postgres@127.0.0.1:$(or $(IOC_PG_PORT),55432)/ioc
export IOC_KAFKA_BOOTSTRAP ?= $(shell $(STACK) bootstrap)

.PHONY: help venv tools up down reset status test test-faults lint typecheck unit integration bench k8s

help:
	@echo "make up      start Kafka, PostgreSQL, a mail sink, the worker, the API, the simulator and the connectors"
	@echo "make down    stop them (data survives)    make reset   stop and wipe local data"
	@echo "make test    ruff, mypy and the whole test suite against real Kafka and PostgreSQL"
	@echo "make test-faults   the fault and bad-input suite at full scale (RELIABILITY.md)"
	@echo "make bench   ingest (beside Kafka Connect + Debezium), storage, HTTP push, wall API, freshness and SensorThings benchmarks (BENCHMARKS.md)"

# The virtual environment, rebuilt when pyproject.toml changes.
$(BIN)/ioc: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
	  || { echo "IOC Stream needs Python 3.11 (found $$($(PYTHON) --version))"; exit 1; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: $(BIN)/ioc

up: venv
	@$(STACK) up postgres kafka
	@$(BIN)/ioc migrate
	@$(BIN)/ioc topics ensure
	@$(STACK) up mail worker api
	@if [ "$(IOC_SIMULATE)" != 0 ]; then $(STACK) up simulator connectors; \
	  else $(STACK) leave-out simulator; \
	    if [ -n "$$IOC_CONNECTORS_DIR" ]; then $(STACK) up connectors; fi; fi
	@deploy/wall-key.sh
	@echo
	@echo "  API        http://127.0.0.1:$(API_PORT)    (docs: /docs, readiness: /readyz)"
	@echo "  metrics    http://127.0.0.1:$(API_PORT)/metrics, worker http://127.0.0.1:$(or $(IOC_WORKER_METRICS_PORT),9101)/metrics"
	@echo "  connectors metrics http://127.0.0.1:$(or $(IOC_CONNECTORS_METRICS_PORT),9120)/metrics (where connectors run)"
	@echo "  logs       $(or $(IOC_STACK_DIR),.stack)/logs/"
	@echo "  mail       $(or $(IOC_STACK_DIR),.stack)/mail/*.eml (the API's e-mail, caught by a local sink)"

down:
	@$(STACK) down

reset:
	@$(STACK) reset

status:
	@$(STACK) status

# The Kubernetes manifests' parts that other files define (schemas, alert rules, topics).
k8s: venv
	$(BIN)/python deploy/k8s/render.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

# TimescaleDB (built from ../shared/vendor when no package has it), Prometheus (promtool) and
# Chromium, which the tests use; installed when missing (as root).
tools:
	@$(STACK) tools

# No test may depend on the wall clock: the unit tests and the store's tests run once more with
# the clock a year ahead (libfaketime). The broker keeps the real clock (libfaketime makes its
# JVM spin) and takes records stamped ahead of it. The library is preloaded directly, not by the
# `faketime` wrapper: the wrapper names a shared semaphore after its PID, which collides with
# one an earlier run left in /dev/shm ("sem_open: File exists") and which PostgreSQL, run as its
# own user, may not open (it did not start). The library alone still keeps a semaphore a process
# in /dev/shm, named by its PID: a process run as PostgreSQL's user cannot open the suite's
# (root's), makes its own and may leave it behind, and one left by an earlier run refuses the
# process that later gets its PID ("sem_open failed ... Permission denied"; PIDs come round at
# 32,768), so those whose process is gone are removed before the pass.
FAKETIME_LIB = $(firstword $(wildcard /usr/lib/*/faketime/libfaketimeMT.so.1))
FAKE_CLOCK = FAKETIME_SKIP_CMDS=java FAKETIME=+365d LD_PRELOAD=$(FAKETIME_LIB) \
  IOC_KAFKA_OVERRIDES=log.message.timestamp.after.max.ms=9223372036854775807

# The whole suite on TimescaleDB (where installed: `make tools` builds it), then every test
# that touches the store again on plain PostgreSQL, the fallback mode, then the clock moved.
test: lint typecheck tools
	$(BIN)/pytest -p no:cacheprovider
	IOC_STORAGE_MODE=postgres $(BIN)/pytest -p no:cacheprovider -m "storage and not timescaledb" \
	  tests/integration
	@test -n "$(FAKETIME_LIB)" || { echo "libfaketime is missing: make tools installs it"; exit 1; }
	@for f in /dev/shm/sem.faketime_sem_* /dev/shm/faketime_shm_*; do \
	  [ -e "$$f" ] && [ ! -d "/proc/$${f##*_}" ] && rm -f "$$f" 2>/dev/null; done; true
	$(FAKE_CLOCK) $(BIN)/pytest -p no:cacheprovider -m "(not integration or storage) and not real_clock" \
	  tests/unit tests/integration

# The fault and bad-input suite at the issue's own scale (RELIABILITY.md); its quick parts run
# in `make test` too.
FAULT_TESTS := tests/integration/ingest/test_faults.py tests/integration/ingest/test_flood.py \
  tests/integration/test_kafka_cluster.py tests/integration/api/test_openapi_conformance.py \
  tests/integration/api/test_access.py tests/integration/api/test_push.py \
  tests/integration/api/test_hostile.py \
  tests/integration/common/test_stack.py tests/unit/test_config_guard.py \
  tests/unit/common/intake/test_normalise_properties.py
test-faults: lint typecheck tools
	IOC_FAULTS=full $(BIN)/pytest -p no:cacheprovider -v $(FAULT_TESTS)
	IOC_FAULTS=full IOC_STORAGE_MODE=postgres $(BIN)/pytest -p no:cacheprovider -v \
	  -m "storage and not timescaledb" $(FAULT_TESTS)

# Benchmarks on a stack of their own, the store's in both modes where TimescaleDB is installed;
# figures go to bench/results/ and BENCHMARKS.md.
bench: venv
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.storage
	$(BIN)/python -m bench.http
	$(BIN)/python -m bench.uploads
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.freshness
	$(BIN)/python -m bench.sta
	$(BIN)/python -m bench.report
