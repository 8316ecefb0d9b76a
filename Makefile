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

# Demo registry in ./registry.db (created once), a fresh API token, and the server.
run: $(VENV)/.installed
	$(BIN)/registry init --admin $(DEMO_ADMIN) --name "Demo Administrator"
	@echo "Demo administrator: $(DEMO_ADMIN) (act as them with --as $(DEMO_ADMIN))"
	@echo "API token for $(DEMO_ADMIN), shown once (send it as Authorization: Bearer TOKEN):"
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

bench: $(VENV)/.installed
	$(BIN)/python bench/import_accounts.py
	$(BIN)/python bench/vault.py
	$(BIN)/python bench/handover.py
	$(BIN)/python bench/compliance.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/cli_start.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
