"""Rules 1-3 as plain functions."""

from __future__ import annotations

import re

import pytest

from registry.errors import InvalidInput
from registry.platforms import get_platform, normalize_handle
from registry.rules import Holder, check_category, check_government_email, holder_shortfalls

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
