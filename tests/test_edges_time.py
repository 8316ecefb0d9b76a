"""Times typed by people (``audit log --since``, ``GET /audit/events?since=``): one parser,
every value either a UTC time or a one-sentence refusal."""

from __future__ import annotations

import datetime as dt

import pytest

from registry.errors import InvalidInput
from registry.validation import parse_time
from tests.conftest import Api, Cli, FreshDatabase, assert_refused
from tests.factories import CAST, World

AUDITOR = CAST["auditor"][0]
# Valid ISO 8601, but outside the years 1 to 9999 once converted to UTC: they overflowed in
# the database driver (a traceback on the command line, a 500 over HTTP).
OUT_OF_RANGE = ["9999-12-31T23:59:59-23:00", "0001-01-01T00:00+23:00"]
GARBAGE = ["yesterday", "2026-13-01", "0.5"]


class TestParseTime:
    def test_a_time_without_an_offset_is_utc_and_one_with_an_offset_is_converted(self) -> None:
        assert parse_time("2026-11-01", what="--since") == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        converted = parse_time("2026-11-01T09:30-05:00", what="--since")
        assert converted.tzinfo is dt.UTC
        assert converted == dt.datetime(2026, 11, 1, 14, 30, tzinfo=dt.UTC)
        latest = parse_time("9999-12-31T23:59:59Z", what="--since")
        assert latest == dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)

    @pytest.mark.parametrize("value", OUT_OF_RANGE)
    def test_a_time_beyond_the_calendar_in_utc_is_refused(self, value: str) -> None:
        with pytest.raises(InvalidInput, match=r"^--since falls outside the years 1 to 9999"):
            parse_time(value, what="--since")

    @pytest.mark.parametrize("value", GARBAGE)
    def test_anything_but_iso_8601_is_refused(self, value: str) -> None:
        with pytest.raises(InvalidInput, match=r"^--until must be an ISO 8601 date or time"):
            parse_time(value, what="--until")


@pytest.fixture
def cli(cli: Cli, fresh_db: FreshDatabase) -> Cli:
    with fresh_db.scope() as session:
        World.build(session, fresh_db.settings())
    return cli


class TestOnTheCommandLine:
    @pytest.mark.parametrize("value", OUT_OF_RANGE + GARBAGE)
    @pytest.mark.parametrize("option", ["--since", "--until"])
    def test_a_bad_time_is_one_sentence_and_exit_1(self, cli: Cli, option: str, value: str) -> None:
        stderr = cli.refused("audit", "log", option, value, "--as", AUDITOR)
        assert stderr.startswith(f"{option} ") and stderr.strip().count("\n") == 0
        assert stderr.strip().endswith(".")

    def test_a_time_with_an_offset_still_selects_events(self, cli: Cli) -> None:
        everything = cli.ok("audit", "log", "--json", "--as", AUDITOR).stdout.splitlines()
        assert everything
        since = cli.ok(
            "audit", "log", "--json", "--since", "2000-01-01T00:00-23:00", "--as", AUDITOR
        )
        assert since.stdout.splitlines() == everything
        assert (
            cli.ok("audit", "log", "--json", "--since", "9999-12-31", "--as", AUDITOR).stdout == ""
        )


class TestOverHttp:
    @pytest.mark.parametrize("value", OUT_OF_RANGE + GARBAGE)
    @pytest.mark.parametrize("name", ["since", "until"])
    def test_a_bad_time_is_a_422(self, api: Api, name: str, value: str) -> None:
        response = api.client.get(
            "/audit/events", params={name: value}, headers=api.headers("auditor")
        )
        assert_refused(response, 422, f"{name}: ", error="invalid_input")
