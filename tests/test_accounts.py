"""Accounts: the import of CED's list (all rows or none), visibility and filters."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import func, select

from registry.errors import Forbidden, InvalidInput, NotFound, RuleViolation
from registry.models import AccessGrant, Account, AuditEvent, PersonStatus
from registry.platforms import canonical_profile_url, get_platform
from registry.services import accounts
from registry.services.accounts import ImportRejected
from tests.factories import World

HEADER = "platform,handle,url,category,department,login_email,purpose,holders\n"


def row(
    handle: str = "ManitobaAg",
    *,
    platform: str = "facebook",
    category: str = "official",
    department: str = "AGR",
    login: str = "agr.social@gov.mb.ca",
    purpose: str = "Farm news",
    holders: str = "ced.one@gov.mb.ca;sam.staff@agr.gov.mb.ca",
    url: str | None = None,
) -> str:
    link = url or canonical_profile_url(get_platform(platform), handle)
    return f"{platform},{handle},{link},{category},{department},{login},{purpose},{holders}\n"


def import_csv(world: World, text: str | bytes, actor: str = "ced1") -> list[int]:
    data = text.encode() if isinstance(text, str) else text
    result = accounts.import_accounts(
        world.session, settings=world.settings, actor=world.actor(actor), data=data
    )
    return result.account_ids


def count(world: World, model: type) -> int:
    return world.session.exec(select(func.count()).select_from(model)).one()


class TestImport:
    def test_imports_active_accounts_with_holders(self, world: World) -> None:
        ids = import_csv(world, HEADER + row("ManitobaAg") + row("mbag", platform="x"))
        assert len(ids) == 2
        shown = accounts.show_account(world.session, actor=world.actor("ced1"), account_id=ids[0])
        assert shown.status == "active"
        assert shown.handle == "ManitobaAg"
        assert shown.holders == ["ced.one@gov.mb.ca", "sam.staff@agr.gov.mb.ca"]
        assert shown.next_review_on is not None and shown.activated_at is not None
        actions = world.session.exec(
            select(AuditEvent.action).where(AuditEvent.entity_type.in_(["account", "import"]))  # type: ignore[attr-defined]
        ).all()
        assert actions.count("account.imported") == 2 and "accounts.import" in actions

    def test_one_bad_row_imports_nothing_and_every_bad_row_is_named(self, world: World) -> None:
        before = (count(world, Account), count(world, AccessGrant), count(world, AuditEvent))
        text = (
            HEADER
            + row("good1")
            + row("personal1", category="personal")
            + row("good2")
            + row("badmail", login="social@gov.mb.ca.evil.com")
            + row("lonely", holders="ced.one@gov.mb.ca")
            + row("noced", holders="sam.staff@agr.gov.mb.ca;rita.requester@gov.mb.ca")
            + row("stranger", holders="ced.one@gov.mb.ca;ghost@gov.mb.ca")
            + row("nodept", department="XYZ")
        )
        with pytest.raises(ImportRejected) as caught:
            import_csv(world, text)
        problems = caught.value.problems
        assert caught.value.message == "Nothing was imported: 6 rows of 8 are invalid."
        assert [p.split(":")[0] for p in problems] == [
            "line 3",
            "line 5",
            "line 6",
            "line 7",
            "line 8",
            "line 9",
        ]
        assert "personal account" in problems[0]
        assert "approved government domain" in problems[1]
        assert "at least 2 active holders and would have 1" in problems[2]
        assert "from CED" in problems[3]
        assert "ghost@gov.mb.ca is not a registered person" in problems[4]
        assert "No department with code 'XYZ'" in problems[5]
        after = (count(world, Account), count(world, AccessGrant), count(world, AuditEvent))
        assert after == before

    def test_profile_urls_must_name_the_rows_account(self, world: World) -> None:
        before = count(world, Account)
        text = (
            HEADER
            + row("MBFinance", platform="x", url="https://evil.example/login")
            + row("MBFinance", platform="x", url="https://x.com/SomeoneElse")
            + row("MBFinance", platform="x", url="https://www.facebook.com/MBFinance")
            + row("MBFinance", platform="x", url="https://x.com/mbfinance/")
        )
        with pytest.raises(ImportRejected) as caught:
            import_csv(world, text)
        assert caught.value.problems == [
            "line 2: 'https://evil.example/login' is not a profile on a platform the registry "
            "knows",
            "line 3: The profile URL 'https://x.com/SomeoneElse' points to X (Twitter) "
            "@SomeoneElse, not to the handle given, X (Twitter) @MBFinance",
            "line 4: The profile URL 'https://www.facebook.com/MBFinance' points to Facebook "
            "@MBFinance, not to the handle given, X (Twitter) @MBFinance",
        ]  # line 5 is fine: the same handle in another case, a trailing slash
        assert count(world, Account) == before

    def test_duplicates_in_the_file_and_in_the_registry(self, world: World) -> None:
        existing = world.account("ManitobaAg")
        with pytest.raises(ImportRejected) as caught:
            import_csv(world, HEADER + row("@manitobaag") + row("Other") + row("other"))
        assert caught.value.problems == [
            f"line 2: facebook @manitobaag is already registered as account {existing.id}",
            "line 4: facebook @other is repeated from line 3",
        ]

    def test_decommissioned_handle_can_be_registered_again(self, world: World) -> None:
        old = world.account("ManitobaAg")
        old.status = "decommissioned"
        world.session.add(old)
        world.session.flush()
        [new_id] = import_csv(world, HEADER + row("ManitobaAg"))
        assert new_id != old.id

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "empty"),
            (HEADER.encode(), "no accounts"),
            (b"platform,handle\nfacebook,x\n", "missing: url"),
            (HEADER.replace("holders", "holders,extra").encode() + b"x", "unknown: extra"),
            (HEADER.encode() + b"facebook,only,three\n", "malformed row"),
            (HEADER.encode() + b'facebook,"unterminated\n', "not well-formed CSV"),
            (
                HEADER.encode() + b"facebook,caf\xe9,x,official,AGR,a@gov.mb.ca,p,h\n",
                "not valid UTF-8 (line 2)",
            ),
            (HEADER.encode() + b"facebook,a\x00b\n", "NUL"),
        ],
    )
    def test_malformed_files_are_refused(self, world: World, data: bytes, message: str) -> None:
        with pytest.raises(InvalidInput, match=re.escape(message)):
            import_csv(world, data)
        assert count(world, Account) == 0

    def test_malformed_row_is_named_by_line(self, world: World) -> None:
        with pytest.raises(ImportRejected) as caught:
            import_csv(world, HEADER + row("fine") + "facebook,short\n")
        assert caught.value.problems == ["line 3: has 2 fields where the header has 8"]

    def test_quoted_fields_with_commas_and_a_bom(self, world: World) -> None:
        text = "\ufeff" + HEADER + row("Quoted", purpose='"News, events and alerts"')
        [account_id] = import_csv(world, text)
        shown = accounts.show_account(
            world.session, actor=world.actor("ced1"), account_id=account_id
        )
        assert shown.purpose == "News, events and alerts"

    def test_oversize_purpose_and_control_characters(self, world: World) -> None:
        with pytest.raises(ImportRejected) as caught:
            import_csv(
                world,
                HEADER + row("big", purpose="x" * 2001) + row("ctl", purpose="bell\x07"),
            )
        assert "longer than 2000" in caught.value.problems[0]
        assert "control character" in caught.value.problems[1]

    def test_only_ced_and_admins_import(self, world: World) -> None:
        with pytest.raises(Forbidden, match="may not import accounts"):
            import_csv(world, HEADER + row(), actor="agr_approver")
        assert import_csv(world, HEADER + row(), actor="admin")

    def test_progress_is_reported(self, world: World) -> None:
        seen: list[tuple[int, int]] = []
        accounts.import_accounts(
            world.session,
            settings=world.settings,
            actor=world.actor("ced1"),
            data=(HEADER + row("a1") + row("a2")).encode(),
            progress=lambda done, total: seen.append((done, total)),
        )
        assert seen[-1] == (2, 2)


class TestResolveHolders:
    def resolve(self, world: World, *emails: str) -> list[str]:
        people = accounts.resolve_holders(world.session, settings=world.settings, emails=emails)
        return [p.email for p in people]

    def test_in_order_without_repeats_in_one_query(self, world: World) -> None:
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(args[2])

        connection = world.session.connection()
        event.listen(connection, "before_cursor_execute", seen)
        try:
            found = self.resolve(
                world, "Sam.Staff@agr.gov.mb.ca", "ced.one@gov.mb.ca", "sam.staff@agr.gov.mb.ca"
            )
        finally:
            event.remove(connection, "before_cursor_execute", seen)
        assert found == ["sam.staff@agr.gov.mb.ca", "ced.one@gov.mb.ca"]
        assert len(statements) == 1

    def test_every_unknown_address_in_one_sentence(self, world: World) -> None:
        with pytest.raises(NotFound) as caught:
            self.resolve(world, "ghost@gov.mb.ca", "ced.one@gov.mb.ca", "spook@gov.mb.ca")
        assert caught.value.message == (
            "Holders ghost@gov.mb.ca, spook@gov.mb.ca are not registered people."
        )

    def test_leavers_and_other_domains_are_refused(self, world: World) -> None:
        with pytest.raises(InvalidInput, match="approved government domain"):
            self.resolve(world, "ced.one@gov.mb.ca.evil.com")
        leaver = world.people["agr_staff"]
        leaver.status = PersonStatus.left.value
        world.session.add(leaver)
        world.session.flush()
        with pytest.raises(RuleViolation, match=f"Holder {leaver.email} has left government"):
            self.resolve(world, "ced.one@gov.mb.ca", leaver.email)


class TestSeeingAccounts:
    def test_requester_sees_their_department_only(self, world: World) -> None:
        agr = world.account("AgrNews")
        hlt = world.account("HealthNews", department="HLT", holders=("ced1", "hlt_requester"))
        seen = accounts.list_accounts(world.session, actor=world.actor("agr_requester"))
        assert [a.id for a in seen] == [agr.id]
        with pytest.raises(NotFound, match=f"No account with id {hlt.id}"):
            accounts.show_account(
                world.session, actor=world.actor("agr_requester"), account_id=hlt.id or 0
            )

    def test_holder_sees_an_account_of_another_department(self, world: World) -> None:
        hlt = world.account("HealthNews", department="HLT", holders=("ced1", "agr_staff"))
        seen = accounts.list_accounts(world.session, actor=world.actor("agr_staff"))
        assert hlt.id in [a.id for a in seen]

    def test_ced_admin_and_auditor_see_everything(self, world: World) -> None:
        world.account("AgrNews")
        world.account("HealthNews", department="HLT", holders=("ced1", "hlt_requester"))
        for who in ("ced2", "admin", "auditor"):
            assert len(accounts.list_accounts(world.session, actor=world.actor(who))) == 2

    def test_filters(self, world: World) -> None:
        world.account("AgrNews")
        world.account("agrx", platform="x")
        world.account("HealthNews", department="HLT", holders=("ced1", "hlt_requester"))
        ced = world.actor("ced1")

        def handles(**kw: str) -> list[str]:
            return [a.handle for a in accounts.list_accounts(world.session, actor=ced, **kw)]

        assert handles(department="hlt") == ["HealthNews"]
        assert handles(platform="twitter") == ["agrx"]
        assert handles(status="active", department="AGR") == ["AgrNews", "agrx"]
        assert handles(status="decommissioned") == []
        with pytest.raises(InvalidInput, match="Unknown status"):
            handles(status="gone")

    def test_unknown_account(self, world: World) -> None:
        with pytest.raises(NotFound, match="No account with id 999999"):
            accounts.show_account(world.session, actor=world.actor("admin"), account_id=999999)


class TestReview:
    def test_recording_a_review_answers_with_the_account_as_shown(self, world: World) -> None:
        account = world.account("AgrNews")
        reviewed = accounts.review(
            world.session,
            settings=world.settings,
            actor=world.actor("ced1"),
            account_id=account.id or 0,
            note="Checked",
        )
        assert reviewed.id == account.id and reviewed.last_reviewed_at is not None
        assert reviewed == accounts.show_account(
            world.session, actor=world.actor("ced1"), account_id=account.id or 0
        )
        assert world.session.exec(
            select(AuditEvent).where(AuditEvent.action == "account.reviewed")
        ).one().details == {"note": "Checked", "next_review_on": str(reviewed.next_review_on)}
