"""Defaults that a service applies and the command line's help shows, defined once here.

``registry --help`` must not load SQLAlchemy or the services (``tests/test_cli_startup.py``), so
a default it prints lives in this module, which imports nothing, and the service that applies
it imports it from here.
"""

from __future__ import annotations

TOKEN_DAYS = 90
"""Days an API token lasts unless its creator says otherwise (``registry.services.tokens``)."""

TOKEN_MAX_DAYS = 366
"""The longest an API token may last."""

PAGE_LIMIT = 100
"""Rows a list answers at a time unless asked for another number (the API and the CLI)."""

PAGE_MAX = 1000
"""The most rows a list answers at a time."""
