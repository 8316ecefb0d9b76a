"""The console's Notifications page (``/console/notifications``) and a message's page: who may
read the outbox, the counts per status, the status filter, paging newest first both ways, and
what people typed (and what a relay answered) shown as text."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from markupsafe import escape
from sqlalchemy import text

from registry.services import notify
from registry.services.notify import Mail, Recipient
from tests.conftest import Api
from tests.factories import CAST, NEW_REQUEST

NOTE = '<script>alert("x")</script> & <b>bold</b>'
ERROR = '550 5.1.1 <b>mailbox</b> "unavailable" & ' + "x" * 200
MANY = 70  # messages in :func:`outbox`: more than a page (50) of them queued
SENT_AT = dt.datetime(2031, 3, 2, 9, 30, tzinfo=dt.UTC)  # a time no test runs at


def queue(api: Api, count: int, *, subject: str = "Note {n}", to: str = "p{n}@gov.mb.ca") -> None:
    """``count`` messages, one per recipient, queued as a service queues them."""
    with api.db.scope() as session:
        for n in range(count):
            notify.queue(
                session,
                settings=api.db.settings(),
                event="test.note",
                mail=Mail(
                    subject=subject.format(n=n),
                    paragraphs=[f"Paragraph of note {n}."],
                    action=("Open the console", "/console"),
                ),
                to=[Recipient(email=to.format(n=n), why="You receive this in a test.")],
            )


def ids(api: Api, status: str | None = None) -> list[int]:
    """The outbox's message numbers (of ``status``), newest first."""
    where = "" if status is None else " WHERE status = :status"
    with api.db.engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT id FROM outbox_message{where} ORDER BY id DESC"), {"status": status}
        )
        return [row[0] for row in rows]


def mark(api: Api, numbers: list[int], status: str, *, error: str | None = None) -> None:
    """Put messages where the delivery job leaves them: sent (with its time) or failed."""
    with api.db.engine.begin() as connection:
        for number in numbers:
            connection.execute(
                text(
                    "UPDATE outbox_message SET status = :status, attempts = 3, "
                    "sent_at = :sent, last_error = :error WHERE id = :id"
                ),
                {
                    "status": status,
                    "sent": SENT_AT if status == "sent" else None,
                    "error": error,
                    "id": number,
                },
            )


def listed(page: str) -> list[int]:
    """The message numbers on a page of the list, in order."""
    return [int(n) for n in re.findall(r'<tr><td><a href="/console/notifications/(\d+)"', page)]


def counted(page: str) -> dict[str, int]:
    """The counts per status at the top of the page."""
    found = re.findall(r'status=(\w+)">\w+</a></th><td>(\d+)</td>', page)
    return {status: int(n) for status, n in found}


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found.group(1)) if found else None


@pytest.fixture
def outbox(api: Api) -> dict[str, list[int]]:
    """MANY messages: the oldest five failed (with markup in the error), the next ten sent."""
    queue(api, MANY)
    oldest = sorted(ids(api))
    failed, sent = oldest[:5], oldest[5:15]
    mark(api, failed, "failed", error=ERROR)
    mark(api, sent, "sent")
    return {"failed": failed, "sent": sent, "queued": oldest[15:]}


class TestWhoMayRead:
    @pytest.mark.parametrize("who", ["fin_admin", "ced1", "admin"])
    def test_administrators_and_ced_see_the_outbox_and_its_link(
        self, api: Api, outbox: dict[str, list[int]], who: str
    ) -> None:
        api.sign_in(who)
        page = api.client.get("/console/notifications")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert 'href="/console/notifications">Notifications</a>' in page.text
        assert listed(page.text) == ids(api)[:50]

    @pytest.mark.parametrize("who", ["agr_requester", "agr_approver", "auditor"])
    def test_anyone_else_is_refused_with_a_sentence_and_no_link(
        self, api: Api, outbox: dict[str, list[int]], who: str
    ) -> None:
        api.sign_in(who)
        for path, sentence in (
            ("/console/notifications", "may not list the e-mail outbox"),
            ("/console/notifications?status=failed", "may not list the e-mail outbox"),
            (f"/console/notifications/{outbox['failed'][0]}", "may not read the e-mail outbox"),
        ):
            refused = api.client.get(path)
            assert refused.status_code == 403, path
            assert refused.headers["content-type"].startswith("text/html")
            assert sentence in refused.text and "needs the admin or ced role" in refused.text
            assert listed(refused.text) == [] and "p1@gov.mb.ca" not in refused.text
            assert "Paragraph of note" not in refused.text
        assert "/console/notifications" not in api.client.get("/console").text

    def test_the_outbox_needs_a_sign_in(self, api: Api) -> None:
        for path in ("/console/notifications", "/console/notifications/1"):
            response = api.client.get(path, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")


class TestCounts:
    def test_each_status_is_counted(self, api: Api, outbox: dict[str, list[int]]) -> None:
        api.sign_in("ced1")
        page = api.client.get("/console/notifications", params={"status": "sent"})
        want = {status: len(ids(api, status)) for status in ("queued", "sent", "failed")}
        assert want == {"queued": MANY - 15, "sent": 10, "failed": 5}
        assert counted(page.text) == want  # the counts are the whole outbox's, not the filter's
        assert f"<td>{MANY}</td>" in page.text  # and their total

    def test_an_empty_outbox_says_so(self, api: Api) -> None:
        api.sign_in("ced1")
        page = api.client.get("/console/notifications")
        assert page.status_code == 200
        assert counted(page.text) == {"queued": 0, "sent": 0, "failed": 0}
        assert "The outbox is empty." in page.text

    def test_an_unset_relay_is_pointed_out(self, api: Api) -> None:
        api.sign_in("ced1")
        page = api.client.get("/console/notifications")
        assert "No mail relay is set" in page.text and "REGISTRY_SMTP_HOST" in page.text


class TestFilter:
    @pytest.mark.parametrize("status", ["queued", "sent", "failed", "FAILED"])
    def test_a_status_shows_exactly_its_messages(
        self, api: Api, outbox: dict[str, list[int]], status: str
    ) -> None:
        api.sign_in("fin_admin")
        page = api.client.get("/console/notifications", params={"status": status})
        assert page.status_code == 200
        want = sorted(outbox[status.lower()], reverse=True)[:50]  # the first page of them
        assert listed(page.text) == want
        assert f'<option value="{status.lower()}" selected>' in page.text
        assert "Show every message (clear the filter)" in page.text

    def test_the_columns_show_where_each_message_stands(
        self, api: Api, outbox: dict[str, list[int]]
    ) -> None:
        api.sign_in("fin_admin")
        rows = {
            status: api.client.get("/console/notifications", params={"status": status}).text
            for status in ("queued", "sent", "failed")
        }
        assert "<td>sent 2031-03-02 09:30 UTC</td>" in rows["sent"]
        assert "<td>next " not in rows["sent"]
        assert re.search(r"<td>next \d{4}-\d\d-\d\d \d\d:\d\d UTC</td>", rows["queued"])
        assert "<td>3</td>" in rows["failed"]  # the attempts
        assert str(escape(ERROR)) in rows["failed"]  # whole, as text
        assert f"p{MANY - 1}@gov.mb.ca" in rows["queued"] and f"Note {MANY - 1}" in rows["queued"]

    @pytest.mark.parametrize(
        ("params", "sentence"),
        [
            ({"status": "bounced"}, "Unknown status 'bounced'; choose one of queued, sent, failed"),
            ({"cursor": "not-a-cursor"}, "The cursor is not one this registry gave out"),
        ],
    )
    def test_a_bad_filter_is_a_sentence_not_a_traceback(
        self, api: Api, outbox: dict[str, list[int]], params: dict[str, str], sentence: str
    ) -> None:
        api.sign_in("ced1")
        page = api.client.get("/console/notifications", params=params)
        assert page.status_code == 422
        assert sentence in html.unescape(page.text) and "Traceback" not in page.text
        assert listed(page.text) == []
        assert counted(page.text)["queued"] == MANY - 15  # the counts still show

    def test_a_status_too_long_is_refused(self, api: Api) -> None:
        api.sign_in("ced1")
        page = api.client.get("/console/notifications", params={"status": "x" * 17})
        assert page.status_code == 422 and "Traceback" not in page.text


class TestPaging:
    @pytest.mark.parametrize("params", [{}, {"status": "queued"}])
    def test_every_message_once_newest_first_both_ways_with_the_filter_kept(
        self, api: Api, outbox: dict[str, list[int]], params: dict[str, str]
    ) -> None:
        api.sign_in("ced1")
        want = ids(api, params.get("status"))
        assert len(want) > 50
        first = api.client.get("/console/notifications", params=params).text
        assert link(first, "prev") is None
        assert len(listed(first)) == 50  # a console page
        nxt = link(first, "next")
        assert nxt is not None
        for key, value in params.items():
            assert f"{key}={value}" in nxt
        second = api.client.get(nxt).text
        assert listed(first) + listed(second) == want
        assert link(second, "next") is None
        prev = link(second, "prev")
        assert prev is not None
        assert listed(api.client.get(prev).text) == listed(first)

    def test_a_message_queued_between_two_pages_is_neither_repeated_nor_skipped(
        self, api: Api, outbox: dict[str, list[int]]
    ) -> None:
        api.sign_in("ced1")
        before = ids(api)
        first = api.client.get("/console/notifications").text
        queue(api, 1, subject="Late note")
        nxt = link(first, "next")
        assert nxt is not None
        assert listed(first) + listed(api.client.get(nxt).text) == before


class TestUserText:
    def test_subject_recipient_and_error_are_shown_as_text(self, api: Api) -> None:
        queue(api, 1, subject=NOTE, to='"<i>x</i>"@gov.mb.ca')
        [number] = ids(api)
        mark(api, [number], "failed", error=ERROR)
        api.sign_in("ced1")
        for path in ("/console/notifications", f"/console/notifications/{number}"):
            page = api.client.get(path).text
            assert "<script>" not in page and "<b>" not in page and "<i>x</i>" not in page
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold" in page
            assert "&lt;i&gt;x&lt;/i&gt;" in page
            assert "&lt;b&gt;mailbox&lt;/b&gt; &#34;unavailable&#34; &amp; xxx" in page
            assert 'class="long"' in page  # long values wrap

    def test_a_message_shows_its_text_with_what_was_typed_escaped(self, api: Api) -> None:
        asked = api.client.post(
            "/requests", json={**NEW_REQUEST, "purpose": NOTE}, headers=api.headers("agr_requester")
        )
        assert asked.status_code == 201, asked.text
        [number] = ids(api)
        api.sign_in("fin_admin")
        page = api.client.get(f"/console/notifications/{number}")
        assert page.status_code == 200
        assert f"<h1>Message {number}</h1>" in page.text
        body = re.search(r'<pre class="message">(.*?)</pre>', page.text, re.S)
        assert body is not None
        shown = html.unescape(body.group(1))
        assert f"Request {asked.json()['id']} asks to open a new account for AGR." in shown
        assert f"Purpose: {NOTE}" in shown and "<script>" not in body.group(1)
        assert CAST["agr_approver"][0] in page.text  # to the department's executive
        assert "request.submitted" in page.text

    def test_the_list_shows_no_body(self, api: Api, outbox: dict[str, list[int]]) -> None:
        api.sign_in("ced1")
        assert "Paragraph of note" not in api.client.get("/console/notifications").text

    def test_a_missing_message_is_not_found(self, api: Api) -> None:
        api.sign_in("ced1")
        page = api.client.get("/console/notifications/999999")
        assert page.status_code == 404
        assert "There is no message 999999 in the outbox." in page.text
