"""Opening the vault's keyring for the registry: a clear 503-style error when it cannot."""

from __future__ import annotations

from pathlib import Path

from registry.config import Settings
from registry.errors import VaultUnavailable
from vault import Keyring, KeyringExists, VaultError


def open_keyring(settings: Settings) -> Keyring:
    """The keyring at ``REGISTRY_KEYRING``, or VaultUnavailable saying what is wrong."""
    try:
        return Keyring.load(settings.keyring)
    except VaultError as exc:
        raise VaultUnavailable(
            f"The credential vault is unavailable: {exc} Everything but secrets still works."
        ) from None


def ensure_keyring(settings: Settings) -> tuple[Keyring, bool]:
    """Create the keyring if there is none (``registry init``); check it if there is one.

    Returns the keyring and whether it was created now. An existing keyring that cannot be
    opened is an error, never silently replaced: that would lose every secret.
    """
    path = Path(settings.keyring)
    if not path.exists():
        try:
            return Keyring.create(path), True
        except KeyringExists:
            pass
        except VaultError as exc:
            raise VaultUnavailable(f"Cannot create the keyring at {path}: {exc}") from None
    return open_keyring(settings), False
