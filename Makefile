# collections_mi — the two commands of README.md: `make pack` and `make test`.
# Both create/reuse .venv/ in the project root and install the project into it from the committed lock
# (requirements/*.txt: every package pinned with its hashes); quick when already installed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WSTAMP := $(VENV)/.installed-warehouse
PARAMS ?= params/2026-10.yaml
DEMO   ?= data/demo
export GX_ANALYTICS_ENABLED := False

# The lock (see `make lock`): base.txt the package alone, dev.txt with the dev extra (make install/pack, conda's
# environment.yml), warehouse.txt with the dev and warehouse extras (make test). Same versions in all three.
LOCK      := requirements
PIP       := -m pip install --quiet --disable-pip-version-check
# the lock pins setuptools and wheel too: the project itself is built with them, not with a newest-of-the-day
# backend fetched into an isolated build environment
PIP_SELF  := $(PIP) --no-deps --no-build-isolation -e .
# pip-tools for `make lock` and `make upgrade-check`, in a venv of its own outside the project
TOOLS_VENV ?= /tmp/collections_mi-pip-tools
PIP_TOOLS  ?= pip-tools==7.7.0
COMPILE    := CUSTOM_COMPILE_COMMAND="make lock" $(TOOLS_VENV)/bin/pip-compile --quiet --allow-unsafe --strip-extras \
              --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --all-build-deps
UPGRADE_VENV ?= /tmp/collections_mi-upgrade-check
# what upgrade-check runs: the suite without the Postgres/Spark engine tests (they need the server and a JVM and take
# a third of the time); UPGRADE_PYTEST= runs everything
UPGRADE_PYTEST ?= -m "not engines"

.PHONY: readme pack test test-quick lint install demo validate metrics bench lab clean-venv help chromium engines lock upgrade-check lock-python

help:
	@echo "make pack   - install, generate the demo ledger if missing, validate and publish the pack for $(PARAMS)"
	@echo "make test   - install from the lock (requirements/warehouse.txt; PostgreSQL and Java for the engine tests), run"
	@echo "              make lint, then the test suite; with CI=true a missing engine fails its tests instead of skipping"
	@echo "make lint   - the import layers (lint-imports), ruff check, ruff format --check and mypy on src/"
	@echo "make lab    - open JupyterLab on the project"
	@echo "make bench  - the quick benchmark: 100k invoices, metrics against the same-work floor, ratios printed"
	@echo "make readme - regenerate README § Architecture's KPI catalogue from the section registry"
	@echo "make lock   - re-resolve requirements/*.txt (hashes) after a change to pyproject.toml, keeping the pins"
	@echo "              it can; LOCK_ARGS=--upgrade moves everything to the newest allowed, LOCK_ARGS='-P duckdb' one"
	@echo "make upgrade-check - install the newest versions pyproject.toml allows in a scratch venv ($(UPGRADE_VENV)),"
	@echo "              run the suite there (UPGRADE_PYTEST='$(UPGRADE_PYTEST)'), print what differs from the lock;"
	@echo "              never changes the lock"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(LOCK)/dev.txt pyproject.toml | $(BIN)/python
	@$(MAKE) --no-print-directory chromium
	$(BIN)/python $(PIP) --require-hashes -r $(LOCK)/dev.txt
	$(BIN)/python $(PIP_SELF)
	@touch $(STAMP)

# A headless browser for the email's static charts (Kaleido) and the browser tests: Debian's chromium, never a
# downloaded one. Installed when missing and we can (root with apt-get); otherwise charts are left out of the email.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium (headless charts and browser tests)…"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium not found and cannot be installed here; email charts will be omitted"; fi; }

# The engine tests (tests/test_engines.py) run the pack on Postgres and Spark too: they need Debian's PostgreSQL server
# (they start a throwaway one of their own) and a Java runtime for Spark, installed when missing and we can (root with
# apt-get; otherwise those tests skip and say why), and the `warehouse` extra — PySpark is ~470 MB, so `make test`
# installs it, `make pack` does not.
engines:
	@missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's$$missing (Postgres and Spark engine tests)…"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "note:$$missing not found and cannot be installed here; the Postgres/Spark engine tests will skip"; fi; fi

$(WSTAMP): $(STAMP) $(LOCK)/warehouse.txt
	@$(MAKE) --no-print-directory engines
	$(BIN)/python $(PIP) --require-hashes -r $(LOCK)/warehouse.txt
	@touch $(WSTAMP)

install: $(STAMP)

# the newest table the demo writes: a demo ledger generated before it (contract v1.1) is written again
$(DEMO)/unapplied_cash.csv: | $(STAMP)
	$(BIN)/collections-mi demo --out $(DEMO)

demo: $(DEMO)/unapplied_cash.csv

pack: install demo
	$(BIN)/collections-mi pack --params $(PARAMS)

validate: install demo
	$(BIN)/collections-mi validate --params $(PARAMS)

metrics: install demo
	$(BIN)/collections-mi metrics --params $(PARAMS)

# The performance guard (benchmarks/README.md): 100k demo invoices, the same-work floor, the aging+DSO floor and
# `metrics`, each its own process; prints seconds, peak RSS and the ratios; saves nothing (under a minute).
# BENCH_ARGS adds or replaces options, e.g. make bench BENCH_ARGS="--runs floor_full,floor,metrics,pack".
bench: install
	$(BIN)/python benchmarks/run.py --quick $(BENCH_ARGS)

# The guards `make test` (hence CI) runs before the suite: the floors' import contract (pyproject's
# [tool.importlinter]), lint and formatting over the whole repo, types on src/ ([tool.mypy]). All four run, then it
# fails if any did. Fix a formatting finding with `$(BIN)/ruff format .`.
lint: install
	@status=0; \
	for check in "lint-imports --no-logo" "ruff check ." "ruff format --check ." "mypy"; do \
	  echo "$(BIN)/$$check"; $(BIN)/$$check || status=1; \
	done; \
	exit $$status

# --dist loadgroup: the tests of one engine share a worker, hence one Postgres server and one Spark JVM
test: lint $(WSTAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadgroup

# The inner loop: no lint, no notebooks executed, no engines (tests marked slow or engines are left out) — about
# two minutes; `make test` before committing
test-quick: install
	$(BIN)/python -m pytest -q -n auto -m "not slow and not engines"

# README § Architecture's KPI catalogue, generated from the section registry (tests/test_docs.py fails when stale)
readme: install
	$(BIN)/python -c "import pathlib; from collections_mi.presentation.catalog import with_catalogue as w; \
	p = pathlib.Path('README.md'); p.write_text(w(p.read_text(encoding='utf-8')), encoding='utf-8')"

# JupyterLab on the project with its kernel (the venv's python3); notebooks/explore/ holds the exploration notebooks.
# First the month-end history they read (reports/history/) gets the last report.trend_months months of $(PARAMS)
# that it lacks (`backfill --missing-only`: nothing to do, and the ledger is not opened, once they are there).
# LAB_ARGS passes options through, e.g. make lab LAB_ARGS="--no-browser --port 8890".
LAB_ARGS ?=
lab: install demo
	$(BIN)/collections-mi backfill --params $(PARAMS) --missing-only
	$(BIN)/jupyter lab --allow-root --notebook-dir=. $(LAB_ARGS)

clean-venv:
	rm -rf $(VENV)

# ---------------------------------------------------------------------------------------------- the dependency lock
# requirements/*.txt are resolved for CPython 3.11 on Linux x86_64 (what CI and the developers run) from the bounds
# in pyproject.toml, by pip-compile through pip's own configuration (its index, mirrors): no index is written into
# them. warehouse.txt is resolved first; dev.txt and base.txt are constrained to its versions.
lock-python:
	@$(PYTHON) -c 'import platform, sys; ok = sys.version_info[:2] == (3, 11) and sys.platform == "linux" and \
	  platform.machine() == "x86_64"; sys.exit(0 if ok else "the lock is resolved for CPython 3.11 on Linux x86_64, " \
	  f"not Python {platform.python_version()} on {sys.platform} {platform.machine()}: set PYTHON=python3.11")'

$(TOOLS_VENV)/bin/pip-compile: | lock-python
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python $(PIP) '$(PIP_TOOLS)'

LOCK_ARGS ?=
lock: lock-python $(TOOLS_VENV)/bin/pip-compile
	$(COMPILE) --generate-hashes $(LOCK_ARGS) --extra dev --extra warehouse -o $(LOCK)/warehouse.txt pyproject.toml
	$(COMPILE) --generate-hashes --extra dev -c $(LOCK)/warehouse.txt -o $(LOCK)/dev.txt pyproject.toml
	$(COMPILE) --generate-hashes -c $(LOCK)/warehouse.txt -o $(LOCK)/base.txt pyproject.toml
	@echo "requirements/ re-resolved; review with git diff requirements/, then make test"

# The newest versions pyproject.toml allows, in a scratch venv: resolved (no hashes), installed, the suite run with
# them, and a short list of what differs from the lock. The lock and .venv are left as they are: to adopt the
# versions, make lock LOCK_ARGS=--upgrade.
upgrade-check: lock-python $(TOOLS_VENV)/bin/pip-compile
	rm -rf $(UPGRADE_VENV) && $(PYTHON) -m venv $(UPGRADE_VENV)
	$(COMPILE) --upgrade --extra dev --extra warehouse -o $(UPGRADE_VENV)/newest.txt pyproject.toml
	@$(PYTHON) $(LOCK)/version_diff.py $(LOCK)/warehouse.txt $(UPGRADE_VENV)/newest.txt
	$(UPGRADE_VENV)/bin/python $(PIP) -r $(UPGRADE_VENV)/newest.txt
	$(UPGRADE_VENV)/bin/python $(PIP_SELF)
	@$(MAKE) --no-print-directory engines
	@status=0; $(UPGRADE_VENV)/bin/python -m pytest -q -n auto --dist loadgroup -p no:cacheprovider $(UPGRADE_PYTEST) \
	  || status=$$?; \
	$(PYTHON) $(LOCK)/version_diff.py $(LOCK)/warehouse.txt $(UPGRADE_VENV)/newest.txt; \
	if [ $$status = 0 ]; then echo "upgrade-check: the suite passes with the newest versions above (lock unchanged)"; \
	else echo "upgrade-check: the suite FAILS with the newest versions above (exit $$status; lock unchanged)"; fi; \
	exit $$status
