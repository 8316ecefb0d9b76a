"""The public answer: only active accounts verify; a freed handle never verifies by itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.util import CommandError
from sqlalchemy import text

from registry import migrate
from registry.errors import InvalidInput
from registry.models import utcnow
from registry.services import accounts, verify
from tests.conftest import Api, Cli, FreshDatabase
from tests.factories import CAST, World


class TestAnswers:
    def test_active_decommissioned_and_unknown(self, world: World) -> None:
        world.account("MBGov")
        gone = world.account("OldPage")
        gone.status, gone.decommissioned_at = "decommissioned", utcnow()
        world.session.add(gone)
        world.session.flush()
        connection = world.session.connection()
        official = verify.verify_handle(connection, platform="fb", handle="@mbgov")
        assert official.official and official.department == "Agriculture"
        assert official.since is not None and official.since.tzinfo is not None
        freed = verify.verify_handle(connection, platform="facebook", handle="oldpage")
        assert not freed.official and freed.status == "decommissioned"
        assert freed.since == gone.decommissioned_at
        assert "no longer an official government account" in freed.message
        unknown = verify.verify_url(connection, url="https://www.facebook.com/Impostor")
        assert not unknown.official and unknown.status is None

    def test_a_handle_registered_again_verifies_as_the_new_account(self, world: World) -> None:
        old = world.account("MBGov")
        old.status, old.decommissioned_at = "decommissioned", utcnow()
        world.session.add(old)
        world.session.flush()
        world.account("MBGov", department="HLT", holders=("ced1", "hlt_requester"))
        answer = verify.verify_handle(
            world.session.connection(), platform="facebook", handle="MBGov"
        )
        assert answer.official and answer.department == "Health"


class TestScope:
    """The answer is about the account, and says so, even when the link is to a post."""

    POST_NOTE = "the post itself is not verified"

    def test_every_answer_says_it_is_about_the_account(self, world: World) -> None:
        world.account("MBGov")
        gone = world.account("OldPage")
        gone.status, gone.decommissioned_at = "decommissioned", utcnow()
        world.session.add(gone)
        world.session.flush()
        connection = world.session.connection()
        answers = [
            verify.verify_handle(connection, platform="facebook", handle="MBGov"),
            verify.verify_handle(connection, platform="facebook", handle="OldPage"),
            verify.verify_url(connection, url="https://www.facebook.com/Nobody"),
            verify.verify_url(connection, url="https://www.facebook.com/MBGov/posts/1"),
        ]
        assert [a.scope for a in answers] == ["account"] * 4
        assert all(a.model_dump(mode="json")["scope"] == "account" for a in answers)

    @pytest.mark.parametrize(
        ("platform", "handle", "url"),
        [
            ("x", "MBGov", "https://x.com/MBGov/status/1234567890"),
            ("x", "MBGov", "https://twitter.com/mbgov/status/1234567890/photo/1"),
            ("facebook", "MBGov", "https://www.facebook.com/MBGov/posts/pfbid0abc"),
            ("tiktok", "mbgov", "https://www.tiktok.com/@mbgov/video/7234567890123456789"),
            ("threads", "mbgov", "https://www.threads.net/@mbgov/post/C1a2b3"),
            ("instagram", "mbgov", "https://www.instagram.com/mbgov/p/Cabc123/"),
            ("youtube", "MBGov", "https://www.youtube.com/@MBGov/live"),
        ],
    )
    def test_a_link_to_a_post_vouches_only_for_the_account(
        self, world: World, platform: str, handle: str, url: str
    ) -> None:
        world.account(handle, platform=platform)
        answer = verify.verify_url(world.session.connection(), url=url)
        assert answer.official and answer.scope == "account"
        assert self.POST_NOTE in answer.message
        assert "is an official account of Agriculture." in answer.message

    def test_a_post_of_an_unknown_account_says_so_too(self, world: World) -> None:
        answer = verify.verify_url(
            world.session.connection(), url="https://x.com/Impostor/status/1234567890"
        )
        assert not answer.official
        assert "not an official government account" in answer.message
        assert self.POST_NOTE in answer.message

    def test_a_profile_link_has_no_post_note(self, world: World) -> None:
        world.account("MBGov", platform="x")
        connection = world.session.connection()
        for url in ("https://x.com/MBGov", "https://x.com/MBGov/with_replies"):
            answer = verify.verify_url(connection, url=url)
            assert answer.official and self.POST_NOTE not in answer.message
            assert answer.message == "X (Twitter) @MBGov is an official account of Agriculture."

    @pytest.mark.parametrize(
        "url",
        [
            "https://x.com/i/web/status/1234567890",
            "https://www.instagram.com/p/Cabc123/",
            "https://www.linkedin.com/posts/mbgov_flood-update-activity-7123-abcd",
            "https://www.youtube.com/watch?v=abc",
        ],
    )
    def test_a_post_link_without_a_trustworthy_account_is_refused(
        self, world: World, url: str
    ) -> None:
        world.account("MBGov", platform="x")
        with pytest.raises(InvalidInput) as caught:
            verify.verify_url(world.session.connection(), url=url)
        message = caught.value.message
        assert message.endswith(".") and ". " not in message and "\n" not in message

    def test_the_api_and_the_directory_show_scope_and_note(self, api: Api) -> None:
        imported = api.client.post(
            "/accounts/import",
            content=(
                "platform,handle,url,category,department,login_email,purpose,holders\n"
                "x,MBGov,https://x.com/MBGov,official,AGR,agr.social@gov.mb.ca,News,"
                f"{CAST['ced1'][0]};{CAST['agr_staff'][0]}\n"
            ),
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        assert imported.status_code == 201, imported.text
        post = "https://x.com/MBGov/status/1234567890"
        answer = api.client.get("/verify", params={"url": post}).json()
        assert answer["official"] is True and answer["scope"] == "account"
        assert self.POST_NOTE in answer["message"]
        profile = api.client.get("/verify", params={"platform": "x", "handle": "mbgov"}).json()
        assert profile["scope"] == "account" and self.POST_NOTE not in profile["message"]
        page = api.client.get("/directory", params={"check": post})
        assert page.status_code == 200
        assert self.POST_NOTE in page.text and "is an official account of Agriculture" in page.text
        schema = api.client.get("/openapi.json").json()["components"]["schemas"]["VerifyAnswer"]
        assert "scope" in schema["properties"]

    def test_the_command_line_shows_the_note(
        self, cli: Cli, fresh_db: FreshDatabase, tmp_path: Path
    ) -> None:
        with fresh_db.scope() as session:
            World.build(session, fresh_db.settings())
        path = tmp_path / "accounts.csv"
        path.write_text(
            "platform,handle,url,category,department,login_email,purpose,holders\n"
            "x,MBGov,https://x.com/MBGov,official,AGR,agr.social@gov.mb.ca,News,"
            f"{CAST['ced1'][0]};{CAST['agr_staff'][0]}\n"
        )
        cli.ok("accounts", "import", str(path), "--as", CAST["ced1"][0])
        shown = cli.ok("verify", "--url", "https://x.com/MBGov/status/1234567890").stdout
        assert self.POST_NOTE in shown and "is an official account of Agriculture" in shown
        as_json = json.loads(
            cli.ok("verify", "--url", "https://x.com/MBGov/status/1", "--json").stdout
        )
        assert as_json["scope"] == "account"


def official(world: World, url: str) -> bool:
    return verify.verify_url(world.session.connection(), url=url).official


class TestHandleForms:
    """The same account verifies by every common link to it, and only by links to it."""

    def test_youtube_namespaces_match_only_themselves(self, world: World) -> None:
        world.account("ManitobaGov", platform="youtube")  # the handle @ManitobaGov
        world.account("c/Legacy", platform="youtube")  # the custom URL /c/Legacy
        assert official(world, "https://www.youtube.com/@manitobagov")
        assert official(world, "https://m.youtube.com/@MANITOBAGOV/videos")
        for other in ("c/ManitobaGov", "user/ManitobaGov", "ManitobaGov"):
            assert not official(world, f"https://www.youtube.com/{other}"), other
        assert official(world, "https://www.youtube.com/c/legacy")
        assert official(world, "https://www.youtube.com/Legacy")
        assert not official(world, "https://www.youtube.com/@Legacy")
        assert not official(world, "https://www.youtube.com/user/Legacy")
        connection = world.session.connection()
        by_handle = verify.verify_handle(connection, platform="youtube", handle="C/legacy")
        assert by_handle.official and by_handle.handle == "c/Legacy"
        assert not verify.verify_handle(connection, platform="youtube", handle="Legacy").official

    def test_a_channel_id_shaped_handle_is_not_the_channel(self, world: World) -> None:
        channel = "UCaBcDeFgHiJkLmNoPqRsT_-"
        world.account(channel, platform="youtube")
        assert official(world, f"https://www.youtube.com/channel/{channel}")
        with pytest.raises(InvalidInput, match="channel id"):
            verify.verify_url(world.session.connection(), url=f"https://youtube.com/@{channel}")

    def test_facebook_ignores_dots_and_case_both_ways(self, world: World) -> None:
        world.account("manitobagov")
        world.account("Health.Links", department="HLT", holders=("ced1", "hlt_requester"))
        assert official(world, "https://www.facebook.com/Manitoba.Gov")
        assert official(world, "https://www.facebook.com/healthlinks")
        assert official(world, "https://www.facebook.com/HEALTH.LINKS/")
        connection = world.session.connection()
        assert verify.verify_handle(connection, platform="fb", handle="health.links").official

    @pytest.mark.parametrize(
        "url",
        [
            "https://web.facebook.com/MBGov",
            "https://business.facebook.com/MBGov",
            "https://m.facebook.com/MBGov",
            "https://fb.me/MBGov",
            "https://fb.com/MBGov",
            "https://www.facebook.com/pg/MBGov/posts/",
            "https://www.facebook.com/M.B.Gov",
        ],
    )
    def test_common_facebook_links_verify(self, world: World, url: str) -> None:
        world.account("MBGov")
        assert official(world, url)

    def test_a_facebook_page_known_by_its_number(self, world: World) -> None:
        world.account("100064123456789")
        assert official(world, "https://www.facebook.com/profile.php?id=100064123456789")
        assert official(world, "https://www.facebook.com/p/Manitoba-Gov-100064123456789/")
        assert not official(world, "https://www.facebook.com/p/Manitoba-Gov-100064123456780/")
        # The name in /p/Name-N is decoration: it never names the page by itself.
        world.account("ManitobaGov")
        assert not official(world, "https://www.facebook.com/p/ManitobaGov-1/")

    def test_linkedin_country_and_mastodon_forms_verify(self, world: World) -> None:
        world.account("government-of-manitoba", platform="linkedin")
        world.account("MBGov@mastodon.social", platform="mastodon")
        assert official(world, "https://ca.linkedin.com/company/government-of-manitoba")
        assert official(world, "https://fr.linkedin.com/company/Government-Of-Manitoba/about")
        assert official(world, "https://mastodon.social/users/MBGov")
        assert official(world, "https://mastodon.social/@mbgov@mastodon.social")
        assert not official(world, "https://other.social/users/MBGov")

    def test_the_directory_shows_a_namespaced_youtube_name_as_it_is(self, api: Api) -> None:
        imported = api.client.post(
            "/accounts/import",
            content=(
                "platform,handle,url,category,department,login_email,purpose,holders\n"
                "youtube,c/ManitobaAg,https://www.youtube.com/c/ManitobaAg,official,AGR,"
                f"agr.social@gov.mb.ca,News,{CAST['ced1'][0]};{CAST['agr_staff'][0]}\n"
            ),
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        assert imported.status_code == 201, imported.text
        page = api.client.get("/directory", params={"platform": "youtube"}).text
        assert ">c/ManitobaAg</a>" in page and "@c/ManitobaAg" not in page
        checked = api.client.get(
            "/directory", params={"check": "https://www.youtube.com/ManitobaAg"}
        ).text
        assert "YouTube c/ManitobaAg is an official account of Agriculture." in checked


class TestRegistrationAgrees:
    """Registration reads handles and profile URLs exactly as verification does."""

    def draft(self, world: World, platform: str, handle: str, url: str) -> accounts.AccountDraft:
        return accounts.validate_draft(
            settings=world.settings,
            departments_by_code=accounts.all_departments(world.session),
            platform=platform,
            handle=handle,
            url=url,
            category="official",
            department="AGR",
            program_area="",
            purpose="News",
            login_email="agr.social@gov.mb.ca",
        )

    def test_a_profile_url_of_another_youtube_namespace_is_refused(self, world: World) -> None:
        with pytest.raises(InvalidInput, match="not to the handle given"):
            self.draft(world, "youtube", "ManitobaGov", "https://www.youtube.com/c/ManitobaGov")
        draft = self.draft(world, "youtube", "c/ManitobaGov", "https://youtube.com/ManitobaGov")
        assert (draft.handle, draft.handle_normalized) == ("c/ManitobaGov", "c/manitobagov")

    def test_a_facebook_handle_with_dots_is_the_same_account(self, world: World) -> None:
        draft = self.draft(world, "facebook", "Manitoba.Gov", "https://fb.me/manitobagov")
        assert (draft.handle, draft.handle_normalized) == ("Manitoba.Gov", "manitobagov")
        world.account("manitobagov")
        assert accounts.find_live_handle(world.session, "facebook", draft.handle_normalized)

    @pytest.mark.parametrize(
        ("platform", "url"),
        [
            ("x", "https://x.com/MBGov/status/1234567890"),
            ("facebook", "https://www.facebook.com/MBGov/posts/1"),
            ("tiktok", "https://www.tiktok.com/@MBGov/video/1"),
        ],
    )
    def test_a_post_link_is_not_a_profile_url(self, world: World, platform: str, url: str) -> None:
        with pytest.raises(InvalidInput, match="post") as caught:
            self.draft(world, platform, "MBGov", url)
        message = caught.value.message
        assert message.endswith(".") and ". " not in message


class TestStoredHandles:
    """Accounts registered before handles were compared as the platforms compare them."""

    def old_rows(self, fresh_db: FreshDatabase) -> dict[str, int]:
        """Accounts as revision 0008 stored them: Facebook dots kept in the compared handle,
        a YouTube custom URL (/c/) stored as a bare name."""
        with fresh_db.scope() as session:
            world = World.build(session, fresh_db.settings())
            ids = {
                "dots": world.account("Manitoba.Gov").id,
                "custom": world.account("ManitobaAg", platform="youtube").id,
                "handle": world.account("MBHealth", platform="youtube").id,
            }
        migrate.downgrade(fresh_db.engine, "0008")
        with fresh_db.engine.begin() as connection:
            connection.execute(
                text("UPDATE account SET url = :url WHERE id = :id"),
                {"url": "https://www.youtube.com/c/ManitobaAg", "id": ids["custom"]},
            )
            rows = connection.execute(
                text("SELECT id, handle, handle_normalized FROM account ORDER BY id")
            ).all()
        assert [tuple(r) for r in rows] == [
            (ids["dots"], "Manitoba.Gov", "manitoba.gov"),
            (ids["custom"], "ManitobaAg", "manitobaag"),
            (ids["handle"], "MBHealth", "mbhealth"),
        ]
        return {k: v for k, v in ids.items() if v is not None}

    def test_old_rows_verify_after_the_upgrade(self, fresh_db: FreshDatabase) -> None:
        self.old_rows(fresh_db)
        migrate.upgrade(fresh_db.engine)
        with fresh_db.engine.connect() as connection:

            def answer(url: str) -> bool:
                return verify.verify_url(connection, url=url).official

            assert answer("https://www.facebook.com/Manitoba.Gov")
            assert answer("https://www.facebook.com/manitobagov")
            assert answer("https://www.youtube.com/c/ManitobaAg")
            assert not answer("https://www.youtube.com/@ManitobaAg")
            assert answer("https://www.youtube.com/@mbhealth")
            assert not answer("https://www.youtube.com/c/MBHealth")

    def test_an_upgrade_that_would_merge_two_live_accounts_is_refused(
        self, fresh_db: FreshDatabase
    ) -> None:
        ids = self.old_rows(fresh_db)
        with fresh_db.engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE account SET handle = 'manitobagov', handle_normalized = "
                    "'manitobagov', platform = 'facebook' WHERE id = :id"
                ),
                {"id": ids["handle"]},
            )
        with pytest.raises(CommandError) as caught:
            migrate.upgrade(fresh_db.engine)
        message = str(caught.value)
        assert message.endswith(".") and ". " not in message
        assert f"{ids['dots']}" in message and f"{ids['handle']}" in message
        assert migrate.current(fresh_db.engine) == "0008"
        with fresh_db.engine.connect() as connection:
            kept = connection.execute(
                text("SELECT handle_normalized FROM account WHERE id = :id"), {"id": ids["dots"]}
            ).scalar_one()
        assert kept == "manitoba.gov"
