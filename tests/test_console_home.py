"""The console's home page and its requests list, through HTTP, for each role: what awaits each
person (decisions, reviews due, credentials to rotate), their requests and the accounts they
hold, and nothing they may not see; the requests list filtered and paged."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

import pytest
from sqlmodel import select

from registry.http.console.pages import home
from registry.http.console.pages import requests as requests_page
from registry.models import Credential, utcnow
from registry.services import credentials
from registry.services import requests as account_requests
from tests.conftest import Api
from tests.factories import World
from vault import Secret


@dataclass
class Seeded:
    """Account ids by handle, and the open request's id."""

    ids: dict[str, int]
    request_id: int


def _seed(api: Api) -> Seeded:
    """AGR: a review overdue, one due in 10 days, one in 90; HLT: one due in 3 days. Passwords:
    AgrSoon's marked for rotation, AgrLater's 400 days old, the others new. An open AGR request
    by the requester."""
    today = utcnow().date()
    settings = api.db.settings()
    with api.db.scope() as session:
        world = World.load(session, settings)
        plan = {
            "AgrOverdue": ("AGR", ("ced2", "agr_staff"), -5),
            "AgrSoon": ("AGR", ("ced1", "agr_staff"), 10),
            "AgrLater": ("AGR", ("ced1", "agr_staff"), 90),
            "HltSoon": ("HLT", ("ced1", "hlt_requester"), 3),
        }
        ids: dict[str, int] = {}
        for handle, (department, holders, days) in plan.items():
            account = world.account(
                handle, department=department, holders=holders, login_email="social@gov.mb.ca"
            )
            account.next_review_on = today + dt.timedelta(days=days)
            session.add(account)
            ids[handle] = account.id or 0
            credentials.put(
                session,
                keyring=api.db.keyring(),
                actor=world.actor("ced1"),
                account_id=account.id or 0,
                kind="password",
                value=Secret(f"pw-{handle}"),
            )
        session.flush()
        rows = {
            r.account_id: r for r in session.exec(select(Credential)).all() if r.kind == "password"
        }
        rows[ids["AgrSoon"]].rotation_due_at = utcnow()
        rows[ids["AgrSoon"]].rotation_reason = "known to lee.left@gov.mb.ca, who left"
        rows[ids["AgrLater"]].set_at = utcnow() - dt.timedelta(days=400)
        session.add_all(rows.values())
        opened = account_requests.submit_new_account(
            session,
            settings=settings,
            actor=world.actor("agr_requester"),
            platform="x",
            handle="mbfarm",
            url="https://x.com/mbfarm",
            category="official",
            department="AGR",
            purpose="Farm news",
            login_email="farm@gov.mb.ca",
            holders=[world.email("agr_staff")],
        )
    return Seeded(ids=ids, request_id=opened.id)


@pytest.fixture
def seeded(api: Api) -> Seeded:
    return _seed(api)


def _home(api: Api, who: str) -> str:
    api.client.cookies.clear()
    api.sign_in(who)
    page = api.client.get("/console")
    assert page.status_code == 200, page.text
    return page.text


def _section(page: str, name: str) -> str | None:
    """The text of the home page's section ``name`` (its heading's id), or None."""
    found = re.search(rf'<section aria-labelledby="{name}-heading">(.*?)</section>', page, re.S)
    return found.group(1) if found else None


def _handles(text: str | None) -> list[str]:
    """The accounts a section links to, in order (their handles)."""
    return re.findall(r'<a href="/console/accounts/\d+(?:#[a-z-]+)?">\w+ @(\w+)</a>', text or "")


class TestReviewsDue:
    def test_ced_sees_every_department_overdue_and_soon_not_later(
        self, api: Api, seeded: Seeded
    ) -> None:
        reviews = _section(_home(api, "ced1"), "reviews")
        assert _handles(reviews) == ["AgrOverdue", "HltSoon", "AgrSoon"]  # soonest first
        assert "(overdue)" in (reviews or "") and "AgrLater" not in (reviews or "")
        assert f'href="/console/accounts/{seeded.ids["AgrSoon"]}#record-review"' in (reviews or "")
        assert "3 accounts with a review overdue or due within 30 days" in (reviews or "")

    def test_an_executive_sees_their_department_only(self, api: Api, seeded: Seeded) -> None:
        reviews = _section(_home(api, "agr_approver"), "reviews")
        assert _handles(reviews) == ["AgrOverdue", "AgrSoon"]
        assert "#record-review" not in (reviews or "")  # CED records reviews, not them
        assert _handles(_section(_home(api, "hlt_approver"), "reviews")) == ["HltSoon"]

    def test_people_who_neither_review_nor_decide_have_no_such_section(
        self, api: Api, seeded: Seeded
    ) -> None:
        for who in ("agr_requester", "agr_staff", "auditor", "fin_admin"):
            assert _section(_home(api, who), "reviews") is None, who

    def test_none_due_is_said_in_a_sentence(self, api: Api) -> None:
        reviews = _section(_home(api, "ced1"), "reviews")
        assert "No review is overdue or due within 30 days." in (reviews or "")

    def test_a_long_list_shows_its_first_rows_and_counts_them(
        self, api: Api, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(home, "SHORT", 2)
        reviews = _section(_home(api, "ced1"), "reviews") or ""
        assert _handles(reviews) == ["AgrOverdue", "HltSoon"]
        assert "3 accounts with a review" in reviews and "the first 2 are listed" in reviews


class TestCredentialsToRotate:
    def test_ced_sees_every_credential_due(self, api: Api, seeded: Seeded) -> None:
        due = _section(_home(api, "ced2"), "rotations") or ""
        assert _handles(due) == ["AgrSoon", "AgrLater"]  # the marked one first
        assert "known to lee.left@gov.mb.ca, who left" in html.unescape(due)
        assert "more than 365 days ago" in due
        assert f'href="/console/accounts/{seeded.ids["AgrSoon"]}#store-credential"' in due

    def test_a_holder_sees_those_of_the_accounts_they_hold(self, api: Api, seeded: Seeded) -> None:
        assert _handles(_section(_home(api, "agr_staff"), "rotations")) == [
            "AgrSoon",
            "AgrLater",
        ]
        mine = _section(_home(api, "hlt_requester"), "rotations") or ""
        assert _handles(mine) == []
        assert "No credential is due for rotation on the accounts you hold." in mine

    def test_someone_who_holds_nothing_has_no_such_section(self, api: Api, seeded: Seeded) -> None:
        for who in ("agr_requester", "agr_approver", "auditor"):
            assert _section(_home(api, who), "rotations") is None, who

    def test_a_new_version_clears_it(self, api: Api, seeded: Seeded) -> None:
        with api.db.scope() as session:
            world = World.load(session, api.db.settings())
            credentials.put(
                session,
                keyring=api.db.keyring(),
                actor=world.actor("ced1"),
                account_id=seeded.ids["AgrSoon"],
                kind="password",
                value=Secret("a-new-one"),
            )
        assert _handles(_section(_home(api, "ced1"), "rotations")) == ["AgrLater"]


class TestRequestsAndAccounts:
    def test_decisions_await_only_who_may_take_them(self, api: Api, seeded: Seeded) -> None:
        approve = f'action="/console/requests/{seeded.request_id}/approve"'
        page = _home(api, "agr_approver")
        assert approve in page and _section(page, "awaiting") is not None
        for who in ("ced1", "hlt_approver"):  # CED after the department; not HLT's
            page = _home(api, who)
            assert approve not in page and "Nothing awaits your decision." in page, who
        for who in ("agr_requester", "agr_staff", "auditor"):  # they decide nothing
            assert "awaiting-heading" not in _home(api, who), who

    def test_more_decisions_than_a_page_link_to_the_list(
        self, api: Api, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        api.client.post(
            "/requests",
            json={
                "kind": "decommission",
                "account_id": seeded.ids["AgrLater"],
                "reason": "No longer used",
            },
            headers=api.headers("agr_requester"),
        )
        monkeypatch.setattr(home, "CONSOLE_PAGE", 1)
        page = _home(api, "agr_approver")
        assert page.count('action="/console/requests/') == 2  # one request: approve, reject
        assert '<a href="/console/requests?show=awaiting">' in page

    def test_my_requests_newest_first(self, api: Api, seeded: Seeded) -> None:
        later = api.client.post(
            "/requests",
            json={"kind": "decommission", "account_id": seeded.ids["AgrLater"], "reason": "Old"},
            headers=api.headers("agr_requester"),
        ).json()["id"]
        mine = _section(_home(api, "agr_requester"), "mine") or ""
        assert re.findall(r"Request (\d+)</a>", mine) == [str(later), str(seeded.request_id)]
        others = _section(_home(api, "agr_approver"), "mine") or ""
        assert "You have not asked for anything yet." in others

    def test_accounts_i_hold(self, api: Api, seeded: Seeded) -> None:
        assert _handles(_section(_home(api, "agr_staff"), "held")) == [
            "AgrOverdue",
            "AgrSoon",
            "AgrLater",
        ]
        assert _handles(_section(_home(api, "hlt_requester"), "held")) == ["HltSoon"]
        none = _section(_home(api, "agr_requester"), "held") or ""
        assert "You hold no active account." in none

    def test_a_refused_decision_is_shown_on_the_home_page(self, api: Api, seeded: Seeded) -> None:
        csrf = api.sign_in("agr_approver")
        refused = api.client.post(
            f"/console/requests/{seeded.request_id}/reject", data={"csrf": csrf, "reason": " "}
        )
        assert refused.status_code == 422 and "Reason must not be blank." in refused.text
        assert 'role="alert"' in refused.text and "Reviews due" in refused.text


# ------------------------------------------------------------------------------ the list


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/console/requests/(\d+)">Request', page)]


def _submit(api: Api, who: str, handle: str, department: str) -> int:
    created = api.client.post(
        "/requests",
        json={
            "kind": "new_account",
            "platform": "x",
            "handle": handle,
            "url": f"https://x.com/{handle}",
            "category": "official",
            "department": department,
            "purpose": "News",
            "login_email": "news@gov.mb.ca",
            "holders": [],
        },
        headers=api.headers(who),
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


@pytest.fixture
def listed(api: Api) -> dict[str, list[int]]:
    """Three AGR requests (the first approved by the department) and two HLT ones."""
    agr = [_submit(api, "agr_requester", f"agr{i}", "AGR") for i in range(3)]
    hlt = [_submit(api, "hlt_requester", f"hlt{i}", "HLT") for i in range(2)]
    done = api.client.post(
        f"/requests/{agr[0]}/approve", json={}, headers=api.headers("agr_approver")
    )
    assert done.status_code == 200, done.text
    return {"AGR": agr, "HLT": hlt}


class TestRequestsList:
    def test_everyone_signed_in_gets_it_and_its_link(self, api: Api) -> None:
        api.sign_in("agr_requester")
        page = api.client.get("/console/requests")
        assert page.status_code == 200 and "<h1>Requests</h1>" in page.text
        assert '<a href="/console/requests">Requests</a>' in page.text
        api.client.cookies.clear()
        assert api.client.get("/console/requests", follow_redirects=False).status_code == 303

    def test_filters_narrow(self, api: Api, listed: dict[str, list[int]]) -> None:
        api.sign_in("ced1")
        assert _ids(api.client.get("/console/requests").text) == listed["AGR"] + listed["HLT"]
        hlt = api.client.get("/console/requests", params={"department": "HLT"}).text
        assert _ids(hlt) == listed["HLT"] and '<option value="HLT" selected>' in hlt
        approved = api.client.get(
            "/console/requests", params={"state": "department_approved", "department": "agr"}
        )
        assert _ids(approved.text) == [listed["AGR"][0]]
        submitted = api.client.get("/console/requests", params={"state": "submitted"}).text
        assert _ids(submitted) == listed["AGR"][1:] + listed["HLT"]
        assert '<option value="submitted" selected>' in submitted
        awaiting = api.client.get("/console/requests", params={"show": "awaiting"}).text
        assert _ids(awaiting) == [listed["AGR"][0]]  # CED decides after the department

    def test_paging_returns_every_request_once_with_the_filters_kept(
        self, api: Api, listed: dict[str, list[int]], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(requests_page, "CONSOLE_PAGE", 2)
        api.sign_in("ced1")
        path: str | None = "/console/requests?state=submitted"
        seen: list[int] = []
        pages = []
        while path is not None:
            page = api.client.get(path).text
            pages.append(path)
            seen += _ids(page)
            found = re.search(r'<a href="([^"]+)" rel="next">', page)
            path = html.unescape(found.group(1)) if found else None
        assert seen == listed["AGR"][1:] + listed["HLT"] and len(pages) == 2
        assert all("state=submitted" in p for p in pages)
        back = re.search(r'<a href="([^"]+)" rel="prev">', api.client.get(pages[-1]).text)
        assert back and "state=submitted" in html.unescape(back.group(1))
        assert _ids(api.client.get(html.unescape(back.group(1))).text) == seen[:2]

    def test_a_requester_never_sees_another_departments(
        self, api: Api, listed: dict[str, list[int]]
    ) -> None:
        api.sign_in("agr_staff")  # AGR, asked for nothing
        page = api.client.get("/console/requests").text
        assert _ids(page) == listed["AGR"] and 'id="filter-department"' not in page
        hlt = api.client.get("/console/requests", params={"department": "HLT"}).text
        assert _ids(hlt) == []
        mine = api.client.get("/console/requests", params={"show": "mine"}).text
        assert _ids(mine) == []

    @pytest.mark.parametrize(
        ("params", "status", "phrase"),
        [
            ({"state": "lost"}, 422, "Unknown state"),
            ({"department": "NOPE"}, 404, "No department with code"),
            ({"show": "everything"}, 422, "Unknown show"),
            ({"cursor": "not-a-cursor"}, 422, "The cursor is not one this registry gave out"),
        ],
    )
    def test_a_bad_filter_is_one_sentence(
        self, api: Api, params: dict[str, str], status: int, phrase: str
    ) -> None:
        api.sign_in("ced1")
        page = api.client.get("/console/requests", params=params)
        assert page.status_code == status and phrase in page.text
        assert "Traceback" not in page.text and "No request matches." in page.text

    def test_what_was_asked_for_is_shown_back_as_data(self, api: Api) -> None:
        api.sign_in("ced1")
        page = api.client.get("/console/requests", params={"state": "<script>x</script>"})
        assert page.status_code == 422
        assert "<script>x" not in page.text and "&lt;script&gt;x" in page.text
