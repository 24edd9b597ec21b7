"""Plain result records built from the library's C structs."""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, ClassVar, Optional, Tuple, Union

from . import _scboot as _c

__all__ = ["Level", "FileStructure", "OidForm", "TraceKind", "Fcp", "ScpInfo", "AccessInfo",
           "Path", "AppTemplate", "DodfEntry", "PinType", "PinObject"]


class Level(enum.IntFlag):
    """SCP03 security level (EXTERNAL AUTHENTICATE P1)."""
    NONE = _c.SCB_SL_NONE
    C_MAC = _c.SCB_SL_CMAC
    C_DEC = _c.SCB_SL_CDEC
    R_MAC = _c.SCB_SL_RMAC
    R_ENC = _c.SCB_SL_RENC
    DEFAULT = _c.SCB_SL_DEFAULT  # C-DEC + R-ENC + C-MAC + R-MAC (LwM2M Appendix H)


class FileStructure(enum.IntEnum):
    """EF structure from the FCP."""
    UNKNOWN = _c.SCB_FS_UNKNOWN
    TRANSPARENT = _c.SCB_FS_TRANSPARENT
    LINEAR_FIXED = _c.SCB_FS_LINEAR_FIXED
    CYCLIC = _c.SCB_FS_CYCLIC
    DF = _c.SCB_FS_DF


class OidForm(enum.IntEnum):
    """How a card encodes the LwM2M bootstrap OID in its DODF entry."""
    NONE = _c.SCB_OID_NONE
    DO_ID = _c.SCB_OID_DO_ID
    DO_ID_MISENCODED = _c.SCB_OID_DO_ID_MISENCODED
    APPLICATION_OID = _c.SCB_OID_APPLICATION_OID
    APPLICATION_OID_MISENCODED = _c.SCB_OID_APPLICATION_OID_MISENCODED

    @property
    def misencoded(self) -> bool:
        """The spec example's doubled encoding (06 06 06 04 67 2B 09 01)."""
        return self in (OidForm.DO_ID_MISENCODED, OidForm.APPLICATION_OID_MISENCODED)


class TraceKind(enum.IntEnum):
    """What a trace line shows (see :meth:`Card.set_trace`)."""
    WIRE_CMD = _c.SCB_TRACE_WIRE_CMD
    WIRE_RESP = _c.SCB_TRACE_WIRE_RESP
    PLAIN_CMD = _c.SCB_TRACE_PLAIN_CMD
    PLAIN_RESP = _c.SCB_TRACE_PLAIN_RESP
    NOTE = _c.SCB_TRACE_NOTE


class _Record:
    """repr of the records below: byte strings (AIDs, paths, KDD) as hex,
    the way the library, the command line and the specifications write
    them; key versions, levels and the like (``_hex_ints``) as 0x.. ."""

    _hex_ints: ClassVar[Tuple[str, ...]] = ()

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bytes):
                shown = value.hex().upper()
            elif f.name in self._hex_ints and isinstance(value, int):
                shown = f"0x{value:02X}"
            else:
                shown = repr(value)
            parts.append(f"{f.name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclass(frozen=True, repr=False)
class Fcp(_Record):
    """File control parameters returned by SELECT (TS 102 221 11.1.1.4)."""
    _hex_ints = ("fid", "lcs")
    fid: int
    structure: FileStructure
    file_size: Optional[int]
    record_len: int
    record_count: int
    aid: bytes
    lcs: int

    @classmethod
    def _from_c(cls, f: Any) -> "Fcp":
        return cls(fid=f.fid, structure=FileStructure(f.structure),
                   file_size=f.file_size if f.has_size else None,
                   record_len=f.record_len, record_count=f.record_count,
                   aid=f.aid[:f.aid_len], lcs=f.lcs)


@dataclass(frozen=True, repr=False)
class ScpInfo(_Record):
    """What the card said in INITIALIZE UPDATE, and the level in force."""
    _hex_ints = ("kvn", "i_param", "level")
    kdd: bytes
    kvn: int
    i_param: int
    s16: bool
    sequence_counter: Optional[int]
    challenge_verified: bool
    level: Optional[int]

    @classmethod
    def _from_c(cls, i: Any, level: Optional[int]) -> "ScpInfo":
        seq = int.from_bytes(i.seq_counter, "big") if i.has_seq_counter else None
        return cls(kdd=bytes(i.kdd), kvn=i.kvn, i_param=i.i_param, s16=bool(i.s16),
                   sequence_counter=seq, challenge_verified=bool(i.challenge_verified),
                   level=level)


@dataclass(frozen=True, repr=False)
class Path(_Record):
    """A PKCS#15 Path: file path bytes, with an optional index/length range."""
    path: bytes
    index: Optional[int] = None
    length: Optional[int] = None

    @classmethod
    def _from_c(cls, p: Any) -> "Path":
        if p.has_range:
            return cls(p.bytes[:p.len], p.index, p.length)
        return cls(p.bytes[:p.len])


@dataclass(frozen=True, repr=False)
class AppTemplate(_Record):
    """The PKCS#15 application template found in EF.DIR."""
    aid: bytes
    path: Optional[Path]
    label: str

    @classmethod
    def _from_c(cls, t: Any) -> "AppTemplate":
        path = Path._from_c(t.path) if t.path.len else None
        return cls(aid=t.aid[:t.aid_len], path=path, label=t.label)


@dataclass(frozen=True, repr=False)
class DodfEntry(_Record):
    """The LwM2M bootstrap entry of an EF.DODF."""
    path: Path
    oid_form: OidForm
    oid_value: bytes
    label: str
    private: bool
    modifiable: bool
    auth_id: Optional[bytes]

    @classmethod
    def _from_c(cls, e: Any) -> "DodfEntry":
        return cls(path=Path._from_c(e.path), oid_form=OidForm(e.oid_form),
                   oid_value=e.oid_value[:e.oid_value_len], label=e.label,
                   private=bool(e.private_flag), modifiable=bool(e.modifiable_flag),
                   auth_id=e.auth_id[:e.auth_id_len] if e.has_auth_id else None)


class PinType(enum.IntEnum):
    """PKCS#15 PinType: how the PIN's characters are encoded on the card."""
    BCD = _c.SCB_PIN_TYPE_BCD
    ASCII_NUMERIC = _c.SCB_PIN_TYPE_ASCII_NUMERIC
    UTF8 = _c.SCB_PIN_TYPE_UTF8
    HALF_NIBBLE_BCD = _c.SCB_PIN_TYPE_HALF_NIBBLE_BCD
    ISO9564_1 = _c.SCB_PIN_TYPE_ISO9564_1


# PinFlags by name: named bit n of the BIT STRING is 1 << n.
_PIN_FLAGS = (("case_sensitive", _c.SCB_PIN_FLAG_CASE_SENSITIVE),
              ("local", _c.SCB_PIN_FLAG_LOCAL),
              ("change_disabled", _c.SCB_PIN_FLAG_CHANGE_DISABLED),
              ("unblock_disabled", _c.SCB_PIN_FLAG_UNBLOCK_DISABLED),
              ("initialized", _c.SCB_PIN_FLAG_INITIALIZED),
              ("needs_padding", _c.SCB_PIN_FLAG_NEEDS_PADDING),
              ("unblocking_pin", _c.SCB_PIN_FLAG_UNBLOCKING_PIN),
              ("so_pin", _c.SCB_PIN_FLAG_SO_PIN))


@dataclass(frozen=True, repr=False)
class PinObject(_Record):
    """A PIN object of an EF.AODF (PKCS#15 PinAttributes). ``pin_type`` is a
    :class:`PinType`, or the card's own int for a later value; ``flags`` the
    raw PinFlags bits, ``flag_names`` the named ones set; absent optional
    fields are None (``reference`` is 0, its DEFAULT, when absent)."""
    _hex_ints = ("reference",)
    label: str
    auth_id: bytes
    flags: int
    pin_type: Union[PinType, int]
    min_length: int
    stored_length: int
    max_length: Optional[int]
    reference: int
    pad_char: Optional[int]
    path: Optional[Path]

    @property
    def flag_names(self) -> Tuple[str, ...]:
        return tuple(name for name, bit in _PIN_FLAGS if self.flags & bit)

    @classmethod
    def _from_c(cls, o: Any) -> "PinObject":
        try:
            pin_type: Union[PinType, int] = PinType(o.pin_type)
        except ValueError:
            pin_type = o.pin_type
        return cls(label=o.label, auth_id=o.auth_id[:o.auth_id_len], flags=o.flags,
                   pin_type=pin_type, min_length=o.min_length, stored_length=o.stored_length,
                   max_length=o.max_length if o.has_max_length else None,
                   reference=o.reference if o.has_reference else 0,
                   pad_char=o.pad_char if o.has_pad_char else None,
                   path=Path._from_c(o.path) if o.path.len else None)


@dataclass(frozen=True, repr=False)
class AccessInfo(_Record):
    """What a bootstrap read or write found on the way: pass ``path`` and
    ``aid`` back to skip EF.DIR, ODF and DODF next time. ``scp_level``:
    the secure channel level in force (None: none); ``s16``: its mode
    (True S16, False S8, None without a secure channel), the card's unless
    the option ``s16`` forced it."""
    _hex_ints = ("scp_level",)
    used_efdir: bool
    aid: bytes
    channel: int
    oid_form: OidForm
    path: bytes
    ef_size: Optional[int]
    scp_level: Optional[int]
    s16: Optional[bool]
    apdus: int
    label: str

    @classmethod
    def _from_c(cls, i: Any) -> "AccessInfo":
        return cls(used_efdir=bool(i.used_efdir), aid=i.aid[:i.aid_len], channel=i.channel,
                   oid_form=OidForm(i.oid_form), path=i.path[:i.path_len],
                   ef_size=i.ef_size or None,
                   scp_level=i.scp_level if i.scp_level >= 0 else None,
                   s16=bool(i.s16) if i.scp_level >= 0 else None,
                   apdus=i.apdus, label=i.label)
