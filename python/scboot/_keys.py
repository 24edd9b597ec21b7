"""SCP03 static key sets and key check values."""
from __future__ import annotations

from typing import Any, Optional

from . import _scboot as _c
from ._errors import StateError, check
from ._util import Closing, BytesLike, opt_bytes, to_bytes

__all__ = ["Keys", "kcv"]

_KEY_TYPES = {"enc": _c.SCB_KEY_ENC, "mac": _c.SCB_KEY_MAC, "dek": _c.SCB_KEY_DEK}


def kcv(key: BytesLike) -> bytes:
    """Key check value of an AES key: the first 3 bytes of AES-ECB(key, 16 x 01)."""
    rc, value = _c.scb_kcv(to_bytes(key, "key"))
    check(rc, "key must be 16, 24 or 32 bytes")
    return value


class Keys(Closing):
    """An SCP03 static key set: Key-ENC, Key-MAC, optional Key-DEK (needed
    for PUT KEY), all AES-128/192/256 of one length, and the key version
    number ``kvn`` (0 = the card's default).

    Keys are given as bytes or hex text. The key material lives only inside
    the library (wiped when the set is closed or collected); it is never
    shown by ``repr`` or in error messages. Use :meth:`kcv` to identify keys.
    """

    def __init__(self, enc: BytesLike, mac: BytesLike, dek: Optional[BytesLike] = None,
                 kvn: int = 0) -> None:
        if not 0 <= kvn <= 0xFF:
            raise ValueError(f"kvn must be 0..255, got {kvn}")
        rc, handle = _c.scb_bind_keys_new(to_bytes(enc, "enc"),
                                          to_bytes(mac, "mac"),
                                          opt_bytes(dek, "dek"), kvn)
        check(rc, "keys must be 16, 24 or 32 bytes each, all of the same length")
        self._h: Any = handle

    @classmethod
    def _adopt(cls, handle: Any) -> "Keys":
        keys = cls.__new__(cls)
        keys._h = handle
        return keys

    @classmethod
    def from_json(cls, text: str, *, pin: Optional[str] = None) -> "Keys":
        """A key set from JSON: ``{"enc": hex, "mac": hex, "dek": hex,
        "kvn": int}`` (the format the command line and the pytest plugin
        read; ``dek`` optional), or ``{"pkcs11": URI, "kvn": int}`` for keys
        in a PKCS#11 token (PIN: ``pin``, else the URI's pin-source; see
        :meth:`from_pkcs11`)."""
        if pin is None:
            rc, handle, detail = _c.scbj_keys_from_json(text)
        else:
            rc, handle, detail = _c.scbj_keys_from_json_ex(text, pin, 0)
        check(rc, detail)
        return cls._adopt(handle)

    @classmethod
    def from_pkcs11(cls, uri: str, pin: Optional[str] = None, *, kvn: int = 0,
                    generate: bool = False, length: int = 16) -> "Keys":
        """A key set in a PKCS#11 token: the AES secret keys labelled
        ``NAME/enc``, ``NAME/mac`` and ``NAME/dek`` named by an RFC 7512 URI
        ``pkcs11:token=LABEL;object=NAME?module-path=PATH&pin-source=file:PATH``
        (without module-path / module-name: p11-kit's configured modules).

        ``pin``: the token's user PIN; None takes the URI's pin-source or
        pin-value. The key bytes never enter this process: SCP03 asks the
        token for every operation with them. ``generate=True`` names a set
        that does not exist yet: the :meth:`Card.rotate_keys` /
        :meth:`Card.put_keys` that first uses it generates it in the token
        (``length`` 16 or 32 bytes), wrapped once under the card's DEK.
        Failures raise :class:`KeystoreError` (its ``name`` says which)."""
        if not 0 <= kvn <= 0xFF:
            raise ValueError(f"kvn must be 0..255, got {kvn}")
        sizes = {16: 0, 24: _c.SCB_P11_AES192, 32: _c.SCB_P11_AES256}
        if length not in sizes:
            raise ValueError(f"length must be 16, 24 or 32, got {length}")
        flags = (_c.SCB_P11_GENERATE | sizes[length]) if generate else 0
        rc, handle, detail = _c.scb_keys_open_pkcs11(uri, kvn, pin, flags)
        check(rc, detail)
        return cls._adopt(handle)

    @classmethod
    def load(cls, path: str) -> "Keys":
        """A key set from a JSON file (see :meth:`from_json`)."""
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())

    def _handle(self) -> Any:
        if self._h is None:
            raise StateError("the key set is closed")
        return self._h

    def close(self) -> None:
        """Wipe and free the key material. Safe to call twice."""
        h, self._h = self._h, None
        if h is not None:
            _c.scb_keys_free(h)


    @property
    def kvn(self) -> int:
        """Key version number."""
        return _c.scb_keys_kvn(self._handle())

    @property
    def key_length(self) -> int:
        """Length of each key in bytes (16, 24 or 32)."""
        return _c.scb_keys_length(self._handle())

    @property
    def in_token(self) -> bool:
        """True for keys held in a PKCS#11 token (:meth:`from_pkcs11`)."""
        return bool(_c.scb_keys_in_token(self._handle()))

    @property
    def has_dek(self) -> bool:
        """True when the set holds a Key-DEK."""
        return bool(_c.scb_keys_has_dek(self._handle()))

    def kcv(self, which: str = "enc") -> bytes:
        """Key check value of one key of the set: ``"enc"``, ``"mac"`` or ``"dek"``."""
        try:
            key_type = _KEY_TYPES[which]
        except KeyError:
            raise ValueError(f"which must be 'enc', 'mac' or 'dek', not {which!r}") from None
        rc, value = _c.scb_keys_kcv(self._handle(), key_type)
        check(rc, f"no {which} key in the set")
        return value

    def diversify_kdf3(self, kdd: BytesLike) -> "Keys":
        """Card keys derived from these master keys with KDF3 (GPPro) and the
        card's 10-byte key diversification data (``ScpInfo.kdd``)."""
        rc, handle = _c.scb_keys_diversify_kdf3(self._handle(), to_bytes(kdd, "kdd"))
        check(rc, "kdd must be 10 bytes")
        return Keys._adopt(handle)

    def __repr__(self) -> str:
        if self._h is None:
            return "<scboot.Keys closed>"
        dek = ", DEK" if self.has_dek else ""
        where = ", in a token" if self.in_token else ""
        return f"<scboot.Keys kvn=0x{self.kvn:02X} AES-{self.key_length * 8}{dek}{where}>"
