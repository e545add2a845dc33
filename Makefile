# crispml — the README's two commands, plus bench and lint.
# Only Python 3.11+ and make are needed: the targets create .venv themselves
# and install the pinned dependencies from requirements/*.lock.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet
RUNTIME_STAMP := $(VENV)/.stamp-runtime
DEV_STAMP     := $(VENV)/.stamp-dev

.PHONY: demo test test-fast bench lint lock clean help

help:
	@echo "make demo   - set up .venv and run 'crispml demo' (the CRISP-DM tour)"
	@echo "make test   - set up .venv with the dev tools, lint, and run the test suite (on every core, in random order)"
	@echo "make test-fast - the same without the kill and load tests (marked kill, load): the edit-test loop"
	@echo "make bench  - run every benchmark in benchmarks/ (or: python benchmarks/NAME.py [--quick])"
	@echo "make lint   - ruff and mypy --strict on src/"
	@echo "make lock   - re-pin requirements/*.lock from pyproject.toml"

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "crispml needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): $(BIN)/python requirements/runtime.lock pyproject.toml
	$(PIP) install -r requirements/runtime.lock
	$(PIP) install --no-deps -e .
	@touch $@

$(DEV_STAMP): $(BIN)/python requirements/dev.lock pyproject.toml
	$(PIP) install -r requirements/dev.lock
	$(PIP) install --no-deps -e .
	@touch $@ $(RUNTIME_STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/crispml demo

# pytest's options (-n auto: one worker per core; random order) are in pyproject.toml; see tests/README.md.
# The suite starts with lint: mypy is what checks every call between services (README, Layout).
test: lint
	$(BIN)/python -m pytest --durations=15

test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not kill and not load" --durations=15

bench: $(DEV_STAMP)
	@for bench in benchmarks/*.py; do echo "== $$bench"; $(BIN)/python $$bench || exit 1; done

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet .
	.lock-venv/bin/pip freeze --exclude crispml > requirements/runtime.lock
	.lock-venv/bin/pip install --quiet '.[s3,postgres,dev]'
	.lock-venv/bin/pip freeze --exclude crispml > requirements/dev.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
