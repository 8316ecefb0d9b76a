"""Opening the vault's keyring for the registry: a clear 503-style error when it cannot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from registry.config import Settings
from registry.errors import VaultUnavailable
from vault import Keyring, KeyringExists, VaultError

AUDIT_KEY = "audit_key"  # Session.info entry: a callable giving the audit key, or None


def open_keyring(settings: Settings) -> Keyring:
    """The keyring at ``REGISTRY_KEYRING``, or VaultUnavailable saying what is wrong."""
    try:
        return Keyring.load(settings.keyring)
    except VaultError as exc:
        raise VaultUnavailable(
            f"The credential vault is unavailable: {exc} Until it is fixed, only what needs "
            "the keyring is refused (credentials, verifying or sealing the audit log, "
            "restoring a backup); everything else still works."
        ) from None


def ensure_keyring(settings: Settings) -> tuple[Keyring, bool]:
    """Create the keyring if there is none (``registry init``); check it if there is one.

    Returns the keyring and whether it was created now. An existing keyring that cannot be
    opened is an error, never silently replaced: that would lose every secret.
    """
    path = Path(settings.keyring)
    try:
        missing = not path.exists()
    except OSError as exc:  # a folder without search permission, a name too long
        reason = (exc.strerror or type(exc).__name__).lower()
        raise VaultUnavailable(f"Cannot use the keyring path {path}: {reason}.") from None
    if missing:
        try:
            return Keyring.create(path), True
        except KeyringExists:
            pass
        except VaultError as exc:
            raise VaultUnavailable(f"Cannot create the keyring at {path}: {exc}") from None
    return open_keyring(settings), False


def audit_key_source(settings: Settings) -> Callable[[], bytes | None]:
    """A function giving the keyring's audit key, or None when the keyring cannot be opened.

    The key is read once and kept while the keyring file is unchanged (same size and
    modification time), so appending to the audit log costs a ``stat``, not a parse.
    """
    path = Path(settings.keyring)
    cached: dict[tuple[int, int], bytes] = {}

    def source() -> bytes | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp not in cached:
            try:
                key = Keyring.load(path).audit_key
            except VaultError:
                return None
            cached.clear()
            cached[stamp] = key
        return cached[stamp]

    return source


def session_info(settings: Settings) -> dict[str, Any]:
    """What every session of this registry carries: where the audit key comes from."""
    return {AUDIT_KEY: audit_key_source(settings)}
