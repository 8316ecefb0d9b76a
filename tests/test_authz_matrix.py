"""The authorization matrix (issue #8): every route, called as every kind of person.

The routes come from the application itself (``create_app().routes``, the JSON API, the public
``/verify`` and the web console), so a new route without a row in :data:`MATRIX` fails here,
naming the route; a row naming no route fails too. FastAPI's own documentation routes (and
static file mounts, of which there are none yet) are the only ones left out of the table; the
documentation is called as every persona and must answer 200 to all of them.

Every route is called as each persona of :data:`PERSONAS`, against one registry (the world
built by :func:`world`): an AGR account holding a canary password and a TOTP seed, an AGR
request waiting for the department, another waiting for CED, and a former holder who left
through a real handover (their token and their browser session end with it: 401 from the
API, the sign-in page from the console; public pages answer them as anyone). The expected
answers come from DESIGN.md (roles and rules), ADR 0002 (who decides which stage) and ADR 0003
(who may put, reveal, get codes), not from what the application happened to answer.

403 or 404. The services answer in one consistent order, which the table follows:

1. an operation reserved to roles (import, grant, review, handovers, audit, tokens, people,
   departments) refuses everyone else with **403** before looking anything up, so the answer
   says nothing about the object;
2. an object in another department that the caller may not see (an account, a request, a
   person, someone else's token) is **404**, the same answer as for an object that does not
   exist: the registry does not reveal that it exists;
3. an object the caller may see but not act on (a requester revealing a password of their
   own department's account, an approver deciding the CED stage) is **403**.

Each call must meet the state the table assumes: after any call that changed the database,
the world is restored row for row before the next one. A refused call must change nothing:
every table is compared with the world as built, except the audit events a refused reveal or
TOTP request must leave (ADR 0003), which are checked to be exactly that one event.

Every answer is searched, body and headers, for the canary password, the TOTP seed, every
API token and console session issued, and the other personas' CSRF tokens; only an allowed
reveal may carry the value it reveals (and must). Every answer to someone outside AGR
(anonymous, another department, the leaver) is searched for AGR's own data, beyond what the
caller sent: the account's login e-mail and purpose, the requests' purposes, handles and login
e-mails, and the e-mails of AGR's people and of the account's holders.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Table, text
from sqlmodel import SQLModel
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from registry.config import Settings
from registry.http.app import create_app
from registry.services import people
from registry.services import tokens as token_service
from tests.conftest import (
    AUDIT_TABLES,
    FreshDatabase,
    Rows,
    csrf_of,
    new_database,
    sign_in,
    table_rows,
)
from tests.factories import CAST
from tests.factories import World as Cast

# ------------------------------------------------------------------------------ personas

# persona -> the CAST member (or the leaver) who plays it; anonymous has no credentials.
LEAVER = "lee.leaver@gov.mb.ca"
PERSONAS: dict[str, str | None] = {
    "anonymous": None,
    "requester": CAST["agr_requester"][0],  # AGR requester, not a holder
    "other_dept": CAST["hlt_requester"][0],  # HLT requester
    "dept_approver": CAST["agr_approver"][0],  # AGR's executive
    "ced": CAST["ced1"][0],  # CED staff with the ced role; a holder of the account
    "admin": CAST["fin_admin"][0],  # an administrator who is not CED (FIN)
    "auditor": CAST["auditor"][0],
    "holder": CAST["agr_staff"][0],  # AGR requester who holds the account
    "leaver": LEAVER,  # AGR, held the account, left through a handover
}
# Those who must never see AGR's own data.
OUTSIDERS = frozenset({"anonymous", "other_dept", "leaver"})

AGR_REQUESTER = CAST["agr_requester"][0]
AGR_APPROVER = CAST["agr_approver"][0]
AGR_STAFF = CAST["agr_staff"][0]
CED1, CED2, CED_EXEC = CAST["ced1"][0], CAST["ced2"][0], CAST["ced_exec"][0]

LOGIN = "sign-in"  # a console page answering "303 See Other: /login" (not signed in)
Expect = int | str


def M(*answers: Expect) -> dict[str, Expect]:
    """One row of the matrix, in the order of PERSONAS."""
    assert len(answers) == len(PERSONAS), answers
    return dict(zip(PERSONAS, answers, strict=True))


# ------------------------------------------------------------------------------ the matrix

# "METHOD /path" as the application declares it, and ":variant" when one route is called on
# two targets (a request at each stage, a password and a TOTP seed).
# fmt: off
MATRIX: dict[str, dict[str, Expect]] = {
    #                                    anon  req other appr  ced  adm  aud hold leaver
    # public
    "GET /verify":                      M(200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /healthz":                     M(200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /.well-known/jwks.json":       M(200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /directory.json":              M(200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /readyz":                      M(200, 200, 200, 200, 200, 200, 200, 200, 200),
    # departments, people, tokens (administrators)
    "GET /departments":                 M(401, 200, 200, 200, 200, 200, 200, 200, 401),
    "POST /departments":                M(401, 403, 403, 403, 403, 201, 403, 403, 401),
    "GET /people":                      M(401, 200, 200, 200, 200, 200, 200, 200, 401),
    "POST /people":                     M(401, 403, 403, 403, 403, 201, 403, 403, 401),
    "GET /people/{email}":              M(401, 200, 404, 200, 200, 200, 200, 200, 401),
    "PATCH /people/{email}":            M(401, 403, 403, 403, 403, 200, 403, 403, 401),
    "POST /tokens":                     M(401, 403, 403, 403, 403, 201, 403, 403, 401),
    "GET /tokens":                      M(401, 200, 200, 200, 200, 200, 200, 200, 401),
    # a second token of the holder: its owner and administrators; 404 for anyone else
    "DELETE /tokens/{token_id}":        M(401, 404, 404, 404, 404, 200, 404, 200, 401),
    # accounts and access (rule 3: CED and administrators grant and revoke)
    "GET /accounts":                    M(401, 200, 200, 200, 200, 200, 200, 200, 401),
    "GET /accounts/{account_id}":       M(401, 200, 404, 200, 200, 200, 200, 200, 401),
    # import is CED's alone: the one path to an active account without two approvals
    "POST /accounts/import":            M(401, 403, 403, 403, 201, 403, 403, 403, 401),
    "POST /accounts/{account_id}/holders":
                                        M(401, 403, 403, 403, 201, 201, 403, 403, 401),
    "DELETE /accounts/{account_id}/holders/{email}":
                                        M(401, 403, 403, 403, 200, 200, 403, 403, 401),
    "POST /accounts/{account_id}/review":
                                        M(401, 403, 403, 403, 200, 403, 403, 403, 401),
    # renames: CED keeps the list; the earlier handles as the account itself
    "POST /accounts/{account_id}/rename":
                                        M(401, 403, 403, 403, 200, 403, 403, 403, 401),
    "GET /accounts/{account_id}/renames":
                                        M(401, 200, 404, 200, 200, 200, 200, 200, 401),
    "PATCH /accounts/{account_id}":     M(401, 403, 403, 403, 200, 403, 403, 403, 401),
    # requests (rule 4, ADR 0002): own department, CED for any
    "POST /requests":                   M(401, 201, 403, 201, 201, 403, 403, 201, 401),
    "POST /requests:decommission":      M(401, 201, 404, 201, 201, 403, 403, 201, 401),
    "GET /requests":                    M(401, 200, 200, 200, 200, 200, 200, 200, 401),
    "GET /requests/{request_id}":       M(401, 200, 404, 200, 200, 200, 200, 200, 401),
    # the request is the requester's own: the department stage is the executive's alone
    "POST /requests/{request_id}/approve":
                                        M(401, 403, 404, 200, 403, 403, 403, 403, 401),
    "POST /requests/{request_id}/approve:ced_stage":
                                        M(401, 403, 404, 403, 200, 403, 403, 403, 401),
    "POST /requests/{request_id}/reject":
                                        M(401, 403, 404, 200, 403, 403, 403, 403, 401),
    "POST /requests/{request_id}/reject:ced_stage":
                                        M(401, 403, 404, 403, 200, 403, 403, 403, 401),
    "POST /requests/{request_id}/withdraw":
                                        M(401, 200, 404, 403, 403, 403, 403, 403, 401),
    # credentials (rule 5, ADR 0003): CED and the account's holders; the seed to CED only
    "PUT /accounts/{account_id}/credentials/{kind}":
                                        M(401, 403, 404, 403, 200, 403, 403, 200, 401),
    "GET /accounts/{account_id}/credentials":
                                        M(401, 200, 404, 200, 200, 200, 200, 200, 401),
    "POST /accounts/{account_id}/credentials/{kind}/reveal":
                                        M(401, 403, 404, 403, 200, 403, 403, 200, 401),
    "POST /accounts/{account_id}/credentials/{kind}/reveal:totp_seed":
                                        M(401, 403, 404, 403, 200, 403, 403, 403, 401),
    "GET /accounts/{account_id}/totp":  M(401, 403, 404, 403, 200, 403, 403, 200, 401),
    # handovers (rule 6), audit and compliance (rules 5-7)
    "POST /handovers":                  M(401, 403, 403, 403, 201, 201, 403, 403, 401),
    "POST /handovers:dry_run":          M(401, 403, 403, 403, 200, 200, 403, 403, 401),
    "GET /handovers":                   M(401, 403, 403, 403, 200, 200, 200, 403, 401),
    "GET /handovers/{handover_id}":     M(401, 403, 403, 403, 200, 200, 200, 403, 401),
    "GET /audit/events":                M(401, 403, 403, 403, 200, 200, 200, 403, 401),
    "GET /compliance":                  M(401, 200, 200, 200, 200, 200, 200, 200, 401),
    # department codes are public: asking for another department's report is a 403
    "GET /compliance:department":       M(401, 200, 403, 200, 200, 200, 200, 200, 401),
    # web: public pages and sign-in
    "GET /":                            M(303, 303, 303, 303, 303, 303, 303, 303, 303),
    "GET /directory":                   M(200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /login":                       M(200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /login":                      M(401, 303, 303, 303, 303, 303, 303, 303, 401),
    # the demo sign-in: this world is no demo (no marker), so it refuses everyone alike
    "POST /login/demo":                 M(404, 404, 404, 404, 404, 404, 404, 404, 404),
    "POST /logout":                     M(LOGIN, 303, 303, 303, 303, 303, 303, 303, LOGIN),
    # single sign-on: not set up in this world (tests/test_sso.py has it), so a page says so
    "GET /auth/login":                  M(404, 404, 404, 404, 404, 404, 404, 404, 404),
    "GET /auth/callback":               M(404, 404, 404, 404, 404, 404, 404, 404, 404),
    "GET /auth/signed-out":             M(303, 303, 303, 303, 303, 303, 303, 303, 303),
    # web: the console, the same rules as the API
    "GET /console":                     M(LOGIN, 200, 200, 200, 200, 200, 200, 200, LOGIN),
    "GET /console/requests/{request_id}":
                                        M(LOGIN, 200, 404, 200, 200, 200, 200, 200, LOGIN),
    # the form is everyone's; submitting it follows POST /requests (own department, CED any)
    "GET /console/requests/new":        M(LOGIN, 200, 200, 200, 200, 200, 200, 200, LOGIN),
    "POST /console/requests/new":       M(LOGIN, 303, 403, 303, 303, 403, 403, 303, LOGIN),
    "POST /console/requests/{request_id}/withdraw":
                                        M(LOGIN, 303, 404, 403, 403, 403, 403, 403, LOGIN),
    "POST /console/requests/{request_id}/approve":
                                        M(LOGIN, 403, 404, 303, 403, 403, 403, 403, LOGIN),
    "POST /console/requests/{request_id}/approve:ced_stage":
                                        M(LOGIN, 403, 404, 403, 303, 403, 403, 403, LOGIN),
    "POST /console/requests/{request_id}/reject":
                                        M(LOGIN, 403, 404, 303, 403, 403, 403, 403, LOGIN),
    "POST /console/requests/{request_id}/reject:ced_stage":
                                        M(LOGIN, 403, 404, 403, 303, 403, 403, 403, LOGIN),
    "GET /console/accounts":            M(LOGIN, 200, 200, 200, 200, 200, 200, 200, LOGIN),
    "GET /console/accounts.csv":        M(LOGIN, 200, 200, 200, 200, 200, 200, 200, LOGIN),
    "GET /console/accounts/{account_id}":
                                        M(LOGIN, 200, 404, 200, 200, 200, 200, 200, LOGIN),
    "POST /console/accounts/{account_id}/reveal":
                                        M(LOGIN, 403, 404, 403, 200, 403, 403, 200, LOGIN),
    "POST /console/accounts/{account_id}/reveal:totp_seed":
                                        M(LOGIN, 403, 404, 403, 200, 403, 403, 403, LOGIN),
    # holders: CED and administrators, as the API (403 before the account is looked up)
    "POST /console/accounts/{account_id}/holders":
                                        M(LOGIN, 403, 403, 403, 303, 303, 403, 403, LOGIN),
    "POST /console/accounts/{account_id}/holders/remove":
                                        M(LOGIN, 403, 403, 403, 303, 303, 403, 403, LOGIN),
    # credentials: as PUT .../credentials/{kind} and GET .../totp (CED and the holders)
    "POST /console/accounts/{account_id}/credentials":
                                        M(LOGIN, 403, 404, 403, 303, 403, 403, 303, LOGIN),
    "POST /console/accounts/{account_id}/totp":
                                        M(LOGIN, 403, 404, 403, 200, 403, 403, 200, LOGIN),
    # recording a review is CED's alone (403 before the account is looked up, as the API)
    "POST /console/accounts/{account_id}/review":
                                        M(LOGIN, 403, 403, 403, 303, 403, 403, 403, LOGIN),
    "POST /console/accounts/{account_id}/rename":
                                        M(LOGIN, 403, 403, 403, 303, 403, 403, 403, LOGIN),
    "POST /console/accounts/{account_id}/details":
                                        M(LOGIN, 403, 403, 403, 303, 403, 403, 403, LOGIN),
    # asking for decommissioning follows POST /requests:decommission (own department, CED any)
    "POST /console/accounts/{account_id}/decommission":
                                        M(LOGIN, 303, 404, 303, 303, 403, 403, 303, LOGIN),
    "GET /console/compliance":          M(LOGIN, 200, 200, 200, 200, 200, 200, 200, LOGIN),
    # the requests list: everyone signed in, each seeing what GET /requests shows them
    "GET /console/requests":            M(LOGIN, 200, 200, 200, 200, 200, 200, 200, LOGIN),
    # the import by upload: CED's alone, as POST /accounts/import (403 before reading the file)
    "GET /console/import":              M(LOGIN, 403, 403, 403, 200, 403, 403, 403, LOGIN),
    "POST /console/import":             M(LOGIN, 403, 403, 403, 200, 403, 403, 403, LOGIN),
    # the empty form shows no data; running a handover is for CED and administrators
    "GET /console/handover":            M(LOGIN, 403, 403, 403, 200, 200, 403, 403, LOGIN),
    "POST /console/handover/preview":   M(LOGIN, 403, 403, 403, 200, 200, 403, 403, LOGIN),
    "POST /console/handover/confirm":   M(LOGIN, 403, 403, 403, 200, 200, 403, 403, LOGIN),
    # administration: people and departments are the administrators' (403 before any lookup)
    "GET /console/people":              M(LOGIN, 403, 403, 403, 403, 200, 403, 403, LOGIN),
    "POST /console/people":             M(LOGIN, 403, 403, 403, 403, 303, 403, 403, LOGIN),
    "GET /console/people/{email}":      M(LOGIN, 403, 403, 403, 403, 200, 403, 403, LOGIN),
    "POST /console/people/{email}":     M(LOGIN, 403, 403, 403, 403, 303, 403, 403, LOGIN),
    # no identity is bound in the matrix's world: the administrator is told so
    "POST /console/people/{email}/identities/{identity_id}/unbind":
                                        M(LOGIN, 403, 403, 403, 403, 404, 403, 403, LOGIN),
    "GET /console/departments":         M(LOGIN, 403, 403, 403, 403, 200, 403, 403, LOGIN),
    # the audit log: its readers (CED, administrators, auditors); compliance as CSV: everyone's own
    "GET /console/audit":               M(LOGIN, 403, 403, 403, 200, 200, 200, 403, LOGIN),
    "GET /console/audit.jsonl":         M(LOGIN, 403, 403, 403, 200, 200, 200, 403, LOGIN),
    "GET /console/audit/verify":        M(LOGIN, 403, 403, 403, 200, 200, 200, 403, LOGIN),
    "GET /console/compliance.csv":      M(LOGIN, 200, 200, 200, 200, 200, 200, 200, LOGIN),
    "POST /console/departments":        M(LOGIN, 403, 403, 403, 403, 303, 403, 403, LOGIN),
    # the e-mail outbox: those who run it (administrators and CED), 403 before any lookup
    "GET /console/notifications":       M(LOGIN, 403, 403, 403, 200, 200, 403, 403, LOGIN),
    "GET /console/notifications/{message_id}":
                                        M(LOGIN, 403, 403, 403, 200, 200, 403, 403, LOGIN),
    # tokens: everyone's own; everyone's and new ones for administrators (as the API)
    "GET /console/tokens":              M(LOGIN, 200, 200, 200, 200, 200, 200, 200, LOGIN),
    "GET /console/tokens/all":          M(LOGIN, 403, 403, 403, 403, 200, 403, 403, LOGIN),
    "POST /console/tokens":             M(LOGIN, 403, 403, 403, 403, 200, 403, 403, LOGIN),
    "POST /console/tokens/{token_id}/revoke":
                                        M(LOGIN, 404, 404, 404, 404, 303, 404, 303, LOGIN),
}
# fmt: on

# FastAPI's own documentation: not in the table, but public for everyone.
DOCS_ROUTES = frozenset(
    {"GET /openapi.json", "GET /docs", "GET /docs/oauth2-redirect", "GET /redoc"}
)

# Audit events a refused call must leave behind (ADR 0003), and nothing else.
REVEAL_REFUSED = "credential.reveal_refused"
TOTP_REFUSED = "credential.totp_refused"


# ------------------------------------------------------------------------------ the world

CANARY_PASSWORD = "Canary-" + secrets.token_hex(12)
TOTP_SEED = base64.b32encode(os.urandom(20)).decode("ascii")
NEW_PASSWORD = "Replacement-" + secrets.token_hex(12)
UNKNOWN_TOKEN = "smr_" + "x" * 43

# AGR's own data: none of it may reach an outsider.
ACCOUNT_LOGIN = "agr.harvest.desk@gov.mb.ca"
ACCOUNT_PURPOSE = "Crop insurance desk notices (internal to AGR)"
PENDING = {  # handle -> (purpose, login e-mail, proposed holders) of a request in the world
    "AgrLivestock": (
        "Livestock alert drafts, internal to AGR",
        "agr.livestock@gov.mb.ca",
        [AGR_STAFF],
    ),
    "AgrSoilSurvey": (
        "Soil survey recruiting, internal to AGR",
        "agr.soil@gov.mb.ca",
        [AGR_STAFF],  # a requester names its own department; CED adds CED2 when it approves
    ),
}
AGR_ONLY = (
    ACCOUNT_LOGIN,
    ACCOUNT_PURPOSE,
    *PENDING,
    *(purpose for purpose, _, _ in PENDING.values()),
    *(login for _, login, _ in PENDING.values()),
    AGR_REQUESTER,
    AGR_APPROVER,
    AGR_STAFF,
    LEAVER,
    CED1,  # the account's holders (CED staff) are AGR's business too
    CED2,
)

IMPORT_HEADER = "platform,handle,url,category,department,login_email,purpose,holders,display_name\n"
ACCOUNT_ROW = (
    "facebook,ManitobaHarvest,https://www.facebook.com/ManitobaHarvest,official,AGR,"
    f"{ACCOUNT_LOGIN},{ACCOUNT_PURPOSE},{CED1};{AGR_STAFF};{LEAVER},Manitoba Harvest\n"
)
IMPORTED_ROW = (
    "x,MbBeekeeping,https://x.com/MbBeekeeping,official,AGR,agr.bees@gov.mb.ca,"
    f"Hive news,{CED1};{AGR_STAFF},Manitoba Beekeeping\n"
)


def new_request(handle: str) -> dict[str, Any]:
    """A new AGR account request (the world's two, or another)."""
    purpose, login, holders = PENDING.get(
        handle, ("Field day news", "agr.fields@gov.mb.ca", [AGR_STAFF])
    )
    return {
        "kind": "new_account",
        "platform": "x",
        "handle": handle,
        "url": f"https://x.com/{handle}",
        "category": "official",
        "department": "AGR",
        "purpose": purpose,
        "login_email": login,
        "holders": holders,
    }


TABLES: list[Table] = list(SQLModel.metadata.sorted_tables)


@dataclass
class World:
    """The registry every case starts from, and what a case needs to call it."""

    client: TestClient
    engine: Engine
    ids: dict[str, int]
    tokens: dict[str, str]  # persona -> API token (the leaver's is revoked)
    cookies: dict[str, str]  # persona -> console session cookie (the leaver's has ended)
    csrf: dict[str, str]  # persona -> that session's CSRF token
    secrets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> its forms
    template: Rows = field(default_factory=dict)
    dirty: bool = False

    def read(self) -> Rows:
        return table_rows(self.engine)

    def restore(self) -> None:
        """Put every table back as the world was built (ids included)."""
        if not self.dirty:
            return
        with self.engine.begin() as conn:
            for table in reversed(TABLES):
                conn.execute(table.delete())
            for table in TABLES:
                if self.template[table.name]:
                    conn.execute(table.insert(), self.template[table.name])
        self.dirty = False

    def bearer(self, persona: str) -> dict[str, str]:
        token = self.tokens.get(persona)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def enter(self, persona: str) -> str:
        """Use the persona's console session (if any); return its CSRF token."""
        if persona in self.cookies:
            self.client.cookies.set("registry_session", self.cookies[persona])
        return self.csrf.get(persona, "")


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    assert response.status_code == status, response.text
    return response


def _build(db: FreshDatabase, client: TestClient) -> World:
    """The world: people and tokens by the services, everything else through HTTP."""
    settings = db.settings()
    with db.scope() as session:
        Cast.build(session, settings)
        people.add_person(
            session,
            settings=settings,
            actor=None,
            email=LEAVER,
            name="Lee Leaver",
            department="AGR",
        )
        issued = {
            persona: token_service.create_token(session, actor=None, email=email).token
            for persona, email in PERSONAS.items()
            if email is not None
        }
        spare = token_service.create_token(session, actor=None, email=AGR_STAFF)
        spare_token, spare_id = spare.token, spare.public.id

    def as_(persona: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issued[persona]}"}

    account = _expect(
        client.post(
            "/accounts/import",
            content=IMPORT_HEADER + ACCOUNT_ROW,
            headers={**as_("ced"), "Content-Type": "text/csv"},
        ),
        201,
    ).json()["account_ids"][0]
    for kind, value in (("password", CANARY_PASSWORD), ("totp_seed", TOTP_SEED)):
        _expect(
            client.put(
                f"/accounts/{account}/credentials/{kind}", json={"value": value}, headers=as_("ced")
            ),
            200,
        )
    # The leaver knew the password (the handover marks it for rotation).
    _expect(
        client.post(
            f"/accounts/{account}/credentials/password/reveal",
            json={"reason": "Posting the harvest report"},
            headers=as_("leaver"),
        ),
        200,
    )
    waiting, approved = (
        _expect(
            client.post("/requests", json=new_request(handle), headers=as_("requester")), 201
        ).json()["id"]
        for handle in PENDING
    )
    _expect(
        client.post(
            f"/requests/{approved}/approve", json={"comment": "Yes"}, headers=as_("dept_approver")
        ),
        200,
    )
    # Every persona with a token signs in to the console, as a browser does.
    cookies, csrf = {}, {}
    for persona, token in issued.items():
        client.cookies.clear()
        csrf[persona] = sign_in(client, token)
        cookies[persona] = client.cookies["registry_session"]
    client.cookies.clear()
    # The leaver leaves: a real handover, run by an administrator.
    handover = _expect(
        client.post(
            "/handovers", json={"departing": LEAVER, "successor": CED2}, headers=as_("admin")
        ),
        201,
    ).json()["id"]
    assert client.get("/departments", headers=as_("leaver")).status_code == 401
    world = World(
        client=client,
        engine=db.engine,
        ids={
            "account": account,
            "request": waiting,
            "approved": approved,
            "handover": handover,
            "token": spare_id,
            "message": _first_message(db.engine),
        },
        tokens=issued,
        cookies=cookies,
        csrf=csrf,
    )
    world.secrets = {
        "the canary password": (CANARY_PASSWORD,),
        "the TOTP seed": (TOTP_SEED, TOTP_SEED.lower()),
        "a replaced password": (NEW_PASSWORD,),
        "the holder's second API token": (spare_token,),
        **{f"the API token of {p}": (t,) for p, t in issued.items()},
        **{f"the console session of {p}": (c,) for p, c in cookies.items()},
    }
    world.template = world.read()
    return world


def _first_message(engine: Engine) -> int:
    """The first e-mail the world queued (the submitted request's, to AGR's executive)."""
    with engine.connect() as conn:
        first = conn.execute(text("SELECT min(id) FROM outbox_message")).scalar_one()
    assert first is not None, "the world queued no e-mail"
    return int(first)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    databases = new_database(tmp_path_factory.mktemp("authz"))
    db = next(databases)
    try:
        app = create_app(db.settings(), engine=db.engine)
        with TestClient(app, follow_redirects=False) as client:
            yield _build(db, client)
    finally:
        databases.close()


# ------------------------------------------------------------------------------ the calls


@dataclass(frozen=True)
class Call:
    """How a route is called for the matrix, and what an allowed call may do."""

    send: Callable[[World, str], httpx.Response]
    writes: bool = False  # an allowed call changes the database
    audits: tuple[str, ...] = ()  # the audit events an allowed, non-writing call appends
    refusal: str | None = None  # the audit event a 403 must leave (ADR 0003)
    shows: str | None = None  # the secret an allowed answer carries (and must)


Body = Mapping[str, Any] | Callable[[dict[str, int]], Mapping[str, Any]] | None


def api(
    method: str,
    path: str,
    body: Body = None,
    *,
    content: str | None = None,
    **kw: Any,
) -> Call:
    """A JSON API call with the persona's bearer token (none for anonymous)."""

    def send(w: World, persona: str) -> httpx.Response:
        payload = body(w.ids) if callable(body) else body
        headers = w.bearer(persona)
        if content is not None:
            headers["Content-Type"] = "text/csv"
        return w.client.request(
            method,
            path.format(**w.ids),
            json=dict(payload) if payload is not None else None,
            content=content,
            headers=headers,
        )

    return Call(send=send, **kw)


def page(method: str, path: str, form: Mapping[str, str] | None = None, **kw: Any) -> Call:
    """A console page with the persona's session cookie; forms carry its CSRF token."""

    def send(w: World, persona: str) -> httpx.Response:
        csrf = w.enter(persona)
        if method == "GET":
            return w.client.get(path.format(**w.ids))
        return w.client.post(path.format(**w.ids), data={"csrf": csrf, **(form or {})})

    return Call(send=send, **kw)


def _upload(w: World, persona: str) -> httpx.Response:
    """The console's import form, as a browser uploads a file (multipart, with the CSRF token)."""
    csrf = w.enter(persona)
    data = (IMPORT_HEADER + IMPORTED_ROW).encode()
    return w.client.post(
        "/console/import",
        data={"csrf": csrf},
        files={"spreadsheet": ("accounts.csv", data, "text/csv")},
    )


def _sign_in(w: World, persona: str) -> httpx.Response:
    """The sign-in form with the persona's token (a made-up one for anonymous)."""
    form = w.client.get("/login")
    token = w.tokens.get(persona, UNKNOWN_TOKEN)
    return w.client.post("/login", data={"token": token, "csrf": csrf_of(form.text)})


def _demo_sign_in(w: World, persona: str) -> httpx.Response:
    """The demo's "Sign in as …" form, as the sign-in page would carry it (with its CSRF
    cookie), naming the persona (an administrator for anonymous)."""
    form = w.client.get("/login")
    w.client.cookies.set("registry_login_csrf", "a-login-form")
    email = PERSONAS[persona] or CAST["admin"][0]
    assert "/login/demo" not in form.text
    return w.client.post("/login/demo", data={"email": email, "csrf": "a-login-form"})


PASSWORD = "/accounts/{account}/credentials/password"
SEED = "/accounts/{account}/credentials/totp_seed"
HANDOVER = {"departing": AGR_STAFF, "successor": AGR_REQUESTER}
# The console's form for new_request("AgrFieldDays"): only the profile link names the account.
NEW_REQUEST_FORM = {
    "url": "https://x.com/AgrFieldDays",
    "category": "official",
    "department": "AGR",
    "purpose": "Field day news",
    "login_email": "agr.fields@gov.mb.ca",
    "holders": AGR_STAFF,
}
REVEAL = {"reason": "Weekly post"}
RENAME = {"handle": "HarvestNews", "url": "https://www.facebook.com/HarvestNews"}

CALLS: dict[str, Call] = {
    "GET /verify": api("GET", "/verify?platform=facebook&handle=ManitobaHarvest"),
    "GET /healthz": api("GET", "/healthz"),
    "GET /.well-known/jwks.json": api("GET", "/.well-known/jwks.json"),
    "GET /directory.json": api("GET", "/directory.json"),
    "GET /readyz": api("GET", "/readyz"),
    "GET /departments": api("GET", "/departments"),
    "POST /departments": api(
        "POST", "/departments", {"code": "ECN", "name": "Economic Development"}, writes=True
    ),
    "GET /people": api("GET", "/people"),
    "POST /people": api(
        "POST",
        "/people",
        {"email": "nora.new@gov.mb.ca", "name": "Nora New", "department": "AGR"},
        writes=True,
    ),
    "GET /people/{email}": api("GET", f"/people/{AGR_STAFF}"),
    "PATCH /people/{email}": api(
        "PATCH", f"/people/{AGR_STAFF}", {"roles": ["requester", "dept_approver"]}, writes=True
    ),
    "POST /tokens": api("POST", "/tokens", {"email": AGR_STAFF, "days": 1}, writes=True),
    "GET /tokens": api("GET", "/tokens"),
    "DELETE /tokens/{token_id}": api("DELETE", "/tokens/{token}", writes=True),
    "GET /accounts": api("GET", "/accounts"),
    "GET /accounts/{account_id}": api("GET", "/accounts/{account}"),
    "POST /accounts/import": api(
        "POST", "/accounts/import", content=IMPORT_HEADER + IMPORTED_ROW, writes=True
    ),
    "POST /accounts/{account_id}/holders": api(
        "POST", "/accounts/{account}/holders", {"email": CED_EXEC}, writes=True
    ),
    "DELETE /accounts/{account_id}/holders/{email}": api(
        "DELETE", f"/accounts/{{account}}/holders/{AGR_STAFF}", writes=True
    ),
    "POST /accounts/{account_id}/review": api(
        "POST", "/accounts/{account}/review", {"note": "Checked"}, writes=True
    ),
    "POST /accounts/{account_id}/rename": api(
        "POST", "/accounts/{account}/rename", RENAME, writes=True
    ),
    "GET /accounts/{account_id}/renames": api("GET", "/accounts/{account}/renames"),
    "PATCH /accounts/{account_id}": api(
        "PATCH", "/accounts/{account}", {"language": "bilingual"}, writes=True
    ),
    "POST /requests": api("POST", "/requests", new_request("AgrFieldDays"), writes=True),
    "POST /requests:decommission": api(
        "POST",
        "/requests",
        lambda ids: {"kind": "decommission", "account_id": ids["account"], "reason": "Ended"},
        writes=True,
    ),
    "GET /requests": api("GET", "/requests"),
    "GET /requests/{request_id}": api("GET", "/requests/{request}"),
    "POST /requests/{request_id}/approve": api(
        "POST", "/requests/{request}/approve", {"comment": "Yes"}, writes=True
    ),
    "POST /requests/{request_id}/approve:ced_stage": api(
        "POST", "/requests/{approved}/approve", {"comment": "Yes", "holders": [CED2]}, writes=True
    ),
    "POST /requests/{request_id}/reject": api(
        "POST", "/requests/{request}/reject", {"reason": "Not now"}, writes=True
    ),
    "POST /requests/{request_id}/reject:ced_stage": api(
        "POST", "/requests/{approved}/reject", {"reason": "Not now"}, writes=True
    ),
    "POST /requests/{request_id}/withdraw": api(
        "POST", "/requests/{request}/withdraw", writes=True
    ),
    "PUT /accounts/{account_id}/credentials/{kind}": api(
        "PUT", PASSWORD, {"value": NEW_PASSWORD}, writes=True
    ),
    "GET /accounts/{account_id}/credentials": api("GET", "/accounts/{account}/credentials"),
    "POST /accounts/{account_id}/credentials/{kind}/reveal": api(
        "POST",
        PASSWORD + "/reveal",
        REVEAL,
        audits=("credential.revealed",),
        refusal=REVEAL_REFUSED,
        shows="the canary password",
    ),
    "POST /accounts/{account_id}/credentials/{kind}/reveal:totp_seed": api(
        "POST",
        SEED + "/reveal",
        REVEAL,
        audits=("credential.revealed",),
        refusal=REVEAL_REFUSED,
        shows="the TOTP seed",
    ),
    "GET /accounts/{account_id}/totp": api(
        "GET", "/accounts/{account}/totp", audits=("credential.totp",), refusal=TOTP_REFUSED
    ),
    "POST /handovers": api("POST", "/handovers", HANDOVER, writes=True),
    "POST /handovers:dry_run": api("POST", "/handovers", {**HANDOVER, "dry_run": True}),
    "GET /handovers": api("GET", "/handovers"),
    "GET /handovers/{handover_id}": api("GET", "/handovers/{handover}"),
    "GET /audit/events": api("GET", "/audit/events"),
    "GET /compliance": api("GET", "/compliance"),
    "GET /compliance:department": api("GET", "/compliance?department=AGR"),
    # web
    "GET /": page("GET", "/"),
    "GET /directory": page(
        "GET", "/directory?q=harvest&check=https://facebook.com/ManitobaHarvest"
    ),
    "GET /login": page("GET", "/login"),
    "POST /login": Call(send=_sign_in, writes=True),
    "POST /login/demo": Call(send=_demo_sign_in),
    "POST /logout": page("POST", "/logout", writes=True),
    "GET /auth/login": page("GET", "/auth/login?next=/console"),
    "GET /auth/callback": page("GET", "/auth/callback?code=x&state=y"),
    "GET /auth/signed-out": page("GET", "/auth/signed-out"),
    "GET /console": page("GET", "/console"),
    "GET /console/requests/{request_id}": page("GET", "/console/requests/{request}"),
    "GET /console/requests/new": page("GET", "/console/requests/new"),
    "POST /console/requests/new": page(
        "POST", "/console/requests/new", NEW_REQUEST_FORM, writes=True
    ),
    "POST /console/requests/{request_id}/withdraw": page(
        "POST", "/console/requests/{request}/withdraw", writes=True
    ),
    "POST /console/requests/{request_id}/approve": page(
        "POST", "/console/requests/{request}/approve", {"comment": "Yes"}, writes=True
    ),
    "POST /console/requests/{request_id}/approve:ced_stage": page(
        "POST",
        "/console/requests/{approved}/approve",
        {"comment": "Yes", "holders": CED2},
        writes=True,
    ),
    "POST /console/requests/{request_id}/reject": page(
        "POST", "/console/requests/{request}/reject", {"reason": "Not now"}, writes=True
    ),
    "POST /console/requests/{request_id}/reject:ced_stage": page(
        "POST", "/console/requests/{approved}/reject", {"reason": "Not now"}, writes=True
    ),
    "GET /console/accounts": page("GET", "/console/accounts"),
    "GET /console/accounts.csv": page("GET", "/console/accounts.csv"),
    "POST /console/accounts/{account_id}/holders": page(
        "POST", "/console/accounts/{account}/holders", {"email": CED_EXEC}, writes=True
    ),
    "POST /console/accounts/{account_id}/holders/remove": page(
        "POST", "/console/accounts/{account}/holders/remove", {"email": AGR_STAFF}, writes=True
    ),
    "POST /console/accounts/{account_id}/credentials": page(
        "POST",
        "/console/accounts/{account}/credentials",
        {"kind": "password", "secret": NEW_PASSWORD},
        writes=True,
    ),
    "POST /console/accounts/{account_id}/totp": page(
        "POST",
        "/console/accounts/{account}/totp",
        audits=("credential.totp",),
        refusal=TOTP_REFUSED,
    ),
    "GET /console/accounts/{account_id}": page("GET", "/console/accounts/{account}"),
    "POST /console/accounts/{account_id}/reveal": page(
        "POST",
        "/console/accounts/{account}/reveal",
        {"kind": "password", **REVEAL},
        audits=("credential.revealed",),
        refusal=REVEAL_REFUSED,
        shows="the canary password",
    ),
    "POST /console/accounts/{account_id}/reveal:totp_seed": page(
        "POST",
        "/console/accounts/{account}/reveal",
        {"kind": "totp_seed", **REVEAL},
        audits=("credential.revealed",),
        refusal=REVEAL_REFUSED,
        shows="the TOTP seed",
    ),
    "POST /console/accounts/{account_id}/review": page(
        "POST", "/console/accounts/{account}/review", {"note": "Checked"}, writes=True
    ),
    "POST /console/accounts/{account_id}/rename": page(
        "POST", "/console/accounts/{account}/rename", RENAME, writes=True
    ),
    "POST /console/accounts/{account_id}/details": page(
        "POST", "/console/accounts/{account}/details", {"language": "bilingual"}, writes=True
    ),
    "POST /console/accounts/{account_id}/decommission": page(
        "POST", "/console/accounts/{account}/decommission", {"reason": "Ended"}, writes=True
    ),
    "GET /console/compliance": page("GET", "/console/compliance"),
    "GET /console/requests": page("GET", "/console/requests?state=submitted"),
    "GET /console/import": page("GET", "/console/import"),
    "POST /console/import": Call(send=_upload, writes=True),
    "GET /console/handover": page("GET", "/console/handover"),
    "POST /console/handover/preview": page("POST", "/console/handover/preview", HANDOVER),
    "POST /console/handover/confirm": page(
        "POST", "/console/handover/confirm", HANDOVER, writes=True
    ),
    "GET /console/people": page("GET", "/console/people"),
    "POST /console/people": page(
        "POST",
        "/console/people",
        {
            "email": "nora.new@gov.mb.ca",
            "name": "Nora New",
            "department": "AGR",
            "roles": "requester",
        },
        writes=True,
    ),
    "GET /console/people/{email}": page("GET", f"/console/people/{AGR_STAFF}"),
    "POST /console/people/{email}": page(
        "POST",
        f"/console/people/{AGR_STAFF}",
        {"department": "AGR", "roles": "dept_approver"},
        writes=True,
    ),
    "POST /console/people/{email}/identities/{identity_id}/unbind": page(
        "POST", f"/console/people/{AGR_STAFF}/identities/1/unbind", writes=True
    ),
    "GET /console/departments": page("GET", "/console/departments"),
    "GET /console/audit": page("GET", "/console/audit"),
    "GET /console/audit.jsonl": page("GET", "/console/audit.jsonl"),
    "GET /console/audit/verify": page("GET", "/console/audit/verify"),
    "GET /console/compliance.csv": page("GET", "/console/compliance.csv"),
    "POST /console/departments": page(
        "POST", "/console/departments", {"code": "ECN", "name": "Economic Development"}, writes=True
    ),
    "GET /console/notifications": page("GET", "/console/notifications"),
    "GET /console/notifications/{message_id}": page("GET", "/console/notifications/{message}"),
    "GET /console/tokens": page("GET", "/console/tokens"),
    "GET /console/tokens/all": page("GET", "/console/tokens/all"),
    "POST /console/tokens": page(
        "POST", "/console/tokens", {"email": AGR_STAFF, "days": "1"}, writes=True
    ),
    "POST /console/tokens/{token_id}/revoke": page(
        "POST", "/console/tokens/{token}/revoke", writes=True
    ),
}


# ------------------------------------------------------------------------------ the cases


def app_routes() -> set[str]:
    """Every "METHOD /path" the application answers, from ``create_app().routes``."""
    app = create_app(Settings(database_url="sqlite://", keyring="/nonexistent.keyring"))
    found: set[str] = set()

    def walk(routes: Any) -> None:
        for route in routes:
            nested = getattr(route, "effective_route_contexts", None)
            if callable(nested):  # a router included by FastAPI >= 0.16x
                walk(nested())
            elif isinstance(route, Mount):
                if route.path == "":  # an application mounted at the root (the console)
                    walk(route.routes)
                elif not isinstance(route.app, StaticFiles):  # static files are public
                    found.add(f"MOUNT {route.path}")
            else:
                methods = set(route.methods or ())
                if "GET" in methods:
                    methods.discard("HEAD")
                found.update(f"{method} {route.path}" for method in methods)

    walk(app.routes)
    return found


@dataclass(frozen=True)
class Case:
    entry: str
    persona: str
    expected: Expect = 0
    call: Call | None = None
    problem: str | None = None


def _cases() -> list[Any]:
    routes = app_routes()
    entries = {key.partition(":")[0] for key in MATRIX}
    cases: list[Case] = []
    for key in sorted(routes | entries | DOCS_ROUTES):
        if key in DOCS_ROUTES:
            if key in routes:
                method, path = key.split(" ", 1)
                cases += [Case(key, p, 200, api(method, path)) for p in PERSONAS]
        elif key not in entries:
            cases.append(Case(key, "unlisted", problem=f"{key} has no row in MATRIX."))
        elif key not in routes:
            cases.append(
                Case(key, "stale", problem=f"MATRIX has {key}; the app has no such route.")
            )
    for entry in sorted(MATRIX.keys() | CALLS.keys()):
        if entry not in CALLS or entry not in MATRIX:
            missing = "CALLS" if entry not in CALLS else "MATRIX"
            cases.append(Case(entry, "unbuilt", problem=f"{entry} is missing from {missing}."))
        elif entry.partition(":")[0] in routes:
            cases += [Case(entry, p, want, CALLS[entry]) for p, want in MATRIX[entry].items()]
    return [pytest.param(case, id=f"{case.entry}-{case.persona}") for case in cases]


@pytest.mark.parametrize("case", _cases())
def test_authorization_matrix(case: Case, world: World) -> None:
    if case.problem is not None:
        pytest.fail(case.problem)
    assert case.call is not None
    world.restore()
    world.client.cookies.clear()
    world.dirty = True  # until the call is shown to have changed nothing
    response = case.call.send(world, case.persona)
    allowed = _check_answer(case, response)
    _check_secrets(world, case, response, allowed=allowed)
    if case.persona in OUTSIDERS:
        _check_no_agr_data(case, response)
    _check_changes(world, case, response, allowed=allowed)


def _check_answer(case: Case, response: httpx.Response) -> bool:
    """The status the matrix expects; returns whether the call was allowed."""
    status, expected = response.status_code, case.expected
    location = response.headers.get("location")
    got = f"{status} {location or ''}: {response.text[:300]}"
    if expected == LOGIN:  # the sign-in page, then on to the page asked for
        assert status == 303 and location is not None, got
        assert location == "/login" or location.startswith("/login?next=%2F"), got
        return False
    assert status == expected, got
    if status == 303:  # sent on, but not to the sign-in page
        assert location and location != "/login", got
    return status < 400


def _check_secrets(world: World, case: Case, response: httpx.Response, *, allowed: bool) -> None:
    assert case.call is not None
    answer = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    shown = case.call.shows if allowed else None
    for name, forms in world.secrets.items():
        if name == shown:
            assert forms[0] in answer, f"the allowed answer lacks {name}"
        else:
            assert not any(f in answer for f in forms), f"the answer carries {name}"
    for persona, csrf in world.csrf.items():
        if persona != case.persona:
            assert csrf not in answer, f"the answer carries the CSRF token of {persona}"


def _check_no_agr_data(case: Case, response: httpx.Response) -> None:
    """An outsider's answer holds none of AGR's own data (beyond what they sent)."""
    request = response.request
    sent = unquote_plus(str(request.url) + "\n" + request.content.decode("utf-8", "replace"))
    answer = (response.text + "\n" + str(response.headers)).lower()
    for marker in AGR_ONLY:
        if marker.lower() not in sent.lower():
            assert marker.lower() not in answer, f"{case.persona} was shown {marker!r}"


def _check_changes(world: World, case: Case, response: httpx.Response, *, allowed: bool) -> None:
    """Refused calls change nothing; allowed ones change only what they should."""
    assert case.call is not None
    after = world.read()
    changed = [
        name for name in after if name not in AUDIT_TABLES and after[name] != world.template[name]
    ]
    last = max((e["seq"] for e in world.template["audit_event"]), default=0)
    kept = [e for e in after["audit_event"] if e["seq"] <= last]
    assert kept == world.template["audit_event"], "earlier audit events changed"
    actions = [e["action"] for e in after["audit_event"] if e["seq"] > last]
    world.dirty = bool(changed or actions)
    if allowed and case.call.writes:
        assert changed, "the allowed call changed nothing"
        return
    if allowed:
        expected = list(case.call.audits)
    elif response.status_code == 403 and case.call.refusal:
        expected = [case.call.refusal]
    else:
        expected = []
    assert changed == [], f"the call changed {changed}"
    assert actions == expected, f"the call left audit events {actions}"
