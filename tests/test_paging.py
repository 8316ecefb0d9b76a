"""Paging: every list of the API a page at a time (``limit``, an opaque ``cursor``, the next page
in ``Link``), and the command line's ``--limit`` and ``--all``."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import col, select

from registry.models import Handover, Person
from registry.paging import BAD_CURSOR, LAST, Before, Order
from registry.services import departments
from tests.conftest import Api, Cli
from tests.factories import CAST, NEW_REQUEST, World

EXTRA_DEPARTMENTS = [("EDU", "Education"), ("JUS", "Justice"), ("ENV", "Environment")]
# Each list, whom to ask for it, and the field that names an item.
LISTS = [
    ("/accounts", "admin", "id"),
    ("/people", "admin", "email"),
    ("/requests", "admin", "id"),
    ("/tokens", "admin", "id"),
    ("/departments", "agr_requester", "code"),
    ("/handovers", "auditor", "id"),
]


def cursor_of(data: dict[str, Any]) -> str:
    """A cursor as the registry writes one, for a test to forge."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def next_link(response: httpx.Response) -> str | None:
    """The URL of ``rel="next"`` in the Link header, if any."""
    link = response.headers.get("link")
    if link is None:
        return None
    url, rel = link.split(";", 1)
    assert rel.strip() == 'rel="next"' and url.startswith("<") and url.endswith(">"), link
    return url[1:-1]


def every_page(api: Api, url: str, who: str) -> list[list[Any]]:
    """Follow the Link headers from ``url`` to the end; the pages' items."""
    pages: list[list[Any]] = []
    following: str | None = url
    while following is not None:
        response = api.client.get(following, headers=api.headers(who))
        assert response.status_code == 200, response.text
        pages.append(response.json())
        following = next_link(response)
        assert len(pages) < 100, "the pages never end"
    return pages


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.fixture
def filled(api: Api) -> Api:
    """The cast, and at least seven items in every list: accounts in AGR and HLT, three more
    departments, requests, handover records (the cast's eleven people hold one token each)."""
    with api.db.scope() as session:
        world = World.load(session, api.db.settings())
        for i in range(5):
            world.account(f"MBAgr{i}", login_email=f"agr.{i}@gov.mb.ca")
        for i in range(3):
            world.account(
                f"MBHealth{i}",
                department="HLT",
                holders=("ced1", "hlt_requester"),
                login_email=f"hlt.{i}@gov.mb.ca",
            )
        for code, name in EXTRA_DEPARTMENTS:
            departments.add_department(session, actor=None, code=code, name=name)
        ids = {p.email: p.id for p in session.exec(select(Person))}
        for _ in range(7):
            row = Handover(
                run_by_id=ids[CAST["ced1"][0]],
                leaver_id=ids[CAST["agr_staff"][0]],
                successor_id=ids[CAST["agr_requester"][0]],
            )
            session.add(row)
            session.flush()
            row.report = {
                "id": row.id,
                "dry_run": False,
                "run_by": CAST["ced1"][0],
                "leaver": CAST["agr_staff"][0],
                "successor": CAST["agr_requester"][0],
                "at": row.at.isoformat(),
                "accounts": [],
                "credentials_due": [],
                "login_email_flags": [],
                "requests_moved": [],
                "tokens_revoked": 0,
                "roles_removed": [],
            }
            session.add(row)
    for i in range(7):
        body = {
            **NEW_REQUEST,
            "handle": f"MBFlood{i}",
            "url": f"https://www.facebook.com/MBFlood{i}",
        }
        created = api.client.post("/requests", json=body, headers=api.headers("agr_requester"))
        assert created.status_code == 201, created.text
    return api


class TestEveryItemOnceInOrder:
    @pytest.mark.parametrize(("path", "who", "name"), LISTS)
    def test_small_pages_hold_what_one_page_holds(
        self, filled: Api, path: str, who: str, name: str
    ) -> None:
        whole = filled.client.get(f"{path}?limit=1000", headers=filled.headers(who))
        assert whole.status_code == 200 and "link" not in whole.headers
        items = whole.json()
        assert len(items) >= 7
        pages = every_page(filled, f"{path}?limit=2", who)
        assert all(len(page) == 2 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 2
        assert [item for page in pages for item in page] == items
        names = [item[name] for item in items]
        assert len(set(names)) == len(names)

    @pytest.mark.parametrize(("path", "who", "name"), LISTS)
    def test_the_default_page_keeps_the_order_it_always_had(
        self, filled: Api, path: str, who: str, name: str
    ) -> None:
        names = [item[name] for item in filled.client.get(path, headers=filled.headers(who)).json()]
        newest_first = path == "/handovers"
        assert names == sorted(names, reverse=newest_first)


class TestFiltersKeptInTheNextLink:
    def test_accounts_by_department_and_status(self, filled: Api) -> None:
        url = "/accounts?department=AGR&status=active&limit=2"
        first = filled.client.get(url, headers=filled.headers("ced1"))
        link = next_link(first)
        assert link is not None
        query = query_of(link)
        assert query["department"] == ["AGR"] and query["status"] == ["active"]
        assert query["limit"] == ["2"] and len(query["cursor"]) == 1
        pages = every_page(filled, url, "ced1")
        found = [a for page in pages for a in page]
        assert {a["department"] for a in found} == {"AGR"}
        assert len(found) == 5

    def test_requests_by_state(self, filled: Api) -> None:
        pages = every_page(filled, "/requests?state=submitted&limit=3", "agr_approver")
        assert [len(p) for p in pages] == [3, 3, 1]
        assert {r["state"] for page in pages for r in page} == {"submitted"}

    def test_a_cursor_starts_after_its_item_whatever_the_filters(self, filled: Api) -> None:
        first = filled.client.get("/people?limit=3", headers=filled.headers("admin"))
        link = next_link(first)
        assert link is not None
        cursor = query_of(link)["cursor"][0]
        rest = filled.client.get(
            f"/people?department=AGR&cursor={cursor}", headers=filled.headers("admin")
        ).json()
        last = first.json()[-1]["email"]
        assert rest and all(p["email"] > last and p["department"] == "AGR" for p in rest)


class TestTheLastPageHasNoLink:
    def test_a_page_that_ends_exactly_at_the_limit(self, filled: Api) -> None:
        count = len(filled.client.get("/people", headers=filled.headers("admin")).json())
        assert count == len(CAST)
        exact = filled.client.get(f"/people?limit={count}", headers=filled.headers("admin"))
        assert len(exact.json()) == count and "link" not in exact.headers
        short = filled.client.get(f"/people?limit={count - 1}", headers=filled.headers("admin"))
        assert len(short.json()) == count - 1 and next_link(short) is not None

    def test_an_empty_list(self, api: Api) -> None:
        response = api.client.get("/handovers", headers=api.headers("auditor"))
        assert response.json() == [] and "link" not in response.headers


class TestTheDefaultLimit:
    def test_a_hundred_at_a_time(self, api: Api) -> None:
        with api.db.scope() as session:
            for i in range(100):
                departments.add_department(session, actor=None, code=f"D{i:03}", name=f"Dept {i}")
        first = api.client.get("/departments", headers=api.headers("agr_requester"))
        assert len(first.json()) == 100
        link = next_link(first)
        assert link is not None and query_of(link).get("limit") is None
        rest = api.client.get(link, headers=api.headers("agr_requester"))
        assert len(rest.json()) == 4 and "link" not in rest.headers


class TestLimitBounds:
    @pytest.mark.parametrize("path", [p for p, _, _ in LISTS])
    @pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten"])
    def test_out_of_bounds_is_422(self, api: Api, path: str, limit: str) -> None:
        response = api.client.get(f"{path}?limit={limit}", headers=api.headers("admin"))
        assert response.status_code == 422, response.text

    @pytest.mark.parametrize("limit", [1, 1000])
    def test_the_bounds_themselves_are_answered(self, api: Api, limit: int) -> None:
        response = api.client.get(f"/people?limit={limit}", headers=api.headers("admin"))
        assert response.status_code == 200 and len(response.json()) == min(limit, len(CAST))


class TestBadCursor:
    @pytest.mark.parametrize(
        "cursor",
        [
            "nonsense!",
            "e30",  # {} : no key
            base64.urlsafe_b64encode(b"\xff\xfe not json").decode(),
            cursor_of({"l": "people", "k": ["a@gov.mb.ca", 1]}),  # another list's
            cursor_of({"l": "accounts", "k": ["1"]}),
            cursor_of({"l": "accounts", "k": [True]}),
            cursor_of({"l": "accounts", "k": [1.5]}),
            cursor_of({"l": "accounts", "k": [-1]}),
            cursor_of({"l": "accounts", "k": [2**31]}),  # beyond PostgreSQL's integer
            cursor_of({"l": "accounts", "k": [1, 2]}),
            cursor_of({"l": "accounts", "k": None}),
            cursor_of(["accounts", 1]),
        ],
    )
    def test_is_422_in_one_sentence(self, api: Api, cursor: str) -> None:
        response = api.client.get(
            "/accounts", params={"cursor": cursor}, headers=api.headers("admin")
        )
        assert response.status_code == 422, response.text
        assert response.json() == {"error": "invalid_input", "detail": BAD_CURSOR}

    @pytest.mark.parametrize(
        "key", [["a\x00b", 1], ["\ud800", 1], ["x" * 300, 1], ["a@gov.mb.ca", "1"]]
    )
    def test_text_a_database_could_not_compare_is_refused(self, api: Api, key: list[Any]) -> None:
        cursor = cursor_of({"l": "people", "k": key})
        response = api.client.get(
            "/people", params={"cursor": cursor}, headers=api.headers("admin")
        )
        assert response.status_code == 422
        assert response.json()["detail"] == BAD_CURSOR

    def test_an_overlong_cursor_is_422(self, api: Api) -> None:
        response = api.client.get(
            "/people", params={"cursor": "A" * 2000}, headers=api.headers("admin")
        )
        assert response.status_code == 422


class TestCursorsRevealNothing:
    def test_a_requester_pages_through_their_department_only(self, filled: Api) -> None:
        pages = every_page(filled, "/accounts?limit=1", "agr_requester")
        assert len(pages) == 5
        assert {a["department"] for page in pages for a in page} == {"AGR"}

    def test_an_administrators_cursor_shows_a_requester_nothing_more(self, filled: Api) -> None:
        seen = filled.client.get("/accounts?limit=2", headers=filled.headers("admin"))
        link = next_link(seen)  # the administrator's next page: AGR's and HLT's accounts
        assert link is not None
        cursor = query_of(link)["cursor"][0]
        mine = filled.client.get(
            "/accounts", params={"cursor": cursor}, headers=filled.headers("agr_requester")
        ).json()
        assert [a["department"] for a in mine] == ["AGR"] * 3
        every = filled.client.get("/accounts", headers=filled.headers("admin")).json()
        health = min(a["id"] for a in every if a["department"] == "HLT") - 1
        for key in (0, 2**31 - 1, health):
            forged = cursor_of({"l": "accounts", "k": [key]})
            shown = filled.client.get(
                "/accounts", params={"cursor": forged}, headers=filled.headers("agr_requester")
            )
            assert shown.status_code == 200, (key, shown.text)
            assert {a["department"] for a in shown.json()} <= {"AGR"}

    def test_tokens_stay_the_callers_own(self, filled: Api) -> None:
        forged = cursor_of({"l": "tokens", "k": [0]})
        shown = filled.client.get(
            "/tokens", params={"cursor": forged, "limit": 1}, headers=filled.headers("ced1")
        )
        assert {t["person"] for t in shown.json()} == {CAST["ced1"][0]}
        assert "link" not in shown.headers


class TestAuditEventsLink:
    def test_the_link_follows_next_after_seq_with_the_filters(self, filled: Api) -> None:
        url = "/audit/events?action=account.created&limit=3"
        first = filled.client.get(url, headers=filled.headers("auditor"))
        body = first.json()
        assert set(body) == {"events", "next_after_seq"}  # the documented shape, unchanged
        link = next_link(first)
        assert link is not None
        query = query_of(link)
        assert query["after_seq"] == [str(body["next_after_seq"])]
        assert query["action"] == ["account.created"] and query["limit"] == ["3"]
        events: list[dict[str, Any]] = []
        following: str | None = url
        while following is not None:
            page = filled.client.get(following, headers=filled.headers("auditor"))
            events += page.json()["events"]
            following = next_link(page)
            if page.json()["next_after_seq"] is None:
                assert following is None
        assert len(events) == 8 and {e["action"] for e in events} == {"account.created"}
        assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})


class TestCliLimitAndAll:
    SAID = "Showing the first {}; use --all for every one, or --limit."

    def test_limit_shows_that_many_and_says_there_are_more(self, filled: Api, cli: Cli) -> None:
        result = cli.ok("people", "list", "--limit", "3", "--json", "--as", CAST["admin"][0])
        assert [p["email"] for p in json.loads(result.stdout)] == sorted(
            email for email, _, _ in CAST.values()
        )[:3]
        assert result.stderr.strip() == self.SAID.format(3)

    def test_all_shows_every_one_following_the_pages(
        self, filled: Api, cli: Cli, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("cli.common.PAGE_MAX", 2)  # several pages for a few rows
        admin = CAST["admin"][0]
        for group, count in [
            ("accounts", 8),
            ("people", len(CAST)),
            ("request", 7),
            ("tokens", len(CAST)),
            ("departments", 7),
        ]:
            result = cli.ok(group, "list", "--all", "--json", "--as", admin)
            rows = json.loads(result.stdout)
            assert isinstance(rows, list) and len(rows) == count, group
            assert result.stderr == "", group
            ids = [json.dumps(r, sort_keys=True) for r in rows]
            assert len(set(ids)) == count, group

    def test_the_default_is_a_hundred(self, api: Api, cli: Cli) -> None:
        with api.db.scope() as session:
            for i in range(100):
                departments.add_department(session, actor=None, code=f"D{i:03}", name=f"Dept {i}")
        result = cli.ok("departments", "list", "--json", "--as", CAST["ced1"][0])
        assert len(json.loads(result.stdout)) == 100
        assert result.stderr.strip() == self.SAID.format(100)
        table = cli.ok("departments", "list", "--all", "--as", CAST["ced1"][0])
        assert "D099" in table.stdout and table.stderr == ""

    def test_no_sentence_when_everything_is_shown(self, filled: Api, cli: Cli) -> None:
        result = cli.ok("accounts", "list", "--limit", "8", "--as", CAST["ced1"][0])
        assert result.stderr == "" and "MBHealth2" in result.stdout

    def test_the_audit_log_pages_too(self, filled: Api, cli: Cli) -> None:
        auditor = CAST["auditor"][0]
        result = cli.ok(
            "audit", "log", "--action", "account.created", "--limit", "3", "--json", "--as", auditor
        )
        lines = result.stdout.splitlines()
        assert len(lines) == 3 and result.stderr.strip() == self.SAID.format(3)
        every = cli.ok("audit", "log", "--action", "account.created", "--all", "--as", auditor)
        assert every.stderr == ""
        eight = cli.ok(
            "audit", "log", "--action", "account.created", "--limit", "8", "--json", "--as", auditor
        )
        seqs = [json.loads(line)["seq"] for line in eight.stdout.splitlines()]
        assert len(seqs) == 8 and seqs == sorted(seqs) and eight.stderr == ""

    @pytest.mark.parametrize("limit", ["0", "1001"])
    def test_limit_out_of_bounds_is_refused(self, filled: Api, cli: Cli, limit: str) -> None:
        result = cli("people", "list", "--limit", limit, "--as", CAST["admin"][0])
        assert result.exit_code == 2 and "--limit" in result.stderr


class TestReadingBackwards:
    """The console's Previous link: a backward cursor reads the page just before, in order."""

    @pytest.mark.parametrize("descending", [False, True])
    def test_back_and_forth_cover_every_row_once(self, filled: Api, descending: bool) -> None:
        order: Order[Person] = Order(
            "people-test",
            [col(Person.email), col(Person.id)],
            key=lambda p: (p.email, p.id),
            descending=descending,
        )
        with filled.db.scope() as session:
            everyone = [p.id for p in order.fetch(session, select(Person), limit=None, after=None)]
            forward = [order.fetch(session, select(Person), limit=3, after=None)]
            while forward[-1].next is not None:
                key = order.decode(order.encode(forward[-1].next))
                forward.append(order.fetch(session, select(Person), limit=3, after=key))
            assert [p.id for page in forward for p in page] == everyone
            assert forward[0].prev is None and all(p.prev is not None for p in forward[1:])
            # From the last page back to the first with the Previous cursors.
            backward = [forward[-1]]
            while backward[-1].prev is not None:
                key = order.decode(order.encode(backward[-1].prev))
                assert isinstance(key, Before)
                backward.append(order.fetch(session, select(Person), limit=3, after=key))
            assert [[p.id for p in page] for page in reversed(backward)] == [
                [p.id for p in page] for page in forward
            ]
            assert all(page.next is not None for page in backward[1:])

    def test_a_backward_flag_other_than_one_is_refused(self, api: Api) -> None:
        forged = cursor_of({"l": "people", "k": ["a@gov.mb.ca", 1], "b": 2})
        response = api.client.get(f"/people?cursor={forged}", headers=api.headers("admin"))
        assert response.status_code == 422 and response.json()["detail"] == BAD_CURSOR


def test_last_reads_the_last_page_in_order(filled: Api) -> None:
    """``LAST`` reads the newest rows without a key, so no out-of-range sentinel id ever reaches
    the database (PostgreSQL refuses an integer past its ``integer``)."""
    order: Order[Person] = Order("people-test", [col(Person.id)], key=lambda p: (p.id,))
    with filled.db.scope() as session:
        everyone = [p.id for p in order.fetch(session, select(Person), limit=None, after=None)]
        last = order.fetch(session, select(Person), limit=3, after=LAST)
        assert [p.id for p in last] == everyone[-3:]
        assert last.next is None and last.prev is not None
