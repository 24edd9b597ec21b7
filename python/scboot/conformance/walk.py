"""Step-by-step walk to the bootstrap file with the library's primitives.

The library's own read (Card.read_bootstrap) does the whole walk at once;
the suite repeats it one step at a time so that a failure names the step
and what the card answered there. Every step ends the test with
:func:`fault` when the card misbehaves.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, NoReturn, Optional, Tuple, Union

import pytest

import scboot
from scboot import pkcs15

EFDIR_FID = 0x2F00
ODF_FID = 0x5031
MAX_EF_SIZE = 32768


def fault(message: str) -> NoReturn:
    """Fail the test with a message about the card (no Python traceback,
    and not the library's exception it may be raised for: the message
    says what that was)."""
    raise pytest.fail.Exception(message, pytrace=False) from None


_MEANING = {
    scboot.RMacError: "the card's response MAC (R-MAC) does not verify: GP Amendment D "
                      "6.2.5 computes it as CMAC(S-RMAC, MCV || data || SW)",
    scboot.PaddingError: "the card's R-ENC plaintext does not end in 80 00.. padding "
                         "(GP Amendment D 6.2.7)",
}


def what(e: scboot.Error) -> str:
    """An error as the card's answer: SW and meaning, or the library's detail."""
    for cls, meaning in _MEANING.items():
        if isinstance(e, cls):
            return f"{meaning} ({e.detail})"
    if isinstance(e, scboot.CardStatusError) and e.sw:
        return f"SW {e.sw:04X} ({e.sw_text}); {e.detail}"
    return f"{e.detail or e} ({e.name})"


KeySource = Union[None, scboot.Keys, Callable[[], scboot.Keys]]


class CardWalk:
    """EF.DIR -> PKCS#15 ADF on a logical channel -> [SCP03] -> ODF -> DODF
    -> bootstrap EF, on one card connection.

    ``keys``: the card's key set, a function giving it when a step first
    needs it (the plugin's key check: the test is skipped or failed there
    when the keys do not open the card), or None (no secure channel).
    ``options``: library options for every session (``s16``). ``note``
    records what the card's policy does (reported, not a fault)."""

    def __init__(self, card: scboot.Card, keys: KeySource, level: int,
                 options: Optional[Dict[str, Any]] = None,
                 note: Optional[Callable[[str], None]] = None) -> None:
        self.card = card
        self._source = keys
        self._keys: Optional[scboot.Keys] = keys if isinstance(keys, scboot.Keys) else None
        self.level = level
        self.options: Dict[str, Any] = dict(options or {})
        self._note = note
        self.notes: List[str] = []

    @property
    def has_keys(self) -> bool:
        return self._source is not None

    @property
    def keys(self) -> scboot.Keys:
        """The card's key set (taken from the source on first use)."""
        if self._keys is None:
            if self._source is None or isinstance(self._source, scboot.Keys):
                raise RuntimeError("this walk has no keys")
            self._keys = self._source()
        return self._keys

    def policy(self, text: str) -> None:
        """Record something the card's policy does (not a fault)."""
        self.notes.append(text)
        if self._note is not None:
            self._note(text)

    def close(self) -> None:
        """Wipe keys this walk took from its source."""
        if self._keys is not None and self._keys is not self._source:
            self._keys.close()
        self._keys = None

    # ---- EF.DIR --------------------------------------------------------------
    def efdir_records(self) -> List[bytes]:
        card = self.card
        try:
            fcp = card.select_path(EFDIR_FID.to_bytes(2, "big"), from_mf=True)
        except scboot.Error as e:
            fault(f"EF.DIR (3F00/2F00) cannot be selected: {what(e)}. The card must list its "
                  "PKCS#15 application in EF.DIR (TS 102 221 13.1)")
        if fcp.structure != scboot.FileStructure.LINEAR_FIXED:
            fault(f"EF.DIR is {fcp.structure.name}, not a linear fixed file (TS 102 221 13.1)")
        records = []
        for n in range(1, fcp.record_count + 1):
            try:
                records.append(card.read_record(n))
            except scboot.Error as e:
                fault(f"READ RECORD {n} of EF.DIR ({fcp.record_count} records in its FCP) "
                      f"failed: {what(e)}")
        return records

    def application(self) -> scboot.AppTemplate:
        """The PKCS#15 template of EF.DIR."""
        problems = []
        records = self.efdir_records()
        for n, record in enumerate(records, 1):
            if not record or set(record) == {0xFF}:
                continue
            try:
                return pkcs15.parse_dir(record)
            except scboot.NotFoundError:
                continue
            except scboot.ParseError as e:
                problems.append(f"record {n}: {e.detail}")
        found = "; ".join(problems) if problems else f"{len(records)} record(s), none of them"
        fault(f"EF.DIR has no PKCS#15 application template "
              f"(61 {{ 4F {pkcs15.DEFAULT_AID.hex(' ').upper()} ... }}): {found}")

    # ---- the application -----------------------------------------------------
    def open_application(self, aid: Optional[bytes] = None) -> int:
        """MANAGE CHANNEL open, then SELECT the ADF on the new channel.
        Returns the channel."""
        if aid is None:
            aid = self.application().aid
        try:
            channel = self.card.open_channel()
        except scboot.Error as e:
            fault(f"MANAGE CHANNEL (open) failed: {what(e)}. LwM2M requires the PKCS#15 "
                  "application on a logical channel")
        if channel == 0:
            fault("MANAGE CHANNEL (open) returned channel 0")
        try:
            self.card.select_aid(aid)
        except scboot.Error as e:
            fault(f"SELECT of the PKCS#15 ADF {aid.hex().upper()} on logical channel {channel} "
                  f"failed: {what(e)}")
        return channel

    def secure(self, level: Optional[int] = None) -> scboot.ScpInfo:
        """SCP03 with the application's Security Domain (keys required)."""
        level = self.level if level is None else level
        keys = self.keys
        try:
            return self.card.open_scp03(keys, level, **self.options)
        except scboot.CardCryptogramError as e:
            fault(f"SCP03: the card's cryptogram does not verify with the given keys "
                  f"(kvn 0x{keys.kvn:02X}): {what(e)}. Wrong keys, or the card derives "
                  "its session keys differently from GP Amendment D (nothing was sent after "
                  "INITIALIZE UPDATE)")
        except scboot.Error as e:
            fault(f"SCP03 at level 0x{level:02X} failed: {what(e)}")

    def enter(self) -> None:
        """Application on a logical channel, secured when keys are given."""
        self.open_application()
        if self.has_keys:
            self.secure()

    # ---- files inside the application -----------------------------------------
    def select(self, path: bytes, what_file: str) -> scboot.Fcp:
        """SELECT a PKCS#15 Path inside the application as the library's
        read does (pkcs15.path_select: a FID relative to the ADF, 3F00...
        from the MF, 7FFF... from the current ADF)."""
        try:
            how = pkcs15.path_select(path)
        except scboot.ParseError as e:
            fault(f"the path of {what_file} ({path.hex().upper()}) is not a list of FIDs: "
                  f"{what(e)}")
        try:
            if how.fid is not None:
                return self.card.select_fid(how.fid)
            return self.card.select_path(how.path, from_mf=how.from_mf)
        except scboot.Error as e:
            fault(f"SELECT of {what_file} (path {path.hex().upper()}) failed: {what(e)}")

    def read(self, path: bytes, what_file: str) -> Tuple[scboot.Fcp, bytes]:
        fcp = self.select(path, what_file)
        if fcp.structure not in (scboot.FileStructure.TRANSPARENT, scboot.FileStructure.UNKNOWN):
            fault(f"{what_file} is {fcp.structure.name}, not a transparent EF")
        try:
            data = self.card.read_binary(min(fcp.file_size or 0, MAX_EF_SIZE))
        except scboot.Error as e:
            fault(f"READ BINARY of {what_file} (path {path.hex().upper()}) failed: {what(e)}")
        return fcp, data

    def dodf_paths(self) -> List[scboot.Path]:
        _, odf = self.read(ODF_FID.to_bytes(2, "big"), "EF.ODF (5031)")
        try:
            paths = pkcs15.parse_odf(odf)
        except scboot.ParseError as e:
            fault(f"EF.ODF is malformed: {e.detail}")
        if not paths:
            fault("EF.ODF has no dataObjects ([7], tag A7) entry pointing to an EF.DODF")
        return paths

    def bootstrap_entry(self) -> scboot.DodfEntry:
        problems = []
        for path in self.dodf_paths():
            _, dodf = self.read(path.path, f"EF.DODF {path.path.hex().upper()}")
            if path.length is not None:
                dodf = dodf[path.index or 0:(path.index or 0) + path.length]
            try:
                return pkcs15.find_bootstrap(dodf)
            except scboot.NoBootstrapError as e:
                problems.append(f"DODF {path.path.hex().upper()}: {e.detail}")
            except scboot.ParseError as e:
                fault(f"EF.DODF {path.path.hex().upper()} is malformed: {e.detail}")
        fault("no DODF holds the LwM2M bootstrap entry (OID 2.23.43.9.1): " + "; ".join(problems))

    def bootstrap_ef(self) -> Tuple[scboot.DodfEntry, scboot.Fcp, bytes]:
        entry = self.bootstrap_entry()
        fcp, data = self.read(entry.path.path, "the bootstrap EF")
        return entry, fcp, data
