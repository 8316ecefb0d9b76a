"""The platform's permanent id of an account: validated per platform, unique among live
accounts, carried from request to account and by the import, changed by CED with an account's
language and twin, and counted by the compliance report when missing."""

from __future__ import annotations

import pytest
from sqlmodel import select

from registry.errors import Conflict, Forbidden, InvalidInput
from registry.models import Account, AccountRequest, AuditEvent, utcnow
from registry.platforms import get_platform, normalize_platform_id
from registry.services import account_details, accounts, compliance, requests
from tests.conftest import Api, Cli, csrf_of
from tests.factories import CAST, NEW_REQUEST, World

PAGE_ID = "100064512345678"


@pytest.mark.parametrize(
    ("platform", "given", "stored"),
    [
        ("facebook", f" {PAGE_ID} ", PAGE_ID),
        ("instagram", "17841400000000000", "17841400000000000"),
        ("threads", "17841400000000000", "17841400000000000"),
        ("x", "783214", "783214"),
        ("x", "\u00a0783214\u3000", "783214"),  # spaces pasted around it go
        ("linkedin", "urn:li:organization:2414183", "2414183"),
        ("linkedin", "2414183", "2414183"),
        ("youtube", "UCabcdefghijklmnopqrstuV", "UCabcdefghijklmnopqrstuV"),
        ("tiktok", "6812345678901234567", "6812345678901234567"),
        ("bluesky", "DID:PLC:ABCDEFGHIJKLMNOPQRSTUVWX", "did:plc:abcdefghijklmnopqrstuvwx"),
        ("bluesky", "did:web:news.gov.mb.ca", "did:web:news.gov.mb.ca"),
        ("mastodon", "https://Mastodon.Social/users/MBGov", "https://mastodon.social/users/MBGov"),
        ("flickr", "12345678@N02", "12345678@N02"),
    ],
)
def test_valid_ids_take_their_canonical_form(platform: str, given: str, stored: str) -> None:
    assert normalize_platform_id(get_platform(platform), given) == stored


@pytest.mark.parametrize(
    ("platform", "given"),
    [
        ("facebook", "1234"),  # too short for a page id
        ("facebook", "ManitobaGov"),  # a handle, not an id
        ("x", "0123"),
        ("x", "12 34"),
        ("x", "12\u200b34"),  # an invisible character
        ("x", "12\n34"),
        ("facebook", f"{PAGE_ID}\x1f"),  # a control character is refused, not stripped
        ("x", "\t1234"),
        ("x", "1234\u2028"),
        ("youtube", "\u200eUCabcdefghijklmnopqrstuV"),  # a left-to-right mark
        ("youtube", "UCabc"),
        ("youtube", "ucabcdefghijklmnopqrstuV"),
        ("bluesky", "did:plc:short"),
        ("mastodon", "http://mastodon.social/users/MBGov"),
        ("mastodon", "https://mastodon.social/@MBGov"),
        ("flickr", "12345678"),
        ("linkedin", "9" * 301),
    ],
)
def test_malformed_ids_are_refused_in_one_sentence(platform: str, given: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_platform_id(get_platform(platform), given)
    message = refused.value.message
    assert "one looks like" in message and "\n" not in message and "\u200b" not in message


def _submit(world: World, handle: str, **kw: str) -> int:
    public = requests.submit_new_account(
        world.session,
        settings=world.settings,
        actor=world.actor("agr_requester"),
        platform="facebook",
        handle=handle,
        url=f"https://www.facebook.com/{handle}",
        category="official",
        department="AGR",
        purpose="News",
        login_email="agr.social@gov.mb.ca",
        holders=[world.email("agr_staff")],
        **kw,  # type: ignore[arg-type]
    )
    return public.id


def _approve(world: World, request_id: int) -> int:
    for who, extra in (("agr_approver", {}), ("ced1", {"holders": [world.email("ced1")]})):
        decided = requests.approve(
            world.session,
            settings=world.settings,
            actor=world.actor(who),
            request_id=request_id,
            **extra,  # type: ignore[arg-type]
        )
    assert decided.account_id is not None
    return decided.account_id


class TestRequests:
    def test_the_id_and_language_go_from_request_to_account(self, world: World) -> None:
        rid = _submit(world, "MBAgNews", platform_id=PAGE_ID, language="fr")
        request = world.session.get(AccountRequest, rid)
        assert request is not None and (request.platform_id, request.language) == (PAGE_ID, "fr")
        account = world.session.get(Account, _approve(world, rid))
        assert account is not None and (account.platform_id, account.language) == (PAGE_ID, "fr")
        shown = accounts.show_account(
            world.session, actor=world.actor("auditor"), account_id=account.id or 0
        )
        assert shown.platform_id == PAGE_ID and shown.language == "fr"

    def test_an_id_is_unique_among_live_accounts_and_open_requests(self, world: World) -> None:
        live = world.account("ManitobaAg")
        account_details.update(
            world.session, actor=world.actor("ced1"), account_id=live.id or 0, platform_id=PAGE_ID
        )
        with pytest.raises(Conflict, match=f"Facebook id {PAGE_ID} is already registered"):
            _submit(world, "Other", platform_id=PAGE_ID)
        live.status, live.decommissioned_at = "decommissioned", utcnow()
        world.session.add(live)
        world.session.flush()
        rid = _submit(world, "Other", platform_id=PAGE_ID)
        with pytest.raises(Conflict, match=f"already requested in request {rid}"):
            _submit(world, "Third", platform_id=PAGE_ID)
        assert _approve(world, rid)

    def test_a_bad_language_or_id_is_refused(self, world: World) -> None:
        with pytest.raises(InvalidInput, match="Unknown language"):
            _submit(world, "MBAgNews", language="klingon")
        with pytest.raises(InvalidInput, match="Facebook page id"):
            _submit(world, "MBAgNews", platform_id="not-an-id")


class TestImport:
    HEADER = (
        "platform,handle,url,category,department,purpose,login_email,holders,platform_id,language\n"
    )

    def _row(self, world: World, handle: str, platform_id: str, language: str = "en") -> str:
        holders = f"{world.email('ced1')};{world.email('agr_staff')}"
        return (
            f"facebook,{handle},https://www.facebook.com/{handle},official,AGR,News,"
            f"agr.social@gov.mb.ca,{holders},{platform_id},{language}\n"
        )

    def test_the_columns_are_read_and_bad_rows_named(self, world: World) -> None:
        good = self.HEADER + self._row(world, "One", PAGE_ID, "fr") + self._row(world, "Two", "")
        result = accounts.import_accounts(
            world.session, settings=world.settings, actor=world.actor("ced1"), data=good.encode()
        )
        one = world.session.get(Account, result.account_ids[0])
        two = world.session.get(Account, result.account_ids[1])
        assert one is not None and (one.platform_id, one.language) == (PAGE_ID, "fr")
        assert two is not None and (two.platform_id, two.language) == (None, "en")
        bad = (
            self.HEADER
            + self._row(world, "Three", "100064599999999")
            + self._row(world, "Four", "100064599999999")
            + self._row(world, "Five", "nope")
            + self._row(world, "Six", PAGE_ID)
        )
        with pytest.raises(accounts.ImportRejected) as refused:
            accounts.import_accounts(
                world.session, settings=world.settings, actor=world.actor("ced1"), data=bad.encode()
            )
        problems = refused.value.problems
        assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5"]
        assert "repeated from line 2" in problems[0]
        assert "page id" in problems[1] and "already registered" in problems[2]


class TestDetailsAndTwins:
    def test_twins_are_linked_both_ways_and_relinked(self, world: World) -> None:
        english = world.account("MBGov")
        french = world.account("MBGouv", login_email="gouv@gov.mb.ca")
        third = world.account("MBGouv2", login_email="gouv2@gov.mb.ca")
        ced = world.actor("ced1")
        for account, language in ((french, "fr"), (third, "fr")):
            account_details.update(
                world.session, actor=ced, account_id=account.id or 0, language=language
            )
        account_details.update(
            world.session, actor=ced, account_id=english.id or 0, twin_id=french.id
        )
        assert (english.twin_id, french.twin_id) == (french.id, english.id)
        account_details.update(
            world.session, actor=ced, account_id=english.id or 0, twin_id=third.id
        )
        assert (english.twin_id, third.twin_id, french.twin_id) == (third.id, english.id, None)
        with pytest.raises(Conflict, match="unlink the twin first"):
            account_details.update(
                world.session, actor=ced, account_id=english.id or 0, language="bilingual"
            )
        account_details.update(
            world.session, actor=ced, account_id=english.id or 0, clear_twin=True
        )
        assert (english.twin_id, third.twin_id) == (None, None)
        actions = world.session.exec(
            select(AuditEvent.action).where(AuditEvent.action == "account.updated")
        ).all()
        assert len(actions) == 5

    def test_refusals(self, world: World) -> None:
        account = world.account("MBGov")
        other = world.account("MBGov2", login_email="other@gov.mb.ca")
        ced = world.actor("ced1")
        with pytest.raises(Forbidden):
            account_details.update(
                world.session,
                actor=world.actor("agr_requester"),
                account_id=account.id or 0,
                language="fr",
            )
        with pytest.raises(InvalidInput, match="its own twin"):
            account_details.update(
                world.session, actor=ced, account_id=account.id or 0, twin_id=account.id
            )
        with pytest.raises(Conflict, match="English \\(en\\) and one French"):
            account_details.update(
                world.session, actor=ced, account_id=account.id or 0, twin_id=other.id
            )
        with pytest.raises(InvalidInput, match="not both"):
            account_details.update(
                world.session,
                actor=ced,
                account_id=account.id or 0,
                platform_id=PAGE_ID,
                clear_platform_id=True,
            )

    def test_compliance_counts_active_accounts_without_an_id(self, world: World) -> None:
        world.account("MBGov")
        with_id = world.account("MBGov2", login_email="other@gov.mb.ca")
        account_details.update(
            world.session,
            actor=world.actor("ced1"),
            account_id=with_id.id or 0,
            platform_id=PAGE_ID,
        )
        report = compliance.report(
            world.session, settings=world.settings, actor=world.actor("ced1")
        )
        [agr] = [t for t in report.totals if t.department == "AGR"]
        assert (agr.active_accounts, agr.without_platform_id) == (2, 1)


class TestInterfaces:
    def test_the_api_takes_the_id_on_requests_and_patch(self, api: Api) -> None:
        body = {**NEW_REQUEST, "platform_id": PAGE_ID, "language": "bilingual"}
        made = api.client.post("/requests", json=body, headers=api.headers("agr_requester"))
        assert made.status_code == 201 and made.json()["platform_id"] == PAGE_ID
        with api.db.scope() as session:
            account_id = World.load(session, api.db.settings()).account("ManitobaAg").id
        path = f"/accounts/{account_id}"
        refused = api.client.patch(path, json={"platform_id": PAGE_ID}, headers=api.headers("ced1"))
        assert refused.status_code == 409 and "already requested" in refused.json()["detail"]
        done = api.client.patch(
            path, json={"platform_id": "100064500000001"}, headers=api.headers("ced1")
        )
        assert done.status_code == 200 and done.json()["platform_id"] == "100064500000001"
        cleared = api.client.patch(path, json={"platform_id": None}, headers=api.headers("ced1"))
        assert cleared.json()["platform_id"] is None
        assert (
            api.client.patch(
                path, json={"language": "fr"}, headers=api.headers("fin_admin")
            ).status_code
            == 403
        )

    def test_the_cli_request_and_update(self, cli: Cli, tmp_path: object) -> None:
        cli.ok("init", "--admin", "admin@gov.mb.ca", "--name", "Admin")
        refused = cli.refused(
            "request",
            "new",
            "--platform",
            "x",
            "--handle",
            "MBGov",
            "--url",
            "https://x.com/MBGov",
            "--category",
            "official",
            "--department",
            "CED",
            "--login-email",
            "x@gov.mb.ca",
            "--purpose",
            "News",
            "--platform-id",
            "@nope",
            "--as",
            "admin@gov.mb.ca",
        )
        assert "X (Twitter) user id" in refused
        made = cli.json(
            "request",
            "new",
            "--platform",
            "x",
            "--handle",
            "MBGov",
            "--url",
            "https://x.com/MBGov",
            "--category",
            "official",
            "--department",
            "CED",
            "--login-email",
            "x@gov.mb.ca",
            "--purpose",
            "News",
            "--platform-id",
            "783214",
            "--language",
            "fr",
            "--as",
            "admin@gov.mb.ca",
        )
        assert made["platform_id"] == "783214" and made["language"] == "fr"


class TestConsole:
    def test_ced_records_the_public_details_on_the_account_page(self, api: Api) -> None:
        with api.db.scope() as session:
            world = World.load(session, api.db.settings())
            account_id = world.account("ManitobaAg").id
            french_id = world.account("ManitobaAgFr", login_email="fr@gov.mb.ca").id
        api.client.cookies.clear()
        api.sign_in("ced1")
        page = api.client.get(f"/console/accounts/{account_id}")
        assert 'id="public-details"' in page.text and "not on file" in page.text
        path = f"/console/accounts/{account_id}/details"
        bad = api.client.post(
            path, data={"csrf": csrf_of(page.text), "platform_id": "nope", "language": "en"}
        )
        assert bad.status_code == 422 and "Facebook page id" in bad.text
        twinless = api.client.post(
            path,
            data={
                "csrf": csrf_of(page.text),
                "platform_id": PAGE_ID,
                "language": "en",
                "twin": str(french_id),
            },
        )
        assert twinless.status_code == 409 and "is en while" in twinless.text
        api.client.post(
            f"/console/accounts/{french_id}/details",
            data={"csrf": csrf_of(page.text), "language": "fr"},
        )
        saved = api.client.post(
            path,
            data={
                "csrf": csrf_of(page.text),
                "platform_id": PAGE_ID,
                "language": "en",
                "twin": str(french_id),
            },
        )
        assert saved.status_code == 200 and "public details are saved" in saved.text
        assert PAGE_ID in saved.text and "@ManitobaAgFr" in saved.text
        directory = api.client.get("/directory").text
        assert "ManitobaAgFr" in directory and "Français" in directory

    def test_the_new_request_form_takes_an_id_and_a_language(self, api: Api) -> None:
        api.client.cookies.clear()
        api.sign_in("agr_requester")
        form = api.client.get("/console/requests/new")
        assert 'id="platform_id"' in form.text and 'id="language"' in form.text
        fields = {
            "csrf": csrf_of(form.text),
            "url": "https://www.facebook.com/MBFlood",
            "category": "official",
            "department": "AGR",
            "login_email": "flood@gov.mb.ca",
            "purpose": "Floods",
            "holders": CAST["agr_staff"][0],
            "language": "fr",
        }
        bad = api.client.post("/console/requests/new", data={**fields, "platform_id": "x1"})
        assert bad.status_code == 422 and 'id="platform_id-error"' in bad.text
        done = api.client.post("/console/requests/new", data={**fields, "platform_id": PAGE_ID})
        assert done.status_code == 200 and "submitted" in done.text.lower()
        with api.db.scope() as session:
            request = session.exec(
                select(AccountRequest).where(AccountRequest.handle == "MBFlood")
            ).one()
            assert (request.platform_id, request.language) == (PAGE_ID, "fr")
