PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_ADMIN ?= admin@gov.mb.ca
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test fuzz bench clean i18n-extract i18n-update i18n-compile

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
run: $(VENV)/.installed i18n-compile
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

# Lint, types, the import contracts (pyproject.toml) and the whole test suite (SQLite unless
# REGISTRY_TEST_DATABASE_URL is set), spread over one worker per core (pytest-xdist; every test
# has its own database or schema, so they run in any order). TEST_WORKERS=0 runs them in one
# process, in order.
TEST_WORKERS ?= auto

test: $(VENV)/.installed-dev i18n-compile
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_WORKERS)

# The public side's messages in English and French (Babel; registry/i18n.py explains). After
# changing a message: i18n-update (extract, then merge into fr's .po), translate what it marks
# new or fuzzy, i18n-compile. The .mo is built here, not committed; without it the registry
# compiles the .po in memory when it starts.
LOCALE := registry/locale

i18n-extract: $(VENV)/.installed
	$(BIN)/pybabel --quiet extract -F $(LOCALE)/babel.cfg --project=social-media-registry \
		--version=0.1.0 --copyright-holder="Government of Manitoba" -o $(LOCALE)/messages.pot .

i18n-update: i18n-extract
	$(BIN)/pybabel --quiet update -i $(LOCALE)/messages.pot -d $(LOCALE)

i18n-compile: $(VENV)/.installed
	$(BIN)/pybabel --quiet compile -d $(LOCALE)

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
