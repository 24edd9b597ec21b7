"""The library's PKCS#15 parsers (ISO/IEC 7816-15 as LwM2M uses it): EF.DIR
records, EF.ODF, EF.DODF, EF.AODF. Malformed input raises :class:`scboot.ParseError`
whose detail says what and where."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from . import _scboot as _c
from ._errors import check
from ._types import AppTemplate, DodfEntry, Path, PinObject, PinType
from ._util import BytesLike, to_bytes

__all__ = ["DEFAULT_AID", "DATA_OBJECTS", "parse_dir", "parse_odf", "parse_odf_entries",
           "find_bootstrap", "find_pin", "PinObject", "PinType", "PathSelect", "path_select"]

#: The PKCS#15 application identifier A0 00 00 00 63 50 4B 43 53 2D 31 35.
DEFAULT_AID: bytes = _c.scb_bind_pkcs15_default_aid()

#: ODF tag of the dataObjects entry ([7]).
DATA_OBJECTS = 0xA7

# More entries than this in one ODF would be a hostile file.
_MAX_ENTRIES = 64


def parse_dir(data: BytesLike) -> AppTemplate:
    """The PKCS#15 application template of an EF.DIR record (or a whole
    transparent EF.DIR). :class:`scboot.NotFoundError` when there is none."""
    rc, template, detail = _c.scb_pkcs15_parse_dir(to_bytes(data, "data"))
    check(rc, detail)
    return AppTemplate._from_c(template)


def parse_odf(data: BytesLike) -> List[Path]:
    """The paths of the ODF's dataObjects ([7]) entries, in file order."""
    return [path for tag, path in parse_odf_entries(data) if tag == DATA_OBJECTS]


def parse_odf_entries(data: BytesLike) -> List[Tuple[int, Path]]:
    """Every ODF entry that holds a Path, as (tag, path), in file order
    (tag A0 privateKeys .. A7 dataObjects, A8 authObjects)."""
    entries = _c.new_scb_odf_entry_array(_MAX_ENTRIES)
    try:
        rc, count, detail = _c.scb_pkcs15_parse_odf_entries(to_bytes(data, "data"), entries,
                                                            _MAX_ENTRIES)
        check(rc, detail or f"more than {_MAX_ENTRIES} ODF entries")
        out = []
        for i in range(count):
            entry = _c.scb_odf_entry_array_getitem(entries, i)
            out.append((entry.tag, Path._from_c(entry.path)))
        return out
    finally:
        _c.delete_scb_odf_entry_array(entries)


def find_bootstrap(data: BytesLike) -> DodfEntry:
    """The LwM2M bootstrap entry (OID 2.23.43.9.1, either encoding) of an
    EF.DODF. :class:`scboot.NoBootstrapError` when there is none."""
    rc, entry, detail = _c.scb_pkcs15_find_bootstrap(to_bytes(data, "data"))
    check(rc, detail)
    return DodfEntry._from_c(entry)


def find_pin(data: BytesLike, auth_id: Optional[BytesLike] = None) -> PinObject:
    """The PIN object of an EF.AODF whose authId is ``auth_id`` (None: the
    first PIN object), e.g. the one a private DODF entry's ``auth_id``
    names. :class:`scboot.NotFoundError` when there is none,
    :class:`scboot.ParseError` when that object is malformed."""
    aid = None if auth_id is None else to_bytes(auth_id, "auth_id")
    rc, obj, detail = _c.scb_pkcs15_find_pin(to_bytes(data, "data"), aid)
    check(rc, detail)
    return PinObject._from_c(obj)


@dataclass(frozen=True)
class PathSelect:
    """How to SELECT a PKCS#15 Path from inside the application: by FID
    (``fid`` set), else by ``path`` from the MF (``from_mf``) or from the
    current DF."""
    fid: Optional[int]
    path: bytes
    from_mf: bool


def path_select(path: BytesLike) -> PathSelect:
    """The library's resolution of a PKCS#15 Path (the one its bootstrap
    read uses): a 2-byte FID is relative to the ADF, a leading 7FFF (the
    current application) is dropped, 3F00... starts at the MF, anything
    else is relative to the current DF. :class:`scboot.ParseError` when the
    bytes are not a list of FIDs."""
    raw = to_bytes(path, "path")
    rc, how = _c.scb_pkcs15_path_select(raw)
    check(rc, f"a path of {len(raw)} bytes is not a list of 1..8 FIDs")
    if how.by_fid:
        return PathSelect(fid=how.fid, path=b"", from_mf=False)
    return PathSelect(fid=None, path=how.path[:how.path_len], from_mf=bool(how.from_mf))
