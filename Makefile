# collections_mi — the two commands of README.md: `make pack` and `make test`.
# Both create/reuse .venv/ in the project root and install the project into it (quick when already installed).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WSTAMP := $(VENV)/.installed-warehouse
PARAMS ?= params/2026-10.yaml
DEMO   ?= data/demo
export GX_ANALYTICS_ENABLED := False

.PHONY: pack test install demo validate metrics lab clean-venv help chromium engines

help:
	@echo "make pack   - install, generate the demo ledger if missing, validate and publish the pack for $(PARAMS)"
	@echo "make test   - install (with the warehouse extra, PostgreSQL and Java for the engine tests), then run the test suite"
	@echo "make lab    - open JupyterLab on the project"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@$(MAKE) --no-print-directory chromium
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
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

$(WSTAMP): $(STAMP)
	@$(MAKE) --no-print-directory engines
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,warehouse]'
	@touch $(WSTAMP)

install: $(STAMP)

$(DEMO)/invoices.csv: | $(STAMP)
	$(BIN)/collections-mi demo --out $(DEMO)

demo: $(DEMO)/invoices.csv

pack: install demo
	$(BIN)/collections-mi pack --params $(PARAMS)

validate: install demo
	$(BIN)/collections-mi validate --params $(PARAMS)

metrics: install demo
	$(BIN)/collections-mi metrics --params $(PARAMS)

# --dist loadgroup: the tests of one engine share a worker, hence one Postgres server and one Spark JVM
test: install $(WSTAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadgroup

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
