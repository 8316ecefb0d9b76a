"""A wrapper that keeps plaintext out of logs, tracebacks and ``repr``."""

from __future__ import annotations

import hmac
from typing import Generic, TypeVar

__all__ = ["Secret"]

T = TypeVar("T", bytes, str)


class Secret(Generic[T]):
    """Holds a secret value; ``repr()`` and ``str()`` give ``***``, ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        if not isinstance(value, bytes | str):
            raise TypeError("Secret holds bytes or str")
        self._value: T = value

    def reveal(self) -> T:
        """The wrapped value. Call it as late as possible."""
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret) or type(other._value) is not type(self._value):
            return NotImplemented
        return hmac.compare_digest(_as_bytes(self._value), _as_bytes(other._value))

    __hash__ = None  # type: ignore[assignment]


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value
