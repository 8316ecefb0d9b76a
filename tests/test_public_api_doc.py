"""docs/public-api.md's checks of a signature, run as written against real signed answers: the
Python one here, the JavaScript one with Node when it is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from tests.conftest import Api
from tests.factories import World

DOC = Path(__file__).resolve().parents[1] / "docs" / "public-api.md"
JOSE = {"Accept": "application/jose"}


def snippet(language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"no {language} snippet in {DOC.name}"
    return found.group(1)


def signed(api: Api) -> tuple[str, str, dict[str, Any]]:
    with api.db.scope() as session:
        World.load(session, api.db.settings()).account("ManitobaGov")
    answer = api.client.get(
        "/verify", params={"platform": "facebook", "handle": "ManitobaGov"}, headers=JOSE
    ).text
    directory = api.client.get("/directory.json", headers=JOSE).text
    return answer, directory, api.client.get("/.well-known/jwks.json").json()


def forged(token: str) -> str:
    header, payload, signature = token.split(".")
    return f"{header}.{payload[:-2]}{'AA' if payload[-2:] != 'AA' else 'BB'}.{signature}"


def test_the_python_check_accepts_an_answer_and_refuses_a_forgery(api: Api) -> None:
    answer, directory, jwks = signed(api)
    scope: dict[str, Any] = {}
    exec(snippet("python"), scope)
    assert scope["check"](answer, jwks)["official"] is True
    assert [a["handle"] for a in scope["check"](directory, jwks)["accounts"]] == ["ManitobaGov"]
    with pytest.raises(InvalidSignature):
        scope["check"](forged(answer), jwks)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_the_javascript_check_accepts_an_answer_and_refuses_a_forgery(
    api: Api, tmp_path: Path
) -> None:
    answer, directory, jwks = signed(api)
    script = tmp_path / "check.mjs"
    script.write_text(
        snippet("javascript")
        + f"""
const jwks = {json.dumps(jwks)};
const answer = await check({json.dumps(answer)}, jwks);
const directory = await check({json.dumps(directory)}, jwks);
let refused = false;
try {{ await check({json.dumps(forged(answer))}, jwks); }} catch (e) {{ refused = true; }}
console.log(JSON.stringify({{official: answer.official, n: directory.accounts.length, refused}}));
"""
    )
    run = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"official": True, "n": 1, "refused": True}
