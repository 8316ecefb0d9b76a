"""The HTTP API fuzzed by Schemathesis against its own OpenAPI schema, once per role.

Every operation of ``/openapi.json`` gets generated requests (valid and invalid ones) with a
real token for each role and with none; every response must be no 5xx, a documented status
code, the declared content type and headers, and a body matching the declared model.
Deselected from the default run (``-m "not fuzz"``); ``.ci/run`` runs ``pytest -m fuzz``.
Bounded (a few examples per operation and role) and deterministic (a fixed seed, no example
database), so it takes about a minute on either backend and fails the same way twice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from sqlmodel import select
from starlette.types import Receive, Scope, Send

from registry.config import Settings
from registry.http.app import create_app
from registry.models import Person
from registry.services import tokens
from tests.conftest import FreshDatabase, new_database
from tests.factories import CAST, World

pytestmark = pytest.mark.fuzz

# role -> the CAST member whose token the fuzzer sends (None: no token at all)
ROLES: dict[str, str | None] = {
    "admin": "fin_admin",  # an administrator who is not CED staff
    "ced": "ced1",
    "dept_approver": "agr_approver",
    "requester": "agr_requester",
    "auditor": "auditor",
    "anonymous": None,
}

# Fuzzing-phase examples per operation and role; the examples and coverage phases add their
# own (a bounded set of boundary and malformed values per parameter).
MAX_EXAMPLES = 10

# `positive_data_acceptance` expects every schema-valid request to be accepted. These
# operations refuse some schema-valid input with 422 on purpose (DESIGN: "422 bad input"),
# by rules no JSON Schema states; everywhere else the check stays on.
RULES_BEYOND_THE_SCHEMA = {
    "GET /verify": "the platform must be one the registry knows",
    "POST /departments": "a code starts with a letter",
    "POST /people": "an e-mail on an approved government domain",
    "GET /accounts": "status is one of the account statuses; a cursor the registry gave out",
    "GET /requests": "state is one of the request states; a cursor the registry gave out",
    # An opaque cursor: no schema says which strings the registry wrote.
    "GET /people": "a cursor the registry gave out",
    "GET /tokens": "a cursor the registry gave out",
    "GET /departments": "a cursor the registry gave out",
    "GET /handovers": "a cursor the registry gave out",
    "POST /requests": "platform, handle, URL, e-mails, holders and department rules",
    "POST /requests/{request_id}/reject": "a reason that is not blank",
    "PUT /accounts/{account_id}/credentials/{kind}": "a non-empty secret of the kind's shape",
    "POST /handovers": "registered, active people",
    "POST /accounts/{account_id}/holders": "an e-mail on an approved government domain",
    "POST /accounts/import": "a CSV file with a header row and valid rows",
    "PATCH /accounts/{account_id}": "a platform id in the platform's form, a known language",
    "POST /accounts/{account_id}/rename": "a handle of the platform and its profile link",
}

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240917,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # The Authorization header is the role's (`auth`), never a generated one.
            "with-security-parameters": False,
        },
        # Every check is on (no 5xx, status code, content type, headers and body conformance,
        # negative data rejected, undeclared methods 405 with Allow, auth not ignored...)
        # except the narrow exclusions below, each with its reason.
        "operations": [
            {"include-name": name, "checks": {"positive_data_acceptance": {"enabled": False}}}
            for name in RULES_BEYOND_THE_SCHEMA
        ]
        + [
            # GET /accounts/import is routed to GET /accounts/{account_id}, which refuses the
            # id "import" with 422 rather than 405, and a 405 there rightly lists GET in Allow.
            {
                "include-name": "POST /accounts/import",
                "checks": {
                    "unsupported_method": {"enabled": False},
                    "allow_header_conformance": {"enabled": False},
                },
            },
        ],
    }
)

# Hypothesis keeps caches (there is no example database) under .hypothesis/ in the working
# directory, written while the tests are collected: they go to the system's temporary folder.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "registry-fuzz-hypothesis")


class CurrentApp:
    """The ASGI application the cases go to: the module's real one, once `target` built it."""

    app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the `target` fixture has not built the application"
        await self.app(scope, receive, send)


CURRENT = CurrentApp()

# The schema the application serves at /openapi.json (from an instance that never touches a
# database, so collecting these tests needs none); every case, and every probe a check sends,
# goes to CURRENT.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://", keyring="unused.keyring")).openapi(),
    config=CONFIG,
)
schema.app = CURRENT


@dataclass
class FuzzTarget:
    app: FastAPI
    db: FreshDatabase


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    """One database for the module with the CAST, and a few rows behind small ids.

    Accounts 1..4, requests 1..4 (submitted, department-approved, approved, rejected),
    credentials on account 1, and one handover, so that ids the fuzzer draws sometimes
    name real rows, visible to some roles and not to others.
    """
    gen = new_database(tmp_path_factory.mktemp("fuzz"))
    db = next(gen)
    settings = db.settings()
    with db.scope() as session:
        world = World.build(session, settings)
        world.account("ManitobaAg")
        world.account("MBHealth", holders=("ced2", "hlt_requester"), department="HLT")
        world.account("MBFinance", holders=("ced1", "fin_admin"), department="FIN")
        issued = {
            key: tokens.create_token(session, actor=None, email=email).token
            for key, (email, _, _) in CAST.items()
        }
    app = create_app(settings, engine=db.engine)

    def as_(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issued[key]}"}

    with TestClient(app) as client:

        def new(handle: str) -> int:
            body = {
                "kind": "new_account",
                "platform": "instagram",
                "handle": handle,
                "url": f"https://instagram.com/{handle}",
                "category": "official",
                "department": "AGR",
                "purpose": "Field updates",
                "login_email": "agr.social@gov.mb.ca",
                # A requester names holders of their own department; CED adds itself when
                # it gives the final approval.
                "holders": [CAST["agr_staff"][0]],
            }
            created = client.post("/requests", json=body, headers=as_("agr_requester"))
            assert created.status_code == 201, created.text
            return int(created.json()["id"])

        def ok(method: str, url: str, who: str, **kw: Any) -> None:
            response = client.request(method, url, headers=as_(who), **kw)
            assert response.status_code < 300, response.text

        new("mb_submitted")
        dept = new("mb_dept_approved")
        ok("POST", f"/requests/{dept}/approve", "agr_approver")
        final = new("mb_approved")
        ok("POST", f"/requests/{final}/approve", "agr_approver")
        ok("POST", f"/requests/{final}/approve", "ced2", json={"holders": [CAST["ced1"][0]]})
        rejected = new("mb_rejected")
        ok("POST", f"/requests/{rejected}/reject", "agr_approver", json={"reason": "No."})
        ok("PUT", "/accounts/1/credentials/password", "ced1", json={"value": "hunter2-long"})
        ok("PUT", "/accounts/1/credentials/totp_seed", "ced1", json={"value": "JBSWY3DPEHPK3PXP"})
        ok(
            "POST",
            "/people",
            "admin",
            json={"email": "lee.leaver@gov.mb.ca", "name": "Lee Leaver", "department": "AGR"},
        )
        ok("POST", "/accounts/2/holders", "ced1", json={"email": "lee.leaver@gov.mb.ca"})
        ok(
            "POST",
            "/handovers",
            "ced1",
            json={"departing": "lee.leaver@gov.mb.ca", "successor": CAST["hlt_requester"][0]},
        )
    CURRENT.app = app
    try:
        yield FuzzTarget(app=app, db=db)
    finally:
        CURRENT.app = None
        next(gen, None)


@pytest.fixture(params=list(ROLES))
def auth(request: pytest.FixtureRequest, target: FuzzTarget) -> dict[str, str]:
    """The role's Authorization header, from a token issued for this test (one operation).

    The fuzzer may revoke tokens (DELETE /tokens/{id}), its own included: a fresh token per
    operation keeps that from leaving the role's other operations unauthenticated.
    """
    key = ROLES[request.param]
    if key is None:
        return {}
    with target.db.scope() as session:
        email = CAST[key][0]
        person = session.exec(select(Person).where(Person.email == email)).one()
        assert person.status == "active", f"{key} left during the fuzzing"
        token = tokens.create_token(session, actor=None, email=email).token
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # `auth` is meant to hold for every input of a test (one operation and role).
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api(case: schemathesis.Case, auth: dict[str, str]) -> None:
    case.call_and_validate(headers=auth)
