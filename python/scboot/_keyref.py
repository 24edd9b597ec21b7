"""Key references: how a job row or a store row names a card's keys
without holding them.

A reference is text:

- a key file path (the JSON of ``--keys``); relative paths are taken from
  the job file's directory and stored absolute;
- a PKCS#11 URI (RFC 7512), ``pkcs11:token=line-1;object=card-${iccid}``;
- ``inline``: the key set is in the job file itself (only a run that has
  the job at hand, ``python3 -m scboot.provision JOB``, can use it).

``${iccid}`` in a reference is replaced by the card's ICCID when the card
is provisioned (a key file or token object per card). A reference never
carries a secret: a URI with ``pin-value`` is refused.

:class:`KeyLoader` turns references into :class:`Keys`, each loaded once
and wiped at :meth:`KeyLoader.close`. URIs go to the same loader as
files (``Keys.load``), so token keys work here as soon as it takes them.
"""
from __future__ import annotations

import os
import re
import threading
from typing import Callable, Dict, Optional

from ._errors import Error
from ._keys import Keys

__all__ = ["INLINE", "KeyRefError", "canonical", "expand", "KeyLoader"]

INLINE = "inline"
_MAX = 1024
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


class KeyRefError(ValueError):
    """A key reference that is malformed or cannot be loaded."""


def canonical(text: object, base_dir: str, what: str) -> str:
    """The stored form of a reference from a job row (``what`` names the
    field in errors); raises KeyRefError."""
    if not isinstance(text, str) or not text.strip():
        raise KeyRefError(f"{what}: expected a key file path or a pkcs11: URI")
    ref = text.strip()
    if len(ref) > _MAX or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in ref):
        raise KeyRefError(f"{what}: not a usable key reference (control characters or over "
                          f"{_MAX} characters)")
    for m in _PLACEHOLDER.finditer(ref):
        if m.group(1) != "iccid":
            raise KeyRefError(f"{what}: ${{{m.group(1)}}}: only ${{iccid}} can be filled in")
    if "${" in _PLACEHOLDER.sub("", ref):
        raise KeyRefError(f"{what}: malformed placeholder (expected ${{iccid}})")
    if ref.startswith("pkcs11:"):
        attrs = re.split(r"[;?&]", ref[len("pkcs11:"):])
        if any(a.lower().startswith("pin-value=") for a in attrs):
            raise KeyRefError(f"{what}: a PIN in the URI (pin-value) would be stored: use "
                              f"pin-source or let the key loader ask for it")
        return ref
    return os.path.normpath(os.path.join(base_dir, ref))


def expand(ref: str, iccid: str) -> str:
    """The reference for one card (``${iccid}`` filled in)."""
    return ref.replace("${iccid}", iccid)


# (import number in the store, row in its job file, "keys" or "new_keys")
InlineKeys = Callable[[int, int, str], Optional[Keys]]


class KeyLoader:
    """Key sets by reference, loaded once each (thread-safe). ``inline``
    gives the key set a job row holds itself, for ``inline`` references."""

    def __init__(self, inline: Optional[InlineKeys] = None) -> None:
        self._inline = inline
        self._loaded: Dict[str, Keys] = {}
        self._lock = threading.Lock()

    def load(self, ref: Optional[str], iccid: str, which: str, import_id: int = 0,
             source_row: int = 0) -> Optional[Keys]:
        """The key set ``ref`` names for card ``iccid`` (``which``: "keys"
        or "new_keys", of row ``source_row`` of the job imported as
        ``import_id``); None for no reference. Raises KeyRefError."""
        if ref is None:
            return None
        if ref == INLINE:
            keys = (self._inline(import_id, source_row, which) if self._inline is not None
                    else None)
            if keys is None:
                raise KeyRefError(f"{which}: the key set is in the job file (inline): provision "
                                  f"these rows with python3 -m scboot.provision JOB")
            return keys
        name = expand(ref, iccid)
        with self._lock:
            keys = self._loaded.get(name)
            if keys is None:
                try:
                    keys = self._loaded[name] = Keys.load(name)
                except OSError as e:
                    why = e.strerror or str(e)
                    if name.startswith("pkcs11:"):
                        why = f"this scboot cannot load keys from a PKCS#11 token yet ({why})"
                    raise KeyRefError(f"{which} {name}: {why}") from None
                except UnicodeDecodeError:
                    raise KeyRefError(f"{which} {name}: not a text file (a JSON key set)") \
                        from None
                except Error as e:
                    raise KeyRefError(f"{which} {name}: {e.detail or e}") from None
        return keys

    def close(self) -> None:
        """Wipe every key set loaded here (inline ones belong to the job)."""
        with self._lock:
            for keys in self._loaded.values():
                keys.close()
            self._loaded.clear()

    def __enter__(self) -> "KeyLoader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
