"""Key references: how a job row or a store row names a card's keys
without holding them.

A reference is text:

- a key file path (the JSON of ``--keys``, the token form ``{"pkcs11":
  URI, "kvn": N}`` included); relative paths are taken from the job file's
  directory and stored absolute;
- a PKCS#11 URI (RFC 7512), ``pkcs11:token=line-1;object=card-${iccid}``:
  the key set NAME in the token (objects NAME/enc, NAME/mac, NAME/dek),
  key version 0 (the card's default key set). A bare URI names current
  keys only: new keys need a version;
- a token reference with its key version: the keys JSON token form
  itself, ``{"kvn": 49, "pkcs11": "pkcs11:..."}`` (how a row's ``{"pkcs11":
  URI, "kvn": N}`` or ``import --new-keys URI --new-kvn N`` is stored);
- ``inline``: the key set is in the job file itself (only a run that has
  the job at hand, ``python3 -m scboot.provision JOB``, can use it).

``${iccid}`` in a reference is replaced by the card's ICCID when the card
is provisioned (a key file or token key set per card). A reference never
carries a secret: a URI with ``pin-value`` is refused.

:class:`KeyLoader` turns references into :class:`Keys`. Token key sets are
opened with :meth:`Keys.from_pkcs11`, the new keys of a rotation with
``generate=True`` (the PUT KEY that first uses a set the token does not
hold yet generates it there, so a ``card-${iccid}`` template gives each
card its own). The token's user PIN comes from the URI's pin-source, else
``SCBOOT_PIN11`` (never from a prompt: a station runs unattended), and is
never stored. A PIN the token refuses (wrong, locked, or none to give) is
not tried again: the loader refuses every later load and stops its
station, since each new attempt would count against the token's retry
limit.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from typing import Callable, ContextManager, Dict, List, Mapping, Optional, Tuple

from . import _scboot as _c
from ._errors import Error, KeystoreError
from ._keys import Keys

__all__ = ["INLINE", "KeyRefError", "canonical", "expand", "per_card", "is_token",
           "token_ref", "describe", "load_key_file", "open_keys", "KeyLoader"]

INLINE = "inline"
_MAX = 1024
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# PKCS#11 user-PIN failures: each further C_Login with the same PIN brings
# the token closer to locking it (PKCS#11 2.40 5.6, CKF_USER_PIN_COUNT_LOW),
# and without a PIN no token key set opens at all.
_PIN_CODES = (_c.SCB_E_P11_PIN, _c.SCB_E_P11_PIN_LOCKED, _c.SCB_E_P11_PIN_REQUIRED)
_NEEDS_VERSION = ("new keys in a token need a key version: give {\"pkcs11\": URI, \"kvn\": N} "
                  "(CSV: columns new_keys.pkcs11 and new_keys.kvn), or import --new-keys URI "
                  "--new-kvn N")


class KeyRefError(ValueError):
    """A key reference that is malformed or cannot be loaded. ``pin``: the
    token refused its PIN (the loader stopped trying)."""

    def __init__(self, message: str, pin: bool = False) -> None:
        super().__init__(message)
        self.pin = pin


def _check_text(ref: str, what: str) -> None:
    if len(ref) > _MAX or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in ref):
        raise KeyRefError(f"{what}: not a usable key reference (control characters or over "
                          f"{_MAX} characters)")
    for m in _PLACEHOLDER.finditer(ref):
        if m.group(1) != "iccid":
            raise KeyRefError(f"{what}: ${{{m.group(1)}}}: only ${{iccid}} can be filled in")
    if "${" in _PLACEHOLDER.sub("", ref):
        raise KeyRefError(f"{what}: malformed placeholder (expected ${{iccid}})")


def _check_uri(uri: str, what: str) -> None:
    _check_text(uri, what)
    attrs = re.split(r"[;?&]", uri[len("pkcs11:"):])
    if any(a.lower().startswith("pin-value=") for a in attrs):
        raise KeyRefError(f"{what}: a PIN in the URI (pin-value) would be stored: use "
                          f"pin-source or SCBOOT_PIN11")


def _kvn(value: object, what: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        kvn = value if isinstance(value, int) else int(str(value).strip(), 0)
    except ValueError:
        raise KeyRefError(f"{what}: not a key version number") from None
    if not 0 <= kvn <= 0xFF:
        raise KeyRefError(f"{what}: {kvn} is not a key version number (0..255)")
    return kvn


def token_ref(uri: str, kvn: int) -> str:
    """The stored form of a token key set with its key version (the keys
    JSON token form, with ``${iccid}`` still in the URI)."""
    return json.dumps({"kvn": kvn, "pkcs11": uri}, sort_keys=True, separators=(",", ":"))


def _token(ref: str) -> Optional[Tuple[str, Optional[int]]]:
    """(URI, key version or None for a bare URI) of a token reference;
    None for a key file (or inline)."""
    if ref.startswith("pkcs11:"):
        return ref, None
    if ref.startswith("{"):
        doc = json.loads(ref)
        return str(doc["pkcs11"]), int(doc["kvn"])
    return None


def describe(ref: str) -> str:
    """A reference as messages show it."""
    try:
        token = _token(ref) if ref.startswith("{") else None
    except (ValueError, KeyError, TypeError):
        return ref
    return f"{token[0]} (kvn 0x{token[1]:02X})" if token else ref


def canonical(value: object, base_dir: str, what: str, *, new: bool = False,
              kvn: Optional[object] = None) -> str:
    """The stored form of a reference from a job row or the command line
    (``what`` names the field in errors): text (a key file path or a
    ``pkcs11:`` URI), or a token reference ``{"pkcs11": URI, "kvn": N}``
    (a row's JSON object, or CSV's ``keys.pkcs11`` / ``keys.kvn`` cells).
    ``kvn``: the version of a URI given as text (``import --new-kvn``).
    ``new``: the reference names new keys, which must say their version.
    Raises KeyRefError."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"pkcs11", "kvn"})
        if unknown:
            raise KeyRefError(f"{what}.pkcs11 and {what}.{unknown[0]}: a token key set is "
                              f"named by pkcs11 and kvn only (the keys stay in the token)")
        uri = value.get("pkcs11")
        if not isinstance(uri, str) or not uri.strip().startswith("pkcs11:"):
            raise KeyRefError(f"{what}.pkcs11: expected a pkcs11: URI")
        if kvn is not None:
            raise KeyRefError(f"{what}: the key version is given twice")
        if "kvn" not in value and new:
            raise KeyRefError(f"{what}.kvn: missing: {_NEEDS_VERSION}")
        version = _kvn(value.get("kvn", 0), f"{what}.kvn")
        uri = uri.strip()
        _check_uri(uri, f"{what}.pkcs11")
    else:
        if not isinstance(value, str) or not value.strip():
            raise KeyRefError(f"{what}: expected a key file path or a pkcs11: URI")
        ref = value.strip()
        if not ref.startswith("pkcs11:"):
            _check_text(ref, what)
            if kvn is not None:
                raise KeyRefError(f"{what}: a key version applies to a pkcs11: URI (a key file "
                                  f"gives its own kvn)")
            return os.path.normpath(os.path.join(base_dir, ref))
        _check_uri(ref, what)
        if kvn is None:
            if new:
                raise KeyRefError(f"{what}: {_NEEDS_VERSION}")
            return ref   # current keys: the card's default key set (version 0)
        uri, version = ref, _kvn(kvn, f"{what} key version")
    if new and version == 0:
        raise KeyRefError(f"{what}: key version 0 asks the card for its default key set; new "
                          f"keys need a version of their own (e.g. 0x31)")
    return token_ref(uri, version)


def expand(ref: str, iccid: str) -> str:
    """The reference for one card (``${iccid}`` filled in)."""
    return ref.replace("${iccid}", iccid)


def per_card(ref: str) -> bool:
    """Whether the reference names a key set per card."""
    return "${iccid}" in ref


def is_token(ref: str) -> bool:
    """Whether the reference names a token key set (not a key file)."""
    return ref.startswith("pkcs11:") or ref.startswith("{")


# (import number in the store, row in its job file, "keys" or "new_keys")
InlineKeys = Callable[[int, int, str], Optional[Keys]]


def _with_pin11(open_with: Callable[[Optional[str]], Keys]) -> Keys:
    """``open_with(None)``: the URI's pin-source (or a token the process
    is logged in to already); when the token asks for a PIN all the same,
    ``open_with(SCBOOT_PIN11)``, as the command line does."""
    try:
        return open_with(None)
    except Error as e:
        pin = os.environ.get("SCBOOT_PIN11")
        if e.code != _c.SCB_E_P11_PIN_REQUIRED or not pin:
            raise
    return open_with(pin)


def load_key_file(path: str) -> Keys:
    """A key file (:meth:`Keys.load`); for the token form, the PIN as
    :func:`_with_pin11` finds it."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return _with_pin11(lambda pin: Keys.from_json(text, pin=pin))


def open_keys(ref: str, which: str = "keys") -> Keys:
    """The key set a reference (``${iccid}`` filled in) names, for
    ``which`` ("keys", or "new_keys": a token set is generated by the PUT
    KEY that first uses it). Raises KeyRefError (``pin`` set when the token
    refused its PIN)."""
    shown = describe(ref)
    try:
        token = _token(ref)
        if token is None:
            return load_key_file(ref)
        uri, kvn = token
        if kvn is None and which == "new_keys":
            raise KeyRefError(f"{which} {shown}: {_NEEDS_VERSION}")
        return _with_pin11(lambda pin: Keys.from_pkcs11(uri, pin, kvn=kvn or 0,
                                                        generate=which == "new_keys"))
    except KeyRefError:
        raise
    except OSError as e:
        raise KeyRefError(f"{which} {shown}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise KeyRefError(f"{which} {shown}: not a text file (a JSON key set)") from None
    except Error as e:
        if e.code in _PIN_CODES:
            raise KeyRefError(f"{which} {shown}: {e}", pin=True) from None
        # a token's failure with its code (which one: no token, no object,
        # ...), a key file's with the library's detail as before
        shown_error = e if isinstance(e, KeystoreError) else e.detail or e
        raise KeyRefError(f"{which} {shown}: {shown_error}") from None
    except (ValueError, KeyError, TypeError):   # a stored token reference that is not JSON
        raise KeyRefError(f"{which} {shown}: not a key reference") from None


class KeyLoader:
    """Key sets by reference, loaded once each (thread-safe; one load at a
    time, so two readers never try a token's PIN at once). ``inline``
    gives the key set a job row holds itself, for ``inline`` references.
    A set named per card (``${iccid}``) belongs to the thread that loaded
    it and is closed by :meth:`release` when its card is done (a token set
    holds a session with the token); the others live until :meth:`close`."""

    def __init__(self, inline: Optional[InlineKeys] = None) -> None:
        self._inline = inline
        self._loaded: Dict[Tuple[str, str, int], Keys] = {}
        self._cards: Dict[Tuple[str, int], List[Tuple[str, str, int]]] = {}
        self._lock = threading.Lock()   # the tables above
        # Token work, one at a time: opening or closing a set (so a PIN is
        # tried by one reader at a time), and rotations to sets the token
        # generates. SoftHSM2's file object store fails an object creation
        # that overlaps other sessions' work on the token (C_GenerateKey:
        # CKR_GENERAL_ERROR, a known race of SoftHSM2 2.6); every wait
        # ends with card work that is itself bounded.
        self._token = threading.Lock()
        self._stop: Optional[threading.Event] = None
        # Why no key set is loaded any more: a token refused its PIN.
        self.refused: Optional[str] = None

    def stop_with(self, event: threading.Event) -> None:
        """Set ``event`` (the station's stop) when a token refuses its PIN."""
        self._stop = event
        if self.refused is not None:
            event.set()

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
        # The same set as current and as new keys: two handles (only the
        # new one may generate). A card's own set is its thread's: two
        # cards with one ICCID never share a handle one of them closes.
        own = threading.get_ident() if per_card(ref) else 0
        slot = (name, "new_keys" if which == "new_keys" else "keys", own)
        with self._lock:
            keys = self._loaded.get(slot)
        if keys is not None:
            return keys
        with self._token:
            with self._lock:
                keys = self._loaded.get(slot)
            if keys is not None:   # loaded by another thread meanwhile
                return keys
            if self.refused is not None:
                raise KeyRefError(f"{which} {describe(name)}: not loaded, the station "
                                  f"stopped: {self.refused}", pin=True)
            try:
                keys = open_keys(name, slot[1])
            except KeyRefError as e:
                if not e.pin:
                    raise
                self.refused = str(e)
                if self._stop is not None:
                    self._stop.set()
                raise KeyRefError(f"{e}; the station stops (no other card tries the token)",
                                  pin=True) from None
            with self._lock:
                self._loaded[slot] = keys
                if own:
                    self._cards.setdefault((iccid, own), []).append(slot)
        return keys

    def generating(self, keys: Keys) -> ContextManager[object]:
        """Hold around a rotation to ``keys``: a set in a token, which the
        rotation may generate there, is made while no other set is opened,
        closed or made."""
        if keys.in_token:
            return self._token
        return contextlib.nullcontext()

    def release(self, iccid: str) -> None:
        """Close the key sets this thread loaded for card ``iccid`` alone."""
        with self._lock:
            slots = self._cards.pop((iccid, threading.get_ident()), [])
            sets = [k for k in (self._loaded.pop(s, None) for s in slots) if k is not None]
        if sets:
            with self._token:   # a session ends: not during a generation
                for keys in sets:
                    keys.close()

    def close(self) -> None:
        """Wipe every key set loaded here (inline ones belong to the job)."""
        with self._lock:
            for keys in self._loaded.values():
                keys.close()
            self._loaded.clear()
            self._cards.clear()

    def __enter__(self) -> "KeyLoader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
