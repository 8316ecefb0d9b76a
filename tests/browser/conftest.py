"""Real-browser tests of the web console: a uvicorn server on a loopback port, headless Chromium.

The whole package is skipped, with the reason, when Playwright or Debian's Chromium is missing
(Playwright's own browser download is not used: ``apt-get install chromium``). Screenshots of
the pages visited go to tests/browser/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from registry.services import accounts, credentials, requests, tokens
from tests.conftest import FreshDatabase, new_database
from tests.factories import CAST, World
from vault import Secret

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return (
            f"browser tests need the Python package playwright ({exc}): "
            "install it with .venv/bin/pip install -e '.[dev]' (or pip install playwright)"
        )
    if CHROMIUM is None:
        return (
            "browser tests need Chromium at /usr/bin/chromium (or `chromium` on PATH): "
            "install it with apt-get install chromium (Playwright's own download is not used)"
        )
    return None


CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and os.path.exists(p)), None
)
# Every test module of this package starts with
# ``if MISSING: pytest.skip(MISSING, allow_module_level=True)``: a skip raised here, in the
# conftest, would abort pytest instead when tests/browser is named on the command line.
MISSING = _missing()
if MISSING is None:
    from playwright.sync_api import expect, sync_playwright


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Also skip, with the reason, any test of this package that was collected anyway."""
    if MISSING:
        here = Path(__file__).parent
        for item in items:
            if here in item.path.parents:
                item.add_marker(pytest.mark.skip(reason=MISSING))


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STARTUP_SECONDS = 20
TIMEOUT_MS = 10_000
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "Fa4m-News!2024"  # the stored password of the ManitobaAg account
# a direct, proxy-free opener: only loopback is ever contacted
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Registry:
    """A running registry server with a small world in its database."""

    url: str
    db: FreshDatabase
    tokens: dict[str, str]  # CAST key -> API token
    ag_account: int  # facebook @ManitobaAg (AGR), holders ced1 and agr_staff, password stored
    health_account: int  # x @MBHealth (HLT), one non-CED holder, no password
    request_id: int  # open new-account request (x @mbag) by agr_requester
    password: str = PASSWORD

    @staticmethod
    def email(who: str) -> str:
        return CAST[who][0]


def _account(
    world: World,
    *,
    platform: str,
    handle: str,
    url: str,
    display_name: str,
    department: str,
    holders: Sequence[str],
    login_email: str,
) -> int:
    """An active account as an import makes it (like World.account, with a display name)."""
    draft = accounts.validate_draft(
        settings=world.settings,
        departments_by_code=accounts.all_departments(world.session),
        platform=platform,
        handle=handle,
        url=url,
        category="official",
        department=department,
        program_area="",
        purpose="Program news",
        login_email=login_email,
        display_name=display_name,
    )
    [account_id] = accounts.insert_active_accounts(
        world.session,
        settings=world.settings,
        actor=world.actor("admin"),
        entries=[(draft, [world.people[h] for h in holders])],
        action="account.created",
    )
    return account_id


def _seed(db: FreshDatabase) -> tuple[dict[str, str], int, int, int]:
    settings = db.settings()
    with db.scope() as session:
        world = World.build(session, settings)
        ag = _account(
            world,
            platform="facebook",
            handle="ManitobaAg",
            url="https://www.facebook.com/ManitobaAg",
            display_name="Manitoba Agriculture",
            department="AGR",
            holders=("ced1", "agr_staff"),
            login_email="agr.social@gov.mb.ca",
        )
        health = _account(
            world,
            platform="x",
            handle="MBHealth",
            url="https://x.com/MBHealth",
            display_name="Manitoba Health",
            department="HLT",
            holders=("hlt_requester",),  # breaks rule 3 twice: compliance findings
            login_email="hlt.social@gov.mb.ca",
        )
        credentials.put(
            session,
            keyring=db.keyring(),
            actor=world.actor("ced1"),
            account_id=ag,
            kind="password",
            value=Secret(PASSWORD),
        )
        request = requests.submit_new_account(
            session,
            settings=settings,
            actor=world.actor("agr_requester"),
            platform="x",
            handle="mbag",
            url="https://x.com/mbag",
            category="official",
            department="AGR",
            purpose="Farm news",
            login_email="agr.social@gov.mb.ca",
            holders=[world.email("agr_staff")],  # no CED holder: CED must add one
        )
        issued = {
            key: tokens.create_token(session, actor=None, email=email).token
            for key, (email, _, _) in CAST.items()
        }
        assert request.id is not None
        return issued, ag, health, request.id


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"the registry server exited with {proc.returncode}:\n{log.read_text()}",
                pytrace=False,
            )
        try:
            with _LOCAL.open(url + "/directory", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    pytest.fail(
        f"the registry server did not answer GET /directory within {STARTUP_SECONDS} s:\n"
        f"{log.read_text()}",
        pytrace=False,
    )


@contextmanager
def serving(db: FreshDatabase, folder: Path) -> Iterator[Registry]:
    """The small world seeded into ``db``, served by a real uvicorn process (its log in
    ``folder``) until the block ends."""
    issued, ag, health, request_id = _seed(db)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": db.url,
        "REGISTRY_KEYRING": str(db.keyring_path),
    }
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
                "--workers",
                "1",
            ],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(proc, url, log)
        yield Registry(
            url=url,
            db=db,
            tokens=issued,
            ag_account=ag,
            health_account=health,
            request_id=request_id,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def registry(fresh_db: FreshDatabase, tmp_path: Path) -> Iterator[Registry]:
    """A fresh registry database (SQLite or PostgreSQL) served by a real uvicorn process."""
    with serving(fresh_db, tmp_path) as served:
        yield served


@pytest.fixture(scope="module")
def shared_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One registry server for a whole module, for tests that only look (or are refused):
    the world it starts with must be the same for every test of the module."""
    folder = tmp_path_factory.mktemp("registry")
    with contextmanager(new_database)(folder) as db, serving(db, folder) as served:
        yield served


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Debian Chromium for the whole run."""
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
    except Exception:
        playwright.stop()
        raise
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        yield launched
    finally:
        launched.close()
        playwright.stop()


@dataclass
class People:
    """Opens one browser context (its own cookies) per person."""

    browser: Browser
    registry: Registry
    contexts: list[BrowserContext] = field(default_factory=list)

    def anonymous(self) -> Page:
        context = self.browser.new_context(
            base_url=self.registry.url, viewport={"width": 1100, "height": 800}
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        return context.new_page()

    def signed_in(self, who: str) -> Page:
        """A new context signed in through the sign-in form as ``who`` (a CAST key)."""
        page = self.anonymous()
        sign_in(page, self.registry.tokens[who])
        expect(page).to_have_url(re.compile(r"/console$"))
        expect(
            page.get_by_role("button", name=f"Sign out {self.registry.email(who)}")
        ).to_be_visible()
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def sign_in(page: Page, token: str) -> None:
    page.goto("/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in", exact=True).click()


@pytest.fixture
def people(browser: Browser, registry: Registry) -> Iterator[People]:
    opened = People(browser=browser, registry=registry)
    try:
        yield opened
    finally:
        opened.close()


Shoot = Callable[["Page", str], Path]


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Shoot:
    """``shoot(page, step)`` saves a full-page screenshot as screenshots/<test>-<nn>-<step>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for old in SCREENSHOTS.glob(f"{test}-*.png"):
        old.unlink()
    taken = 0

    def take(page: Page, step: str) -> Path:
        nonlocal taken
        taken += 1
        path = SCREENSHOTS / f"{test}-{taken:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
