"""Argument conversion shared by the package's classes."""
from __future__ import annotations

import string
from typing import Any, Optional, TypeVar, Union

BytesLike = Union[bytes, bytearray, memoryview, str]

__all__ = ["BytesLike", "to_bytes", "opt_bytes", "Closing"]

_Self = TypeVar("_Self", bound="Closing")


class Closing:
    """A C handle in ``self._h`` that ``close()`` frees: context manager,
    and closed when collected."""

    _h: Any = None

    def close(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_h", None) is not None:
            self.close()


def to_bytes(value: BytesLike, what: str) -> bytes:
    """bytes from bytes-like or hex text (spaces and colons allowed).

    ``what`` names the argument in error messages. A message names the
    argument and says where the text stops being hex, never quoting it:
    the text may be a key, a PSK or a bootstrap file holding both.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        text = value.replace(" ", "").replace(":", "")
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{what} is not valid hex: {_hex_problem(value)}") from None
    raise TypeError(f"{what} must be bytes or a hex string, not {type(value).__name__}")


def _hex_problem(text: str) -> str:
    """What is wrong with text as hex, by position and count only."""
    digits = 0
    for i, ch in enumerate(text):
        if ch in " :":
            continue
        if ch not in string.hexdigits:
            return f"character {i + 1} of {len(text)} is not a hex digit"
        digits += 1
    return f"{digits} hex digits, an odd number"


def opt_bytes(value: Optional[BytesLike], what: str) -> Optional[bytes]:
    """to_bytes, passing None through."""
    return None if value is None else to_bytes(value, what)
