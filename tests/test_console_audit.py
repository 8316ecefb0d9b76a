"""The console's audit log (``/console/audit``): who may read it, the filters, paging newest
first both ways, the JSON Lines download, the chain check, and event details shown as text."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any

import pytest
from sqlalchemy import text

from registry.http.console.pages import audit as audit_page
from registry.services import audit
from tests.conftest import Api, csrf_of
from tests.factories import CAST

ROWS = (
    "platform,handle,url,category,department,login_email,purpose,holders,display_name\n"
    + "".join(
        f"facebook,MBAudit{n},https://www.facebook.com/MBAudit{n},official,AGR,"
        f"agr.audit{n}@gov.mb.ca,Audit test {n},{CAST['ced1'][0]};{CAST['agr_staff'][0]},"
        f"Audit test {n}\n"
        for n in range(3)
    )
)
NOTE = '<script>alert("x")</script> & <b>bold</b>'
OLD_DAY = "2020-01-15"  # the day some events are moved to, for the date filters


@pytest.fixture
def log(api: Api) -> dict[str, Any]:
    """A log with events by the system, by CED (an import, a review with markup in its note)
    and by an administrator; two of them moved to an old day. The ids of what was made."""
    imported = api.client.post(
        "/accounts/import",
        content=ROWS,
        headers={**api.headers("ced1"), "Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    ids = [int(i) for i in imported.json()["account_ids"]]
    reviewed = api.client.post(
        f"/accounts/{ids[0]}/review", json={"note": NOTE}, headers=api.headers("ced1")
    )
    assert reviewed.status_code == 200, reviewed.text
    added = api.client.post(
        "/departments", json={"code": "ENV", "name": "Environment"}, headers=api.headers("admin")
    )
    assert added.status_code in (200, 201), added.text
    old = [e["seq"] for e in events(api)][:2]
    with api.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_event SET at = :at WHERE seq IN (:a, :b)"),
            {"at": dt.datetime(2020, 1, 15, 12, tzinfo=dt.UTC), "a": old[0], "b": old[1]},
        )
    return {"accounts": ids, "old": set(old)}


def sign_in(api: Api, who: str) -> None:
    """Sign the client in to the console as ``who`` (as a browser does, without the home)."""
    form = api.client.get("/login")
    signed = api.client.post(
        "/login",
        data={"token": api.tokens[who], "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def events(api: Api) -> list[dict[str, Any]]:
    """Every event in the database, oldest first, as the API's reader sees them."""
    with api.db.scope() as session:
        rows = session.execute(
            text(
                "SELECT seq, at, actor_email, action, entity_type, entity_id FROM audit_event "
                "ORDER BY seq"
            )
        ).mappings()
        return [dict(row) for row in rows]


def seqs_on(page: str) -> list[int]:
    """The event numbers listed on a page of the log, in order."""
    return [int(n) for n in re.findall(r"<tr><td>(\d+)</td><td>\d{4}-", page)]


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found.group(1)) if found else None


class TestWhoMayRead:
    @pytest.mark.parametrize("who", ["auditor", "ced1", "fin_admin"])
    def test_readers_see_the_log_and_its_link(self, api: Api, who: str) -> None:
        sign_in(api, who)
        page = api.client.get("/console/audit")
        assert page.status_code == 200
        assert 'href="/console/audit">Audit log</a>' in page.text
        assert seqs_on(page.text) == sorted(seqs_on(page.text), reverse=True)
        assert seqs_on(page.text)[0] == events(api)[-1]["seq"]  # the newest first

    @pytest.mark.parametrize(
        "path", ["/console/audit", "/console/audit.jsonl", "/console/audit/verify"]
    )
    def test_a_requester_is_refused_with_a_sentence(self, api: Api, path: str) -> None:
        sign_in(api, "agr_requester")
        refused = api.client.get(path)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        assert "may not read the audit log" in refused.text
        assert "<code>" not in refused.text  # no event shown
        assert 'href="/console/audit"' not in api.client.get("/console/compliance").text

    def test_the_log_needs_a_sign_in(self, api: Api) -> None:
        response = api.client.get("/console/audit", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


class TestFilters:
    def test_each_filter_narrows_to_exactly_its_events(
        self, api: Api, log: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(audit_page, "CONSOLE_PAGE", 1000)  # every match on one page
        sign_in(api, "auditor")
        every = events(api)
        account = log["accounts"][1]
        cases = [
            ({"who": CAST["ced1"][0].upper()}, lambda e: e["actor_email"] == CAST["ced1"][0]),
            ({"action": "account.reviewed"}, lambda e: e["action"] == "account.reviewed"),
            (
                {"account": str(account)},
                lambda e: (e["entity_type"], e["entity_id"]) == ("account", str(account)),
            ),
            ({"from": OLD_DAY, "to": OLD_DAY}, lambda e: e["seq"] in log["old"]),
            ({"to": OLD_DAY}, lambda e: e["seq"] in log["old"]),
            ({"from": "2020-01-16"}, lambda e: e["seq"] not in log["old"]),
            (
                {"who": CAST["ced1"][0], "action": "account.imported"},
                lambda e: e["actor_email"] == CAST["ced1"][0] and e["action"] == "account.imported",
            ),
        ]
        for params, keep in cases:
            page = api.client.get("/console/audit", params=params)
            assert page.status_code == 200, (params, page.text[:300])
            want = sorted((e["seq"] for e in every if keep(e)), reverse=True)
            assert want, params  # each filter has something to find
            assert seqs_on(page.text) == want, params
            assert len(want) < len(every), params  # and it narrows

    def test_the_action_filter_offers_the_actions_in_the_log(
        self, api: Api, log: dict[str, Any]
    ) -> None:
        sign_in(api, "auditor")
        page = api.client.get("/console/audit", params={"action": "account.reviewed"})
        offered = re.findall(r'<option value="([^"]+)"', page.text)
        assert offered == sorted({e["action"] for e in events(api)})
        assert '<option value="account.reviewed" selected>' in page.text

    @pytest.mark.parametrize(
        ("params", "sentence"),
        [
            ({"account": "abc"}, "Account must be an account number"),
            ({"account": "99999999999"}, "Account must be an account number"),
            ({"from": "31/01/2025"}, "From must be a date written as YYYY-MM-DD"),
            ({"to": "2025-02-30"}, "To must be a date written as YYYY-MM-DD"),
            ({"from": "2025-02-02", "to": "2025-02-01"}, "must be on or before the To date"),
            ({"cursor": "not-a-cursor"}, "The cursor is not one this registry gave out"),
        ],
    )
    def test_bad_filter_input_is_a_sentence_not_a_traceback(
        self, api: Api, params: dict[str, str], sentence: str
    ) -> None:
        sign_in(api, "auditor")
        page = api.client.get("/console/audit", params=params)
        assert page.status_code == 422
        assert page.headers["content-type"].startswith("text/html")
        assert sentence in html.unescape(page.text) and "Traceback" not in page.text
        assert seqs_on(page.text) == []
        # the form keeps what was typed
        for value in params.values():
            if value != "not-a-cursor":
                assert f'value="{value}"' in page.text
        if "cursor" not in params:
            download = api.client.get("/console/audit.jsonl", params=params)
            assert download.status_code == 422 and sentence in html.unescape(download.text)


class TestPaging:
    @pytest.mark.parametrize("params", [{}, {"who": CAST["ced1"][0]}, {"action": "token.created"}])
    def test_every_event_once_newest_first_both_ways_with_the_filters_kept(
        self,
        api: Api,
        log: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch,
        params: dict[str, str],
    ) -> None:
        monkeypatch.setattr(audit_page, "CONSOLE_PAGE", 2)
        sign_in(api, "auditor")
        # what the log holds now (signing in above was an event too), before any page is read
        every = events(api)
        first = api.client.get("/console/audit", params=params)
        keep = lambda e: all(  # noqa: E731
            (k == "who" and e["actor_email"] == v) or (k == "action" and e["action"] == v)
            for k, v in params.items()
        )
        want = sorted((e["seq"] for e in every if keep(e)), reverse=True)
        assert len(want) > 4  # three pages at least
        pages = [first.text]
        assert link(first.text, "prev") is None
        while (nxt := link(pages[-1], "next")) is not None:
            for key, value in params.items():
                assert f"{key}={value.replace('@', '%40')}" in nxt  # the filters are kept
            pages.append(api.client.get(nxt).text)
        forward = [seq for page in pages for seq in seqs_on(page)]
        assert forward == want
        assert all(len(seqs_on(page)) == 2 for page in pages[:-1])
        back = [seqs_on(pages[-1])]
        current = pages[-1]
        while (prev := link(current, "prev")) is not None:
            current = api.client.get(prev).text
            back.append(seqs_on(current))
        assert [seq for page in reversed(back) for seq in page] == want
        assert back[-1] == seqs_on(first.text)  # back on the first page, Previous gone


class TestDownload:
    @pytest.mark.parametrize("params", [{}, {"who": CAST["ced1"][0]}, {"from": "2020-01-16"}])
    def test_every_matching_event_one_json_object_a_line(
        self,
        api: Api,
        log: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch,
        params: dict[str, str],
    ) -> None:
        monkeypatch.setattr(audit_page, "EXPORT_BATCH", 3)  # several batches
        monkeypatch.setattr(audit_page, "CONSOLE_PAGE", 2)  # more than a page
        sign_in(api, "auditor")
        page = api.client.get("/console/audit", params=params)
        href = html.unescape(re.search(r'<a href="(/console/audit\.jsonl[^"]*)"', page.text)[1])
        every = events(api)
        download = api.client.get(href)
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("application/x-ndjson")
        assert download.headers["content-disposition"].startswith("attachment")
        assert download.headers["cache-control"] == "no-store"
        lines = download.text.splitlines()
        parsed = [json.loads(line) for line in lines]
        if params.get("who"):
            want = [e["seq"] for e in every if e["actor_email"] == params["who"]]
        elif params.get("from"):
            want = [e["seq"] for e in every if e["seq"] not in log["old"]]
        else:
            want = [e["seq"] for e in every]
        assert [event["seq"] for event in parsed] == want  # oldest first, each once
        assert len(want) > 3
        reviewed = [e for e in parsed if e["action"] == "account.reviewed"]
        if reviewed:
            assert reviewed[0]["details"]["note"] == NOTE  # the data as written


class TestChain:
    def test_the_page_shows_the_head_and_the_check_finds_a_tampered_row(self, api: Api) -> None:
        sign_in(api, "auditor")
        count = len(events(api))
        page = api.client.get("/console/audit")
        assert page.status_code == 200
        assert f"The log holds {count} events; the last sealed is event {count}" in page.text
        assert 'action="/console/audit/verify"' in page.text and ">Check the chain<" in page.text
        checked = api.client.get("/console/audit/verify")
        assert checked.status_code == 200
        assert f"The chain is intact: {count} events checked" in checked.text
        with api.db.engine.begin() as connection:
            connection.execute(
                text("UPDATE audit_event SET details = :d WHERE seq = 3"),
                {"d": json.dumps({"forged": True})},
            )
        broken = api.client.get("/console/audit/verify", params={"action": "person.created"})
        assert broken.status_code == 200
        assert "The chain is broken" in broken.text
        assert "at sequence 3" in broken.text and "changed after it was written" in broken.text
        assert '<option value="person.created" selected>' in broken.text  # the filters kept
        assert "The chain is intact" not in broken.text

    def test_the_check_says_when_the_keyring_cannot_be_opened(
        self, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        sign_in(api, "auditor")
        monkeypatch.setattr(api.client.app.state.settings, "keyring", "/nonexistent/keyring")
        page = api.client.get("/console/audit/verify")
        assert page.status_code == 503
        assert "The credential vault is unavailable" in page.text
        assert "Traceback" not in page.text


class TestDetails:
    def test_user_text_in_details_is_shown_escaped(self, api: Api, log: dict[str, Any]) -> None:
        sign_in(api, "auditor")
        page = api.client.get("/console/audit", params={"action": "account.reviewed"})
        assert NOTE not in page.text and "<script>alert" not in page.text
        assert "&lt;script&gt;alert(" in page.text and "&lt;b&gt;bold&lt;/b&gt;" in page.text
        account = log["accounts"][0]
        assert f'<a href="/console/accounts/{account}">account {account}</a>' in page.text


def test_event_page_reads_newest_first_in_the_service(api: Api, log: dict[str, Any]) -> None:
    """The service's keyset page, apart from the console: forward, then back."""
    from registry.services.actors import actor_by_email

    with api.db.scope() as session:
        actor = actor_by_email(session, api.db.settings(), CAST["auditor"][0])
        first = audit.event_page(session, actor=actor, limit=3)
        second = audit.event_page(session, actor=actor, limit=3, after=first.next)
        again = audit.event_page(session, actor=actor, limit=3, after=second.prev)
    assert [e.seq for e in first] == [e.seq for e in again]
    assert first[-1].seq > second[0].seq and first.prev is None and again.prev is None
