PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_ADMIN ?= admin@gov.mb.ca
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test fuzz bench clean

# A virtualenv with the project installed (editable); redone when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

# A demo registry in ./registry.db, made once with realistic, made-up content (a registry that
# already has content is left as it is), how to sign in, a fresh API token, and the server.
run: $(VENV)/.installed
	$(BIN)/registry demo --if-empty
	@echo ""
	@echo "The console: http://$(HOST):$(PORT)/console"
	@echo "Sign in at http://$(HOST):$(PORT)/login: in a demo registry, press \"Sign in as ...\" for any"
	@echo "demo person above (each role: requester, department executive, CED, administrator,"
	@echo "auditor); no token is needed. The public directory: http://$(HOST):$(PORT)/directory"
	@echo ""
	@echo "API token for $(DEMO_ADMIN), shown once (send it as Authorization: Bearer TOKEN;"
	@echo "act as them on the command line with --as $(DEMO_ADMIN)):"
	@$(BIN)/registry tokens create $(DEMO_ADMIN) --as $(DEMO_ADMIN)
	$(BIN)/registry serve --host $(HOST) --port $(PORT)

# Lint, types, the import contracts (pyproject.toml) and the whole test suite (SQLite unless REGISTRY_TEST_DATABASE_URL is set).
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

# Schemathesis against the app's own OpenAPI schema, as each role (deselected from `make test`).
fuzz: $(VENV)/.installed-dev
	$(BIN)/pytest -q -m fuzz

# bench/notify.py runs a local SMTP server (aiosmtpd, from the dev extras).
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/import_accounts.py
	$(BIN)/python bench/vault.py
	$(BIN)/python bench/handover.py
	$(BIN)/python bench/compliance.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/cli_start.py
	$(BIN)/python bench/notify.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
