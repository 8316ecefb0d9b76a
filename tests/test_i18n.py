"""Both official languages on the public side: which language a request gets, the French
answers and pages, and a catalogue that is complete and up to date with the sources."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from registry import i18n
from registry.models import Account, AccountRename
from registry.services import verify
from tests.conftest import Api, Cli
from tests.factories import World

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "registry" / "locale"
PO = LOCALE / "fr" / "LC_MESSAGES" / "messages.po"
POT = LOCALE / "messages.pot"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


class TestNegotiation:
    @pytest.mark.parametrize(
        ("param", "cookie", "header", "expected"),
        [
            (None, None, None, "en"),
            ("fr", None, None, "fr"),
            ("FR", None, None, "fr"),
            ("fr-CA", None, None, "fr"),
            ("en", "fr", "fr-CA,fr;q=0.9", "en"),  # the parameter wins
            ("de", "fr", None, "fr"),  # an unsupported parameter is ignored
            (None, "fr", "en", "fr"),  # the cookie before the header
            (None, "xx", "fr", "fr"),  # a junk cookie is ignored
            (None, None, "fr-CA,fr;q=0.9,en;q=0.8", "fr"),
            (None, None, "en-CA,en;q=0.9,fr;q=0.8", "en"),
            (None, None, "de-DE,fr;q=0.7,en;q=0.3", "fr"),
            (None, None, "en;q=0.2, fr;q=0.9", "fr"),  # q-values, not order
            (None, None, "fr;q=0.5, en;q=0.5", "fr"),  # a tie: the first named
            (None, None, "fr;q=0, en;q=0.1", "en"),  # q=0: not acceptable
            (None, None, "fr;q=0", "en"),
            (None, None, "*", "en"),
            (None, None, "de, es", "en"),
            (None, None, "fr;q=abc, en;q=0.1", "en"),  # a junk q-value drops its entry
            (None, None, "fr;q=2", "en"),
            (None, None, "fr;q=nan", "en"),
            (None, None, ";;;,,,=", "en"),
            (None, None, "é" * 5000, "en"),
            (None, None, "FR_ca", "fr"),
        ],
    )
    def test_the_language_of_a_request(
        self, param: str | None, cookie: str | None, header: str | None, expected: str
    ) -> None:
        assert i18n.negotiate(param, cookie, header) == expected


def _catalogue() -> list[tuple[str, str, set[str]]]:
    with PO.open("rb") as file:
        catalog = read_po(file, locale="fr")
    return [
        (str(m.id), str(m.string), set(m.flags)) for m in catalog if m.id and isinstance(m.id, str)
    ]


class TestCatalogue:
    def test_every_message_has_a_french_translation(self) -> None:
        entries = _catalogue()
        assert len(entries) > 30
        untranslated = [msgid for msgid, text, flags in entries if not text.strip()]
        fuzzy = [msgid for msgid, _, flags in entries if "fuzzy" in flags]
        assert untranslated == [] and fuzzy == []

    def test_placeholders_match(self) -> None:
        for msgid, text, _ in _catalogue():
            assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid

    def test_the_template_is_up_to_date_with_the_sources(self, tmp_path: Path) -> None:
        fresh = tmp_path / "messages.pot"
        subprocess.run(
            [
                str(Path(sys.executable).parent / "pybabel"),
                "--quiet",
                "extract",
                "-F",
                str(LOCALE / "babel.cfg"),
                "-o",
                str(fresh),
                ".",
            ],
            cwd=ROOT,
            check=True,
        )

        def ids(path: Path) -> set[str]:
            with path.open("rb") as file:
                return {str(m.id) for m in read_po(file) if m.id}

        assert ids(fresh) == ids(POT), "run `make i18n-update` and translate what it adds"
        assert ids(POT) == {msgid for msgid, _, _ in _catalogue()}, "run `make i18n-update`"

    def test_the_po_compiled_in_memory_answers_as_the_mo(self) -> None:
        """A fresh clone (no .mo) or an edited .po (newer than the .mo) still speaks French."""
        compiled = i18n.compile_po(PO, "fr")
        for msgid, text, _ in _catalogue():
            assert compiled.gettext(msgid) == text
        assert i18n.translator("fr")("Check") == "Vérifier"
        assert i18n.translator("en")("Check") == "Check"
        assert i18n.translator("xx")("Check") == "Check"


def _renamed(world: World, account: Account, old: str, new: str, at: dt.datetime) -> None:
    world.session.add(
        AccountRename(
            account_id=account.id or 0,
            platform="facebook",
            old_handle=old,
            old_handle_normalized=old.lower(),
            old_url=f"https://www.facebook.com/{old}",
            new_handle=new,
            new_url=f"https://www.facebook.com/{new}",
            renamed_at=at,
            renamed_by_id=world.people["ced1"].id,
        )
    )
    world.session.flush()


def _status(world: World, account: Account, status: str, at: dt.datetime | None) -> None:
    account.status, account.decommissioned_at = status, at
    world.session.add(account)
    world.session.flush()


class TestFrenchAnswers:
    """Each kind of answer in French; the English ones are what they were."""

    def test_each_answer_in_french(self, world: World) -> None:
        world.account("MBGov")
        _status(
            world,
            world.account("OldPage"),
            "decommissioned",
            dt.datetime(2026, 3, 4, tzinfo=dt.UTC),
        )
        _status(world, world.account("Paused"), "suspended", None)
        _renamed(
            world,
            world.account("MBGovNew"),
            "MBGovOld",
            "MBGovNew",
            dt.datetime(2026, 12, 5, tzinfo=dt.UTC),
        )
        by_id = world.account("ById")
        by_id.platform_id = "100064512345678"
        world.session.add(by_id)
        world.session.flush()
        c = world.session.connection()

        def fr(handle: str) -> verify.VerifyAnswer:
            return verify.verify_handle(c, platform="facebook", handle=handle, lang="fr")

        official = fr("MBGov")
        assert official.official and official.lang == "fr"
        assert official.message == (
            "Facebook @MBGov est un compte officiel du gouvernement (Agriculture)."
        )
        unknown = fr("Impostor")
        assert unknown.message == (
            "Facebook @Impostor n'est pas un compte officiel du gouvernement."
        )
        gone = fr("OldPage")
        assert gone.message == (
            "Facebook @OldPage n'est plus un compte officiel du gouvernement\u00a0: il a été mis "
            "hors service le 2026-03-04. Quiconque l'utilise maintenant ne parle pas au nom du "
            "gouvernement."
        )
        paused = fr("Paused")
        assert "il a été suspendu." in paused.message and paused.status == "suspended"
        renamed = fr("MBGovOld")
        assert renamed.message == (
            "Facebook @MBGovOld n'est plus un compte officiel du gouvernement\u00a0: il a été "
            "renommé @MBGovNew le 2026-12-05. Quiconque utilise maintenant @MBGovOld ne parle "
            "pas au nom du gouvernement."
        )
        post = verify.verify_url(c, url="https://www.facebook.com/MBGov/posts/pfbid0abc", lang="fr")
        assert post.official and post.message.startswith(
            "Ce lien mène à une publication ou à un autre contenu, et non au profil"
        )
        assert post.message.endswith("est un compte officiel du gouvernement (Agriculture).")
        found = verify.verify_platform_id(
            c, platform="facebook", platform_id="100064512345678", lang="fr"
        )
        assert found.official and found.lang == "fr" and "(Agriculture)" in found.message
        missing = verify.answer(
            c, platform="facebook", handle=None, url=None, platform_id="42424242", lang="fr"
        )
        assert missing.message == (
            "Le compte Facebook dont l'identifiant est 42424242 n'est pas un compte officiel du "
            "gouvernement."
        )
        # Every French message came from the catalogue: none is left in English.
        for answer in (official, unknown, gone, paused, renamed, post, found, missing):
            assert "government" not in answer.message and answer.lang == "fr"

    def test_english_answers_are_unchanged(self, world: World) -> None:
        world.account("MBGov")
        _status(
            world,
            world.account("OldPage"),
            "decommissioned",
            dt.datetime(2026, 3, 4, tzinfo=dt.UTC),
        )
        c = world.session.connection()
        assert verify.verify_handle(c, platform="facebook", handle="MBGov").message == (
            "Facebook @MBGov is an official account of Agriculture."
        )
        assert verify.verify_handle(c, platform="facebook", handle="OldPage").message == (
            "Facebook @OldPage is no longer an official government account: it has been "
            "decommissioned since 2026-03-04. Anyone using it now does not speak for the "
            "government."
        )
        post = verify.verify_url(c, url="https://www.facebook.com/MBGov/posts/pfbid0abc")
        assert post.message == (
            "This link is to a post or other content, not to the profile: the answer is about "
            "the account only, and the post itself is not verified. Facebook @MBGov is an "
            "official account of Agriculture."
        )
        # An unknown language is answered in English, and says so.
        other = verify.verify_handle(c, platform="facebook", handle="MBGov", lang="de")
        assert other.lang == "en" and other.message.endswith("of Agriculture.")


def _twins(api: Api) -> None:
    """ManitobaAg (English) and AgricultureMB (French) as twins, and a bilingual account."""
    with api.db.scope() as session:
        world = World.load(session, api.db.settings())
        english = world.account("ManitobaAg")
        french = world.account("AgricultureMB")
        both = world.account("MBHealth", department="HLT", holders=("ced1", "hlt_requester"))
        english.display_name, english.language = "Manitoba Agriculture", "en"
        french.display_name, french.language = "Agriculture Manitoba", "fr"
        both.language = "bilingual"
        english.twin_id, french.twin_id = french.id, english.id
        session.add_all([english, french, both])


class TestPages:
    def test_the_directory_in_french(self, api: Api) -> None:
        _twins(api)
        page = api.client.get(
            "/directory", params={"q": "agri", "lang": "fr"}, headers={"Accept-Language": "en"}
        )
        assert page.status_code == 200
        text = page.text
        assert '<html lang="fr">' in text
        assert "<h1>Comptes officiels du gouvernement dans les médias sociaux</h1>" in text
        assert "Ce compte est-il officiel?" in text and "Répertoire des comptes officiels" in text
        assert "Passer au contenu" in text and "Aucun compte" not in text
        assert page.headers["content-language"] == "fr"
        assert "Accept-Language" in page.headers["vary"]
        # The toggle: to English, keeping the search.
        toggle = re.search(r'<a href="([^"]+)" lang="en" hreflang="en">English</a>', text)
        assert toggle is not None and toggle.group(1) == "/directory?q=agri&amp;lang=en"
        # The twins are one row, each handle labelled with its language in its own words.
        assert text.count("<tr>") == 2  # the header and the pair
        assert "2 compte(s) officiel(s) actif(s)" in text
        assert re.search(r"@ManitobaAg</a> \(<span lang=\"en\">English</span>\)", text)
        assert re.search(r"@AgricultureMB</a> \(<span lang=\"fr\">Français</span>\)", text)
        assert "Anglais et français" in text
        # The toggle remembered the choice: the next page is French without a parameter.
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("lang=fr;") and "HttpOnly" in cookie and "SameSite=lax" in cookie
        again = api.client.get("/directory", headers={"Accept-Language": "en"})
        assert '<html lang="fr">' in again.text and "Bilingue" in again.text

    def test_accept_language_and_the_toggle_to_french(self, api: Api) -> None:
        _twins(api)
        french = api.client.get(
            "/directory", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.8"}
        )
        assert '<html lang="fr">' in french.text and "lang" not in api.client.cookies
        english = api.client.get("/directory", params={"platform": "facebook"})
        assert '<html lang="en">' in english.text
        assert english.headers["content-language"] == "en"
        assert (
            '<a href="/directory?platform=facebook&amp;lang=fr" lang="fr" hreflang="fr">'
            "Français</a>" in english.text
        )
        assert "Directory of official accounts" in english.text and "Bilingual" in english.text
        assert "3 active official account(s)" in english.text

    def test_a_french_check_of_a_link(self, api: Api) -> None:
        _twins(api)
        page = api.client.get(
            "/directory",
            params={"check": "https://www.facebook.com/ManitobaAg", "lang": "fr"},
        )
        assert "Facebook @ManitobaAg est un compte officiel du gouvernement (Agriculture)." in (
            page.text
        )
        assert "(officiel, depuis le " in page.text

    def test_verify_in_french(self, api: Api) -> None:
        _twins(api)
        params = {"platform": "facebook", "handle": "ManitobaAg"}
        by_header = api.client.get(
            "/verify", params=params, headers={"Accept-Language": "fr-CA,fr;q=0.9"}
        )
        body = by_header.json()
        assert body["lang"] == "fr" and body["message"].endswith("(Agriculture).")
        assert by_header.headers["content-language"] == "fr"
        assert "Accept-Language" in by_header.headers["vary"]
        by_param = api.client.get(
            "/verify", params={**params, "lang": "en"}, headers={"Accept-Language": "fr"}
        )
        assert by_param.json()["lang"] == "en"
        assert (
            by_param.json()["message"]
            == "Facebook @ManitobaAg is an official account of Agriculture."
        )
        plain = api.client.get("/verify", params=params)
        assert plain.json()["lang"] == "en" and plain.headers["content-language"] == "en"
        fr_param = api.client.get("/verify", params={**params, "lang": "fr"})
        assert fr_param.json()["lang"] == "fr"


class TestCommandLine:
    def test_registry_verify_in_french(self, cli: Cli) -> None:
        cli("init", "--admin", "admin@gov.mb.ca", "--name", "Admin")
        result = cli("verify", "--platform", "facebook", "--handle", "Nobody", "--lang", "fr")
        assert result.exit_code == 1
        assert result.stdout.strip() == (
            "Facebook @Nobody n'est pas un compte officiel du gouvernement."
        )
        answer = json.loads(
            cli("verify", "--url", "https://x.com/Nobody", "--lang", "fr", "--json").stdout
        )
        assert answer["lang"] == "fr" and "n'est pas un compte officiel" in answer["message"]
        assert "en or fr" in cli.refused(
            "verify", "--platform", "x", "--handle", "a", "--lang", "de"
        )
