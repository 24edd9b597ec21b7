"""Argument conversion shared by the package's classes."""
from __future__ import annotations

from typing import Any, Optional, Union

BytesLike = Union[bytes, bytearray, memoryview, str]

__all__ = ["BytesLike", "to_bytes", "opt_bytes", "Closing"]


class Closing:
    """A C handle in ``self._h`` that ``close()`` frees: context manager,
    and closed when collected."""

    _h: Any = None

    def close(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_h", None) is not None:
            self.close()


def to_bytes(value: BytesLike, what: str, secret: bool = False) -> bytes:
    """bytes from bytes-like or hex text (spaces and colons allowed).

    ``what`` names the argument in error messages; with ``secret`` the
    message never quotes the value (keys).
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        text = value.replace(" ", "").replace(":", "")
        try:
            return bytes.fromhex(text)
        except ValueError:
            shown = "" if secret else f": {value!r}"
            raise ValueError(f"{what} is not valid hex{shown}") from None
    raise TypeError(f"{what} must be bytes or a hex string, not {type(value).__name__}")


def opt_bytes(value: Optional[BytesLike], what: str, secret: bool = False) -> Optional[bytes]:
    """to_bytes, passing None through."""
    return None if value is None else to_bytes(value, what, secret)
