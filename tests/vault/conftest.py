"""Fixtures for the vault tests: fresh keyrings in ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault import Keyring


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "keyring.json")


@pytest.fixture
def other_keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "other-keyring.json")
