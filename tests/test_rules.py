"""The seven rules as plain functions."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest

from registry import rules
from registry.config import Settings
from registry.errors import InvalidInput
from registry.platforms import get_platform, normalize_handle
from registry.rules import (
    Holder,
    Stage,
    check_category,
    check_government_email,
    holder_shortfalls,
)

DOMAINS = ("gov.mb.ca",)


class TestGovernmentEmail:
    @pytest.mark.parametrize(
        "address",
        [
            "comms@gov.mb.ca",
            "Comms@GOV.MB.CA",
            "first.last@agr.gov.mb.ca",
            "a+tag@deep.sub.gov.mb.ca",
            "  padded@gov.mb.ca  ",
        ],
    )
    def test_accepts_approved_domain_and_subdomains(self, address: str) -> None:
        assert check_government_email(address, DOMAINS) == address.strip().lower()

    @pytest.mark.parametrize(
        ("address", "why"),
        [
            ("x@gov.mb.ca.evil.com", "approved government domain"),
            ("x@govmb.ca", "approved government domain"),
            ("x@evilgov.mb.ca", "approved government domain"),
            ("x@mb.ca", "approved government domain"),
            ("x@gmail.com", "approved government domain"),
            ("x@gov.mb.ca.", "trailing dot"),
            ("x@g\u043ev.mb.ca", "non-ASCII"),  # Cyrillic o
            ("x@gov.mb.ca\u200b", "non-ASCII"),  # zero-width space
            ("x@xn--gv-jub.mb.ca", "punycode"),
            ("x@xn--80ak6aa92e.gov.mb.ca", "punycode"),
            ('"x@y"@gov.mb.ca', "exactly one '@'"),
            ('"quoted"@gov.mb.ca', "invalid part before"),
            ("x@@gov.mb.ca", "exactly one '@'"),
            ("a@b@gov.mb.ca", "exactly one '@'"),
            ("no-at-sign.gov.mb.ca", "exactly one '@'"),
            (".x@gov.mb.ca", "invalid part before"),
            ("x..y@gov.mb.ca", "invalid part before"),
            ("x y@gov.mb.ca", "invalid part before"),
            ("x@gov..mb.ca", "invalid domain"),
            ("x@-gov.mb.ca", "invalid domain"),
            ("x@gov.mb.ca>", "invalid domain"),
            ("", "required"),
            ("x@" + "a" * 250 + ".gov.mb.ca", "longer than 254"),
        ],
    )
    def test_refuses_lookalikes_and_malformed(self, address: str, why: str) -> None:
        with pytest.raises(InvalidInput, match=why):
            check_government_email(address, DOMAINS)

    def test_subdomain_match_is_by_label_not_suffix(self) -> None:
        with pytest.raises(InvalidInput):
            check_government_email("x@notgov.mb.ca", DOMAINS)

    def test_several_configured_domains(self) -> None:
        domains = ("gov.mb.ca", "manitoba.ca")
        assert check_government_email("x@manitoba.ca", domains) == "x@manitoba.ca"
        with pytest.raises(InvalidInput, match=re.escape("gov.mb.ca, manitoba.ca")):
            check_government_email("x@manitoba.ca.co", domains)


class TestApprovedEndings:
    """The compliance report's SQL matches addresses by these endings: for every well-formed
    address they say what ``domain_is_approved`` says."""

    @pytest.mark.parametrize(
        "address",
        [
            "x@gov.mb.ca",
            "x@agr.gov.mb.ca",
            "x@deep.sub.manitoba.ca",
            "x@gov.mb.ca.evil.com",
            "x@govmb.ca",
            "x@notgov.mb.ca",
            "gov.mb.ca@evil.com",
            "x.gov.mb.ca@evil.com",
            "x@manitoba.ca",
            "x@mb.ca",
        ],
    )
    def test_agree_with_the_domain_rule(self, address: str) -> None:
        domains = ("gov.mb.ca", "manitoba.ca")
        _, domain = rules.parse_email(address)
        ends = any(address.endswith(e) for e in rules.approved_endings(domains))
        assert ends is rules.domain_is_approved(domain, domains)

    def test_default_domains_are_the_settings_default(self) -> None:
        assert Settings.model_fields["gov_domains"].default == ",".join(rules.DEFAULT_DOMAINS)


class TestCategory:
    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            ("official", "official"),
            ("Official", "official"),
            ("employment_related", "employment_related"),
            ("employment-related", "employment_related"),
        ],
    )
    def test_accepts_official_and_employment_related(self, given: str, stored: str) -> None:
        assert check_category(given).value == stored

    def test_personal_is_refused_with_the_policy_reason(self) -> None:
        with pytest.raises(InvalidInput, match="personal LinkedIn is not an employment-related"):
            check_category("personal")

    def test_unknown_category(self) -> None:
        with pytest.raises(InvalidInput, match="Unknown category"):
            check_category("corporate")


class TestHolderShortfalls:
    def holder(self, email: str, *, ced: bool = False, active: bool = True) -> Holder:
        return Holder(email=email, active=active, is_ced=ced)

    def test_two_people_one_from_ced_is_enough(self) -> None:
        assert holder_shortfalls([self.holder("a", ced=True), self.holder("b")]) == []

    def test_one_holder_is_not_enough(self) -> None:
        [problem] = holder_shortfalls([self.holder("a", ced=True)])
        assert "at least 2 active holders and would have 1" in problem

    def test_no_ced_holder(self) -> None:
        [problem] = holder_shortfalls([self.holder("a"), self.holder("b")])
        assert "from CED" in problem

    def test_nobody_lists_both_problems(self) -> None:
        assert len(holder_shortfalls([])) == 2

    def test_a_leaver_does_not_count(self) -> None:
        problems = holder_shortfalls(
            [self.holder("a", ced=True, active=False), self.holder("b"), self.holder("c")]
        )
        assert any("CED" in p for p in problems)

    def test_the_same_person_twice_counts_once(self) -> None:
        problems = holder_shortfalls([self.holder("a", ced=True), self.holder("a", ced=True)])
        assert any("would have 1" in p for p in problems)


class TestHandles:
    @pytest.mark.parametrize(
        ("platform", "handle", "shown", "compared"),
        [
            ("facebook", "@ManitobaGov", "ManitobaGov", "manitobagov"),
            ("twitter", "MBGov", "MBGov", "mbgov"),
            ("X", " @mbgov ", "mbgov", "mbgov"),
            (
                "youtube",
                "UCabcdefghijklmnopqrstuv",
                "UCabcdefghijklmnopqrstuv",
                "UCabcdefghijklmnopqrstuv",
            ),
            ("youtube", "@ManitobaGov", "ManitobaGov", "manitobagov"),
            ("mastodon", "MBGov@Mastodon.Social", "MBGov@Mastodon.Social", "mbgov@mastodon.social"),
            ("bluesky", "gov.mb.ca", "gov.mb.ca", "gov.mb.ca"),
        ],
    )
    def test_normalised_form(self, platform: str, handle: str, shown: str, compared: str) -> None:
        assert normalize_handle(get_platform(platform), handle) == (shown, compared)

    @pytest.mark.parametrize(
        ("platform", "handle"),
        [
            ("x", "much_too_long_for_x_handles"),
            ("facebook", "has space"),
            ("instagram", "rtl\u202eevil"),
            ("facebook", "semi;colon"),
            ("facebook", "'; DROP TABLE account; --"),
            ("mastodon", "no-server"),
        ],
    )
    def test_malformed_handles_are_refused(self, platform: str, handle: str) -> None:
        with pytest.raises(InvalidInput, match="not a valid"):
            normalize_handle(get_platform(platform), handle)

    def test_unknown_platform(self) -> None:
        with pytest.raises(InvalidInput, match="Unknown platform 'myspace'"):
            get_platform("myspace")


class TestTwoApprovals:
    def test_the_department_decides_first_then_ced_then_nobody(self) -> None:
        assert rules.stage_to_decide("submitted") is Stage.department
        assert rules.stage_to_decide("department_approved") is Stage.ced
        for decided in ("approved", "rejected", "withdrawn"):
            assert rules.stage_to_decide(decided) is None

    def test_nobody_decides_their_own_request(self) -> None:
        assert rules.decides_own_request(decider_id=3, requester_id=3)
        assert not rules.decides_own_request(decider_id=3, requester_id=4)

    def test_the_two_approvers_are_different_people(self) -> None:
        assert rules.approves_twice(Stage.ced, decider_id=5, department_decider_id=5)
        assert not rules.approves_twice(Stage.ced, decider_id=5, department_decider_id=6)
        assert not rules.approves_twice(Stage.department, decider_id=5, department_decider_id=5)


class TestCredentialsOnFile:
    def test_an_active_account_needs_a_current_password(self) -> None:
        assert rules.lacks_credentials("active", set())
        assert rules.lacks_credentials("active", {"totp_seed", "recovery_codes"})
        assert not rules.lacks_credentials("active", {"password"})
        assert not rules.lacks_credentials("decommissioned", set())

    def test_a_credential_older_than_the_age_is_due(self) -> None:
        now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
        assert rules.credential_is_old(now - dt.timedelta(days=366), now=now, max_age_days=365)
        assert not rules.credential_is_old(now - dt.timedelta(days=364), now=now, max_age_days=365)


@dataclass
class Someone:
    id: int | None


class TestGovernmentProperty:
    def test_a_leaver_holds_nothing(self) -> None:
        assert rules.may_hold("active")
        assert not rules.may_hold("left")

    def test_access_moves_to_the_successor(self) -> None:
        ced, leaver, successor = Someone(1), Someone(2), Someone(3)
        after = rules.holders_after_handover([ced, leaver], leaver=leaver, successor=successor)
        assert after == [ced, successor]

    def test_a_successor_who_holds_it_already_is_not_added_twice(self) -> None:
        ced, leaver, successor = Someone(1), Someone(2), Someone(3)
        after = rules.holders_after_handover(
            [ced, leaver, successor], leaver=leaver, successor=successor
        )
        assert after == [ced, successor]


class TestReview:
    def test_due_a_year_after_the_review_by_default(self) -> None:
        reviewed = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
        due = rules.next_review_on(reviewed, interval_days=rules.REVIEW_INTERVAL_DAYS)
        assert due == dt.date(2027, 3, 1)
        assert Settings.model_fields["review_interval_days"].default == rules.REVIEW_INTERVAL_DAYS

    def test_overdue_once_the_date_has_passed_or_when_there_is_none(self) -> None:
        today = dt.date(2026, 6, 1)
        assert rules.review_overdue(None, today=today)
        assert rules.review_overdue(dt.date(2026, 5, 31), today=today)
        assert not rules.review_overdue(today, today=today)
