# collections_mi — the two commands of README.md: `make pack` and `make test`.
# Both create/reuse .venv/ in the project root and install the project into it (quick when already installed).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PARAMS ?= params/2026-10.yaml
DEMO   ?= data/demo
export GX_ANALYTICS_ENABLED := False

.PHONY: pack test install demo validate metrics lab clean-venv help chromium

help:
	@echo "make pack   - install, generate the demo ledger if missing, validate and publish the pack for $(PARAMS)"
	@echo "make test   - install, then run the test suite"
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

test: install
	$(BIN)/python -m pytest -q -n auto

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
