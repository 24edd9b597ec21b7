"""Card: a connection to one card (PC/SC reader, virtual card, or any
Python transport), with its logical channel and secure channel."""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple, Union

from . import _scboot as _c
from ._bootstrap import Bootstrap
from ._errors import InvalidArgumentError, StateError, check, error_for
from ._keys import Keys
from ._types import AccessInfo, Fcp, Level, ScpInfo, TraceKind
from ._util import Closing, BytesLike, opt_bytes, to_bytes

__all__ = ["Card", "readers"]

TransmitFn = Callable[[bytes], bytes]
TraceFn = Callable[[TraceKind, str], Any]


def readers() -> List[Tuple[str, bool]]:
    """The PC/SC readers as ``(name, card_present)`` pairs."""
    rc, handle, detail = _c.scb_readers_list()
    check(rc, detail)
    try:
        return [(_c.scb_readers_name(handle, i), bool(_c.scb_readers_card_present(handle, i)))
                for i in range(_c.scb_readers_count(handle))]
    finally:
        _c.scb_readers_free(handle)


class Card(Closing):
    """A connection to one card.

    Make one with :meth:`open` (PC/SC), :meth:`sim` (the virtual card, in
    this process), :meth:`from_transmit` (any Python function that sends a
    command and returns the response) or :meth:`from_pyscard`. A card is a
    context manager; :meth:`close` releases it.

    Commands go to the card's current logical channel (see
    :meth:`open_channel`) and through the secure channel when one is open
    on it (see :meth:`open_scp03`). Card I/O runs without the GIL, so other
    Python threads keep running; a ``Card`` serialises its own use, but
    different cards are fully independent.
    """

    def __init__(self, handle: Any, *, callback: Any = None, owner: Any = None) -> None:
        """Internal: use the class methods."""
        self._h = None
        self._cb = callback          # scb_py_callback_t of a Python transport
        self._owner = owner          # keeps e.g. a virtual card alive
        self._trace = None           # scb_py_trace_t while a hook is set
        self._buf = bytearray(_c.SCB_BIND_BYTES_MAX)  # responses land here, under the card lock
        self._closing = threading.Lock()
        # The C handle behind a lock that keeps it to one call at a time
        # (scboot.h: one thread per handle); see bindings/python/scb_py.h.
        self._h = _c.scb_py_card_new(handle)

    # ---- construction -----------------------------------------------------
    @classmethod
    def open(cls, reader: Union[None, str, int] = None) -> "Card":
        """Connect through PC/SC. ``reader``: ``None`` = the first reader
        with a card; else an exact name, an index (int or decimal text), or
        a unique substring of a reader name."""
        rc, handle, detail = _c.scb_card_open_pcsc(None if reader is None else str(reader))
        check(rc, detail)
        return cls(handle)

    @classmethod
    def open_modem(cls, device: str, baud: int = 115200) -> "Card":
        """A UICC inside a cellular modem, through the modem's AT interface
        on a serial device (3GPP TS 27.007 AT+CSIM; AT+CCHO / AT+CGLA / AT+CCHC
        for logical channels when the modem refuses MANAGE CHANNEL). AT
        errors surface as :class:`TransportError` with the +CME ERROR number
        in the message."""
        rc, opts = _c.scb_opts_new()
        if rc == 0 and baud != 115200:
            rc = _c.scb_opts_set_int(opts, _c.SCB_OPT_BAUD, int(baud))
        if rc != 0:
            _c.scb_opts_free(opts)
            raise InvalidArgumentError(f"baud {baud}: expected 9600..4000000")
        rc, handle, detail = _c.scb_card_open_modem(str(device), opts)
        _c.scb_opts_free(opts)
        check(rc, detail)
        return cls(handle)

    @classmethod
    def from_transmit(cls, fn: TransmitFn, *, t0: bool = False,
                      extended_length: bool = False) -> "Card":
        """A card over a Python transport: ``fn(command: bytes) -> bytes``
        returns the response data followed by SW1 SW2.

        ``fn`` runs with the GIL held. An exception it raises ends the
        current operation and is re-raised, unchanged, to the caller of the
        card method. ``t0``: the path behaves like T=0 (case-4 responses come
        back as 61xx); ``extended_length``: it carries extended APDUs.
        """
        flags = (_c.SCB_TP_T0 if t0 else 0) | (_c.SCB_TP_EXTENDED_LENGTH if extended_length else 0)
        cb = _c.scb_py_callback_new(fn, flags)
        rc, handle = _c.scb_py_card_open_callback(cb)
        if rc < 0:
            _c.scb_py_callback_free(cb)
            check(rc)
        return cls(handle, callback=cb, owner=fn)

    @classmethod
    def from_pyscard(cls, connection: Any) -> "Card":
        """A card over a pyscard ``CardConnection`` (connected here if it
        is not yet). pyscard's exceptions reach the caller unchanged."""
        # Before connect() pyscard reports the protocols it may use (a mask),
        # after it the one negotiated.
        single = (connection.T0_protocol, connection.T1_protocol, connection.RAW_protocol)
        if connection.getProtocol() not in single:
            connection.connect()
        t0 = connection.getProtocol() == connection.T0_protocol

        def transmit(command: bytes) -> bytes:
            data, sw1, sw2 = connection.transmit(list(command))
            return bytes(data) + bytes((sw1, sw2))

        card = cls.from_transmit(transmit, t0=t0)
        card._owner = (transmit, connection)
        return card

    @classmethod
    def sim(cls, profile: Union[None, str, dict] = None) -> "Card":
        """A virtual card in this process (see :class:`scboot.sim.VirtualCard`
        for the profile: ``None`` = the built-in card, a dict or JSON text,
        or a profile file path)."""
        from .sim import VirtualCard
        return VirtualCard(profile).card()

    # ---- lifetime ----------------------------------------------------------
    def close(self) -> None:
        """Disconnect and free the handle (secure channel keys are wiped),
        after a call another thread has in flight. Safe to call twice."""
        with self._closing:
            h, self._h = self._h, None
            if h is None:
                return
            _c.scb_py_card_close(h)   # waits for a call in flight
            if self._cb is not None:
                _c.scb_py_callback_free(self._cb)
                self._cb = None
            if self._trace is not None:
                _c.scb_py_trace_free(self._trace)
                self._trace = None
            self._owner = None


    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._h is None

    def __repr__(self) -> str:
        if self._h is None:
            return "<scboot.Card closed>"
        reader = _c.scb_card_reader_name(self._h)
        where = f"reader {reader!r}" if reader else "in-process transport"
        return f"<scboot.Card {where}, channel {self.channel}>"

    # ---- errors ------------------------------------------------------------
    def _fail(self, rc: int) -> None:
        """Raise for rc from a call on this card: the Python transport's own
        exception first, else the library's error with its detail and SW."""
        if self._h is None:
            raise StateError("the card is closed")
        if self._cb is not None:
            exc = _c.scb_py_callback_take_error(self._cb)
            if exc is not None:
                raise exc
        raise error_for(rc, _c.scb_card_errmsg(self._h), _c.scb_card_last_sw(self._h))

    # ---- diagnostics -------------------------------------------------------
    @property
    def last_sw(self) -> int:
        """The last status word received (unwrapped), 0 if none."""
        return _c.scb_card_last_sw(self._h) if self._h is not None else 0

    @property
    def last_error(self) -> str:
        """Detail text of the last failure on this card ("" if none)."""
        return _c.scb_card_errmsg(self._h) if self._h is not None else ""

    @property
    def apdu_count(self) -> int:
        """APDUs exchanged on the wire so far (GET RESPONSE included)."""
        return _c.scb_card_apdu_count(self._h) if self._h is not None else 0

    @property
    def reader(self) -> Optional[str]:
        """The PC/SC reader name, None for other transports."""
        return _c.scb_card_reader_name(self._h) if self._h is not None else None

    def set_trace(self, fn: Optional[TraceFn]) -> None:
        """Call ``fn(kind, line)`` for every APDU and note (``None``
        removes the hook). Lines look like ``A>> 00 A4 ...`` on the wire
        and ``S>> ...`` for plaintext under secure messaging; commands and
        responses that carry secrets are masked by the library. ``fn`` runs
        with the GIL held; its exceptions are reported as unraisable, since
        they cannot stop the card operation."""
        old = self._trace
        new = None
        if fn is not None:
            new = _c.scb_py_trace_new(lambda kind, line: fn(TraceKind(kind), line))
        rc = _c.scb_py_card_set_trace(self._h, new)
        if rc < 0:
            if new is not None:
                _c.scb_py_trace_free(new)
            self._fail(rc)
        self._trace = new
        if old is not None:
            _c.scb_py_trace_free(old)

    @contextlib.contextmanager
    def transaction(self) -> Iterator["Card"]:
        """Exclusive access across several calls (a PC/SC transaction)."""
        rc = _c.scb_card_begin(self._h)
        if rc < 0:
            self._fail(rc)
        try:
            yield self
        finally:
            rc = _c.scb_card_end(self._h)
            if rc < 0:
                self._fail(rc)

    # ---- APDUs -------------------------------------------------------------
    def transmit(self, apdu: BytesLike) -> bytes:
        """Send one command APDU; return response data + SW1 SW2.

        The APDU goes to the current logical channel (its CLA gets the
        channel bits), is wrapped and its response unwrapped when a secure
        channel is open, 61xx is followed by GET RESPONSE and 6Cxx resent.
        Any status word is returned: the caller judges it."""
        if not isinstance(apdu, bytes):
            apdu = to_bytes(apdu, "apdu")
        rc, resp = _c.scb_card_transmit(self._h, apdu, self._buf)
        if rc:
            self._fail(rc)
        return resp

    def transmit_plain(self, apdu: BytesLike) -> bytes:
        """As :meth:`transmit`, but never through the secure channel."""
        rc, resp = _c.scb_card_transmit_plain(self._h, to_bytes(apdu, "apdu"),
                                              self._buf)
        if rc:
            self._fail(rc)
        return resp

    # ---- logical channels --------------------------------------------------
    def open_channel(self) -> int:
        """MANAGE CHANNEL open: the card assigns a channel, later commands
        go to it. Returns the channel number."""
        rc, channel = _c.scb_channel_open(self._h)
        if rc:
            self._fail(rc)
        return channel

    def close_channel(self) -> None:
        """Close the current channel (its secure channel first) and go back
        to the basic channel 0."""
        rc = _c.scb_channel_close(self._h)
        if rc:
            self._fail(rc)

    def select_channel(self, channel: int) -> None:
        """Switch to an already open channel."""
        rc = _c.scb_channel_select(self._h, channel)
        if rc:
            self._fail(rc)

    @property
    def channel(self) -> int:
        """The current logical channel."""
        return _c.scb_card_channel(self._h) if self._h is not None else 0

    # ---- files -------------------------------------------------------------
    def select_aid(self, aid: BytesLike, *, next_occurrence: bool = False) -> Fcp:
        """SELECT by DF name (AID); returns the FCP."""
        flags = _c.SCB_SEL_NEXT if next_occurrence else _c.SCB_SEL_FCP
        rc, fcp = _c.scb_select_aid(self._h, to_bytes(aid, "aid"), flags)
        if rc:
            self._fail(rc)
        return Fcp._from_c(fcp)

    def select_fid(self, fid: int) -> Fcp:
        """SELECT a file by its identifier; returns the FCP."""
        rc, fcp = _c.scb_select_fid(self._h, fid, _c.SCB_SEL_FCP)
        if rc:
            self._fail(rc)
        return Fcp._from_c(fcp)

    def select_path(self, path: BytesLike, *, from_mf: bool = True) -> Fcp:
        """SELECT by path (concatenated FIDs) from the MF or the current DF."""
        rc, fcp = _c.scb_select_path(self._h, to_bytes(path, "path"), int(from_mf),
                                     _c.SCB_SEL_FCP)
        if rc:
            self._fail(rc)
        return Fcp._from_c(fcp)

    def read_binary(self, size: int = 0) -> bytes:
        """Read the selected transparent EF from offset 0 (``size`` 0: up to
        where the card reports the end; at most 32 KB)."""
        rc, data = _c.scb_read_binary(self._h, size, self._buf)
        if rc:
            self._fail(rc)
        return data

    def read_record(self, record: int) -> bytes:
        """READ RECORD ``record`` (1-based) of the selected linear-fixed EF."""
        rc, data = _c.scb_read_record(self._h, record, self._buf)
        if rc:
            self._fail(rc)
        return data

    def update_binary(self, offset: int, data: BytesLike) -> None:
        """Write ``data`` at ``offset`` of the selected transparent EF."""
        rc = _c.scb_update_binary(self._h, offset, to_bytes(data, "data"))
        if rc:
            self._fail(rc)

    def verify_pin(self, ref: int, pin: BytesLike) -> None:
        """VERIFY PIN ``ref`` (a str PIN is sent as its ASCII digits)."""
        value = pin.encode("ascii") if isinstance(pin, str) else bytes(pin)
        rc = _c.scb_verify_pin(self._h, ref, value)
        if rc:
            self._fail(rc)

    def read_iccid(self) -> str:
        """The card's ICCID (EF.ICCID under the MF) as decimal digits."""
        rc, iccid = _c.scb_read_iccid(self._h)
        if rc:
            self._fail(rc)
        return iccid

    # ---- SCP03 -------------------------------------------------------------
    def open_scp03(self, keys: Keys, level: int = Level.DEFAULT,
                   host_challenge: Optional[BytesLike] = None,
                   sd_aid: Optional[BytesLike] = None, *, kvn: Optional[int] = None,
                   s16: bool = False, kdf3: bool = False, authenticate: bool = True,
                   count_data_only: bool = False, mac_cla_as_sent: bool = False) -> ScpInfo:
        """Open an SCP03 secure channel on the current logical channel with
        the Security Domain selected on it (INITIALIZE UPDATE, card
        cryptogram check, EXTERNAL AUTHENTICATE).

        ``level``: a :class:`Level` combination (0x01, 0x03, 0x11, 0x13,
        0x33). ``host_challenge``: fixed challenge (tests; default random).
        ``sd_aid``: the Security Domain AID, to verify a pseudo-random card
        challenge. ``kvn``: key version to ask for (default: the key set's).
        ``s16``: S16 mode; ``kdf3``: ``keys`` are master keys diversified
        with the card's KDD. ``authenticate=False`` stops after checking the
        card cryptogram: nothing is sent that a wrong key could make fail,
        and no session remains (a safe key check). ``count_data_only`` and
        ``mac_cla_as_sent`` adapt to cards that deviate from Amendment D.

        Returns what the card said (:class:`ScpInfo`). Wrong keys raise
        :class:`CardCryptogramError` before EXTERNAL AUTHENTICATE is sent.
        """
        flags = ((_c.SCB_SCP_S16 if s16 else 0) | (_c.SCB_SCP_KDF3 if kdf3 else 0)
                 | (0 if authenticate else _c.SCB_SCP_NO_EXTAUTH)
                 | (_c.SCB_SCP_COUNT_DATA_ONLY if count_data_only else 0)
                 | (_c.SCB_SCP_MAC_CLA_AS_SENT if mac_cla_as_sent else 0))
        hc = opt_bytes(host_challenge, "host_challenge")
        aid = opt_bytes(sd_aid, "sd_aid")
        rc = _c.scb_bind_scp03_open(self._h, keys._handle(), int(level),
                                    -1 if kvn is None else kvn, flags, hc, aid)
        if rc:
            self._fail(rc)
        return self._scp_info()

    def _scp_info(self) -> ScpInfo:
        rc, info = _c.scb_scp03_info(self._h)
        if rc:
            self._fail(rc)
        level = _c.scb_scp03_level(self._h)
        return ScpInfo._from_c(info, level if level >= 0 else None)

    def close_scp03(self) -> None:
        """Close the secure channel (wipes the session; sends nothing)."""
        rc = _c.scb_scp03_close(self._h)
        if rc:
            self._fail(rc)

    @property
    def scp03_level(self) -> Optional[int]:
        """The secure channel level in force, None when none is open."""
        if self._h is None:
            return None
        level = _c.scb_scp03_level(self._h)
        return level if level >= 0 else None

    @property
    def scp03_info(self) -> ScpInfo:
        """What the card said in the last INITIALIZE UPDATE."""
        return self._scp_info()

    def put_keys(self, new_keys: Keys, replace_kvn: int = 0, *, keys: Optional[Keys] = None,
                 level: int = Level.DEFAULT, aid: Optional[BytesLike] = None,
                 skip_efdir: bool = False, kdf3: bool = False) -> Optional[AccessInfo]:
        """PUT KEY: add ``new_keys`` (``replace_kvn`` 0) or replace the key
        set ``replace_kvn``; the keys travel encrypted under the static DEK
        and the card's KCVs are checked.

        With ``keys`` (the card's current keys) this is the whole job of
        ``scboot put-key``: open the PKCS#15 application with them (as
        :meth:`open_app`), PUT KEY, check the KCVs, prove the new keys by
        opening a session with them, close everything; returns what the
        access found (the same as :meth:`rotate_keys`). Without ``keys`` the
        command goes through the secure channel the caller opened (C-MAC
        at least) and nothing else happens; returns None."""
        if keys is not None:
            return self.rotate_keys(keys, new_keys, replace_kvn, level, aid=aid,
                                    skip_efdir=skip_efdir, kdf3=kdf3)
        rc = _c.scb_put_keys(self._h, new_keys._handle(), replace_kvn)
        if rc:
            self._fail(rc)
        return None

    # ---- the bootstrap job -------------------------------------------------
    @staticmethod
    def _access_flags(keys: Optional[Keys], skip_efdir: bool, logical_channel: bool) -> int:
        return ((_c.SCB_ACCESS_NO_SECURE_CHANNEL if keys is None else 0)
                | (_c.SCB_ACCESS_SKIP_EFDIR if skip_efdir else 0)
                | (0 if logical_channel else _c.SCB_ACCESS_NO_LOGICAL_CHANNEL))

    def read_bootstrap(self, keys: Optional[Keys] = None, level: int = Level.DEFAULT,
                       path: Optional[BytesLike] = None, *, aid: Optional[BytesLike] = None,
                       pin: Optional[BytesLike] = None, pin_ref: int = 0,
                       skip_efdir: bool = False, logical_channel: bool = True,
                       kdf3: bool = False) -> Bootstrap:
        """Read and decode the LwM2M bootstrap file: EF.DIR -> PKCS#15 ADF
        on a logical channel -> SCP03 (when ``keys`` are given) -> ODF ->
        DODF -> bootstrap EF. ``path`` (and ``aid``), as returned in
        ``Bootstrap.access``, skip the directory walk. ``keys=None`` reads
        without a secure channel."""
        flags = self._access_flags(keys, skip_efdir, logical_channel)
        pin_b = pin.encode("ascii") if isinstance(pin, str) else opt_bytes(pin, "pin", True)
        rc, bs, info = _c.scb_bind_read_bootstrap(
            self._h, keys._handle() if keys is not None else None, flags, int(level),
            _c.SCB_SCP_KDF3 if kdf3 else 0, opt_bytes(path, "path"),
            opt_bytes(aid, "aid"), pin_b, pin_ref)
        if rc:
            self._fail(rc)
        return Bootstrap._adopt(bs, AccessInfo._from_c(info))

    def write_bootstrap(self, data: Union[Bootstrap, Mapping[str, Any], BytesLike], keys: Keys,
                        level: int = Level.DEFAULT, path: Optional[BytesLike] = None, *,
                        aid: Optional[BytesLike] = None, pad: bool = False,
                        verify: bool = True, skip_efdir: bool = False,
                        kdf3: bool = False) -> AccessInfo:
        """Write a bootstrap file to the card's bootstrap EF inside a secure
        channel of at least C-DEC + C-MAC, then read it back to verify
        (unless ``verify`` is False). ``data``: a :class:`Bootstrap`, a dict
        in its JSON model (what ``to_dict(secrets=True)`` gives; invalid
        fields raise :class:`ValidationError` naming the field and the
        reason), or the file's bytes. ``pad`` fills the rest of the EF with
        FF. Data larger than the EF (or 32 KB) is refused before anything is
        written; a write that breaks off raises :class:`WriteError`: the
        card holds a partial file and needs provisioning again."""
        if isinstance(data, Mapping):
            with Bootstrap(data) as model:
                raw = model.encode()
        else:
            raw = data.encode() if isinstance(data, Bootstrap) else to_bytes(data, "data")
        flags = (self._access_flags(keys, skip_efdir, True)
                 | (_c.SCB_ACCESS_PAD_FF if pad else 0)
                 | (0 if verify else _c.SCB_ACCESS_NO_VERIFY))
        rc, info = _c.scb_bind_write_bootstrap(
            self._h, keys._handle(), flags, int(level), _c.SCB_SCP_KDF3 if kdf3 else 0,
            opt_bytes(path, "path"), opt_bytes(aid, "aid"), raw)
        if rc:
            self._fail(rc)
        return AccessInfo._from_c(info)

    def rotate_keys(self, keys: Keys, new_keys: Keys, replace_kvn: int = 0,
                    level: int = Level.DEFAULT, *, aid: Optional[BytesLike] = None,
                    skip_efdir: bool = False, kdf3: bool = False) -> AccessInfo:
        """Key rotation in one call: open the application with ``keys``,
        PUT KEY ``new_keys`` (added, or replacing the set ``replace_kvn``),
        check the card's KCVs, prove the new keys with a fresh handshake,
        close everything. The same as ``put_keys(new_keys, replace_kvn,
        keys=keys, ...)``."""
        flags = self._access_flags(keys, skip_efdir, True)
        rc, info = _c.scb_bind_rotate_keys(
            self._h, keys._handle(), flags, int(level), _c.SCB_SCP_KDF3 if kdf3 else 0,
            opt_bytes(aid, "aid"), new_keys._handle(), replace_kvn)
        if rc:
            self._fail(rc)
        return AccessInfo._from_c(info)

    def open_app(self, keys: Optional[Keys] = None, level: int = Level.DEFAULT, *,
                 aid: Optional[BytesLike] = None, skip_efdir: bool = False,
                 logical_channel: bool = True, kdf3: bool = False) -> AccessInfo:
        """Open the PKCS#15 application as a bootstrap read does (EF.DIR or
        ``aid``, a logical channel, SELECT, SCP03 with ``keys``): later
        commands go to it, secured. Undo with :meth:`close_app`."""
        flags = self._access_flags(keys, skip_efdir, logical_channel)
        rc, info = _c.scb_bind_app_open(
            self._h, keys._handle() if keys is not None else None, flags, int(level),
            _c.SCB_SCP_KDF3 if kdf3 else 0, opt_bytes(aid, "aid"))
        if rc:
            self._fail(rc)
        return AccessInfo._from_c(info)

    def close_app(self) -> None:
        """Close the secure channel and the logical channel of :meth:`open_app`."""
        rc = _c.scb_app_close(self._h)
        if rc:
            self._fail(rc)

    # ---- measurement -------------------------------------------------------
    def _transmit_loop(self, apdu: bytes, n: int) -> None:
        """n transmits in a C loop: the reference for binding overhead."""
        rc = _c.scb_bind_transmit_loop(self._h, apdu, n)
        if rc:
            self._fail(rc)

