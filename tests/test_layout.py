"""The layout stays readable (docs/adr/0005-layout.md): no module grows past what one
reading holds, and the edges keep to their places. Which way imports point is checked by
import-linter (``lint-imports`` in ``make test``, contracts in pyproject.toml)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("registry", "cli", "vault")
MAX_LINES = 700


def _modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


class TestModuleSize:
    def test_no_module_is_longer_than_one_reading(self) -> None:
        modules = _modules()
        assert len(modules) > 50  # the walk really found the packages
        too_long = {
            str(path.relative_to(ROOT)): lines
            for path in modules
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        }
        assert not too_long, f"split these modules (over {MAX_LINES} lines): {too_long}"


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route of an application: through included routers and mounted applications."""
    for route in routes:
        nested = getattr(route, "effective_route_contexts", None)
        if callable(nested):  # a router included by FastAPI >= 0.16x
            yield from _routes(nested())
        elif getattr(route, "routes", None) is not None:  # a mounted application
            yield from _routes(route.routes)
        else:
            yield route


class TestOneVerifyHandler:
    """Before: a plain Starlette route answered /verify while a documented FastAPI handler
    for it was never reached."""

    def test_one_route_answers_verify_and_it_is_the_documented_one(self) -> None:
        from registry.config import Settings
        from registry.http.api.routes import verify
        from registry.http.app import create_app

        app = create_app(Settings(database_url="sqlite://", keyring="/nonexistent.keyring"))
        at_verify = [r for r in _routes(app.routes) if getattr(r, "path", None) == "/verify"]
        assert [route.endpoint for route in at_verify] == [verify.verify_account]
        assert at_verify[0].include_in_schema
        assert "/verify" in app.openapi()["paths"]


class TestNoTestHookInProduction:
    def test_no_service_reads_a_pause_variable(self) -> None:
        offenders = [
            str(path.relative_to(ROOT))
            for path in _modules()
            if "REGISTRY_PAUSE" in path.read_text(encoding="utf-8")
        ]
        assert offenders == []
