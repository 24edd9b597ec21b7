"""The library's PKCS#15 parsers (ISO/IEC 7816-15 as LwM2M uses it): EF.DIR
records, EF.ODF, EF.DODF. Malformed input raises :class:`scboot.ParseError`
whose detail says what and where."""
from __future__ import annotations

from typing import List, Tuple

from . import _scboot as _c
from ._errors import check
from ._types import AppTemplate, DodfEntry, Path
from ._util import BytesLike, to_bytes

__all__ = ["DEFAULT_AID", "DATA_OBJECTS", "parse_dir", "parse_odf", "parse_odf_entries",
           "find_bootstrap"]

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
