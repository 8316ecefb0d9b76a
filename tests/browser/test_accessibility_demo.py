"""The demo registry in the browser: its sign-in page, with a "Sign in as …" button for each
demo person, passes axe-core's WCAG 2.0/2.1 A and AA rules, a button works with the keyboard
alone, and the home each role lands on (full of the demo's content) passes too.

The module serves one demo registry (``registry demo``'s content, made by its service) with a
real uvicorn process; each test signs in in a browser context of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser.conftest import MISSING, TIMEOUT_MS, _free_port, _wait_until_up

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Browser, Page, expect

from registry.services import demo
from tests.browser.test_accessibility import describe, violations
from tests.conftest import FreshDatabase, new_database

# Who to be, and the section of their home that shows the demo's content.
PEOPLE = {
    "requester": ("Tom Klassen, program staff (requester)", "Accounts I hold"),
    "department_executive": ("Marie Desjardins, department executive", "Awaiting my decision"),
    "ced": ("Camille Roy, CED staff", "Credentials to rotate"),
    "administrator": ("Alex Morgan, administrator and CED staff", "Reviews due"),
    "auditor": ("Helen Park, auditor", "My requests"),
}


@contextmanager
def _serving(db: FreshDatabase, folder: Path) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "REGISTRY_DATABASE_URL": db.url, "REGISTRY_KEYRING": str(db.keyring_path)}
    env.pop("REGISTRY_ACTOR", None)
    log = folder / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "registry.http.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(proc, url, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("demo")
    with contextmanager(new_database)(folder) as db:
        with db.scope() as session:
            demo.build(session, settings=db.settings(), keyring=db.keyring())
        with _serving(db, folder) as url:
            yield url


@pytest.fixture
def page(browser: Browser, demo_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=demo_url, viewport={"width": 1100, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _assert_axe(page: Page) -> None:
    found = violations(page)
    assert not found, f"axe-core violations on {page.url}:\n{describe(found)}"


def test_the_sign_in_page_with_its_demo_people_passes_axe(page: Page) -> None:
    page.goto("/login")
    expect(page.get_by_role("heading", level=2, name="Sign in as a demo person")).to_be_visible()
    for name, _ in PEOPLE.values():
        expect(page.get_by_role("button", name=f"Sign in as {name}", exact=True)).to_be_visible()
    _assert_axe(page)


@pytest.mark.parametrize("role", PEOPLE)
def test_each_role_signs_in_and_its_home_passes_axe(page: Page, role: str) -> None:
    name, section = PEOPLE[role]
    page.goto("/login")
    page.get_by_role("button", name=f"Sign in as {name}", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    expect(page.get_by_role("heading", level=2, name=section, exact=True)).to_be_visible()
    _assert_axe(page)


def test_a_demo_button_works_with_the_keyboard_alone(page: Page) -> None:
    page.goto("/login")
    first = page.get_by_role("button", name=re.compile(r"^Sign in as ")).first
    for _ in range(20):  # past the skip link and the header's links
        page.keyboard.press("Tab")
        if first.evaluate("el => el === document.activeElement"):
            break
    expect(first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console$"))
    expect(page.get_by_role("button", name=re.compile(r"^Sign out "))).to_be_visible()
