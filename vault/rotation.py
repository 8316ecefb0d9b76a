"""Helpers for master-key rotation. The resumable loop itself belongs to the caller.

Rotation: ``keyring.add_key()``; then, in batches the caller commits, replace every value
for which :func:`needs_rewrap` is true by :func:`vault.rewrap` (or use :func:`rewrap_stale`);
when :func:`unused_keys` lists the old key, ``keyring.retire(old_id)``. A crash midway is
harmless: rewrapped and not-yet-rewrapped values both decrypt, so just run the loop again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TypeVar

from vault.envelope import Context, Sealed, _coerce, rewrap
from vault.keyring import Keyring

__all__ = ["keys_in_use", "needs_rewrap", "rewrap_stale", "unused_keys"]

Ref = TypeVar("Ref")


def needs_rewrap(keyring: Keyring, sealed: Sealed | str) -> bool:
    """True when ``sealed`` is live and not wrapped by the keyring's current key."""
    value = _coerce(sealed)
    return not value.is_shredded and value.key_id != keyring.current_key_id


def keys_in_use(values: Iterable[Sealed | str]) -> Counter[str]:
    """How many live values each master key id wraps (shredded values count for none)."""
    counts: Counter[str] = Counter()
    for sealed in values:
        value = _coerce(sealed)
        if not value.is_shredded:
            counts[value.key_id] += 1
    return counts


def unused_keys(keyring: Keyring, values: Iterable[Sealed | str]) -> list[str]:
    """Ids of keys that are neither current nor retired and wrap none of ``values``.

    Pass every stored value; the ids returned are safe to retire.
    """
    used = keys_in_use(values)
    return [
        info.id
        for info in keyring.keys
        if not info.retired and info.id != keyring.current_key_id and used[info.id] == 0
    ]


def rewrap_stale(
    keyring: Keyring, items: Iterable[tuple[Ref, Sealed | str, Context]]
) -> Iterator[tuple[Ref, Sealed]]:
    """For each ``(ref, sealed, context)`` that needs it, yield ``(ref, rewrapped)``.

    ``ref`` is the caller's handle (a row id). Values already under the current key and
    shredded values are skipped. Errors propagate; store what was yielded and rerun.
    """
    for ref, sealed, context in items:
        value = _coerce(sealed)
        if needs_rewrap(keyring, value):
            yield ref, rewrap(keyring, value, context=context)
