"""Format stability: a value sealed by an earlier build must still decrypt."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vault import Context, DecryptionFailed, Keyring, Sealed, decrypt

DATA = Path(__file__).parent / "data"
CONTEXT: Context = {"table": "golden", "row": 7, "field": "password"}
PLAINTEXT = "golden secret ✓".encode()


@pytest.fixture
def golden_keyring(tmp_path: Path) -> Keyring:
    # git does not keep file modes, so copy the keyring and make it 0600 first.
    path = tmp_path / "golden_keyring.json"
    shutil.copyfile(DATA / "golden_keyring.json", path)
    path.chmod(0o600)
    return Keyring.load(path)


@pytest.fixture
def golden_text() -> str:
    return (DATA / "golden_sealed.txt").read_text(encoding="ascii").strip()


def test_golden_value_decrypts(golden_keyring: Keyring, golden_text: str) -> None:
    assert golden_keyring.current_key_id == "k2"
    assert decrypt(golden_keyring, golden_text, context=CONTEXT) == PLAINTEXT


def test_golden_value_round_trips_unchanged(golden_text: str) -> None:
    sealed = Sealed.loads(golden_text)
    assert sealed.version == 1
    assert sealed.key_id == "k1"
    assert sealed.dumps() == golden_text


def test_golden_value_is_bound_to_its_context(golden_keyring: Keyring, golden_text: str) -> None:
    with pytest.raises(DecryptionFailed):
        decrypt(golden_keyring, golden_text, context={**CONTEXT, "row": 8})
