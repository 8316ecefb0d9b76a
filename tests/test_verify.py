"""The public answer: only active accounts verify; a freed handle never verifies by itself."""

from __future__ import annotations

from registry.models import utcnow
from registry.services import verify
from tests.factories import World


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
