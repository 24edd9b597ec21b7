"""Card: a connection to one card (PC/SC reader, virtual card, or any
Python transport), with its logical channel and secure channel."""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from . import _scboot as _c
from ._bootstrap import Bootstrap
from ._errors import InvalidArgumentError, StateError, check, error_for
from ._keys import Keys
from ._opts import OptionValue, c_options
from ._types import AccessInfo, Fcp, ScpInfo, TraceKind
from ._util import Closing, BytesLike, to_bytes

__all__ = ["Card", "readers"]

TransmitFn = Callable[[bytes], bytes]
TraceFn = Callable[[TraceKind, str], Any]


def _handle(keys: Optional[Keys], what: str = "keys") -> Any:
    """The C key set of keys (None: no keys). Anything but a Keys is a
    TypeError naming the argument (never its value: hex text given where
    a key set belongs may well be a key)."""
    if keys is None:
        return None
    if not isinstance(keys, Keys):
        raise TypeError(f"{what} must be a scboot.Keys, not {type(keys).__name__}: "
                        f"make one with scboot.Keys(enc=..., mac=..., dek=..., kvn=...) or "
                        f"Keys.load(path)")
    return keys._handle()


def readers() -> List[Tuple[str, bool]]:
    """The PC/SC readers as ``(name, card_present)`` pairs."""
    rc, handle, detail = _c.scb_readers_list()
    check(rc, detail)
    try:
        return [(_c.scb_readers_name(handle, i), bool(_c.scb_readers_card_present(handle, i)))
                for i in range(_c.scb_readers_count(handle))]
    finally:
        _c.scb_readers_free(handle)


#: The library's default bound on a call that talks to the card, seconds.
DEFAULT_TIMEOUT: float = _c.SCB_DEFAULT_TIMEOUT_MS / 1000.0


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
        self._h: Any = None
        self._cb: Any = callback     # scb_py_callback_t of a Python transport
        self._owner: Any = owner     # keeps e.g. a virtual card alive
        self._trace: Any = None      # scb_py_trace_t while a hook is set
        self._buf = bytearray(_c.SCB_BIND_BYTES_MAX)  # responses land here, under the card lock
        self._closing = threading.Lock()
        # The C handle behind a lock that keeps it to one call at a time
        # (scboot.h: one thread per handle); see bindings/python/scb_py.h.
        self._h = _c.scb_py_card_new(handle)

    # ---- construction -----------------------------------------------------
    @classmethod
    def open(cls, reader: Union[None, str, int] = None, *,
             timeout: Optional[float] = DEFAULT_TIMEOUT) -> "Card":
        """Connect through PC/SC. ``reader``: ``None`` = the first reader
        with a card; else an exact name, an index (int or decimal text), or
        a unique substring of a reader name. ``timeout``: see
        :attr:`timeout`."""
        rc, handle, detail = _c.scb_card_open_pcsc(None if reader is None else str(reader))
        check(rc, detail)
        card = cls(handle)
        card.timeout = timeout
        return card

    @classmethod
    def open_modem(cls, device: str, baud: Optional[int] = None, **opts: OptionValue) -> "Card":
        """A UICC inside a cellular modem, through the modem's AT interface
        on a serial device (3GPP TS 27.007 AT+CSIM; AT+CCHO / AT+CGLA / AT+CCHC
        for logical channels when the modem refuses MANAGE CHANNEL). ``opts``:
        the library's modem options (``rtscts``, ``modem_channels="cgla"``,
        ``modem_timeout_ms``, ``modem_no_init``, ``extended_length``; see
        :mod:`scboot._opts` for the value types). AT errors surface as
        :class:`TransportError` with the +CME ERROR number in the message."""
        with c_options(dict(opts, baud=baud)) as o:
            rc, handle, detail = _c.scb_card_open_modem(str(device), o)
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
    def sim(cls, profile: Union[None, str, Mapping[str, Any]] = None) -> "Card":
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
    def timeout(self) -> Optional[float]:
        """The bound, in seconds, on every call that talks to the card (a
        whole read, all its APDUs): past it the call raises
        :class:`TransportTimeoutError` naming the step. A PC/SC card that
        stops answering mid-APDU leaves the card unusable afterwards (open
        it again). ``None``: no bound. Default 30 s."""
        ms = _c.scb_card_timeout(self._h) if self._h is not None else 0
        return ms / 1000.0 if ms else None

    @timeout.setter
    def timeout(self, seconds: Optional[float]) -> None:
        if seconds is not None and (isinstance(seconds, bool) or
                                    not isinstance(seconds, (int, float))):
            raise TypeError(f"timeout must be seconds (a number) or None, not "
                            f"{type(seconds).__name__}")
        if seconds is not None and not 0 < seconds <= 86400:
            raise InvalidArgumentError("timeout must be 0 < seconds <= 86400, or None")
        if self._h is None:
            raise StateError("the card is closed")
        check(_c.scb_card_set_timeout(self._h, 0 if seconds is None
                                      else max(1, round(seconds * 1000))))

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
            hook: TraceFn = fn
            new = _c.scb_py_trace_new(lambda kind, line: hook(TraceKind(kind), line))
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
    def open_channel(self, aid: Optional[BytesLike] = None) -> int:
        """MANAGE CHANNEL open: the card assigns a channel, later commands
        go to it. Returns the channel number. With ``aid``, the channel
        opens with that application selected on it, the transport's own
        way when it has one (a modem's AT+CCHO: the only way on a modem
        that cannot send MANAGE CHANNEL); an unknown application raises
        :class:`NotFoundError` and leaves nothing open."""
        if aid is None:
            rc, channel = _c.scb_channel_open(self._h)
        else:
            rc, channel = _c.scb_channel_open_app(self._h, to_bytes(aid, "aid"))
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
        try:
            value = pin.encode("ascii") if isinstance(pin, str) else bytes(pin)
        except UnicodeEncodeError:   # its text would quote the PIN
            raise ValueError("pin: not ASCII text (a PIN is digits)") from None
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
    def open_scp03(self, keys: Keys, level: Optional[int] = None,
                   host_challenge: Optional[BytesLike] = None,
                   sd_aid: Optional[BytesLike] = None, **opts: OptionValue) -> ScpInfo:
        """Open an SCP03 secure channel on the current logical channel with
        the Security Domain selected on it (INITIALIZE UPDATE, card
        cryptogram check, EXTERNAL AUTHENTICATE).

        ``level``: a :class:`Level` combination (0x01, 0x03, 0x11, 0x13,
        0x33; default 0x33). ``host_challenge``: fixed challenge (tests;
        default random). ``sd_aid``: the Security Domain AID, to verify a
        pseudo-random card challenge. Other options of the library's secure
        channel scope: ``kvn`` (key version to ask for; default the key
        set's), ``s16``, ``kdf3`` (``keys`` are master keys diversified with
        the card's KDD), ``count_data_only`` and ``mac_cla_as_sent`` (cards
        that deviate from Amendment D). To check keys without EXTERNAL
        AUTHENTICATE use :meth:`probe_keys`.

        Returns what the card said (:class:`ScpInfo`). Wrong keys raise
        :class:`CardCryptogramError` before EXTERNAL AUTHENTICATE is sent.
        """
        with c_options(dict(opts, level=level, host_challenge=host_challenge,
                            sd_aid=sd_aid)) as o:
            rc = _c.scb_scp03_open(self._h, _handle(keys), o)
        if rc:
            self._fail(rc)
        return self._scp_info()

    def probe_keys(self, keys: Keys, **opts: OptionValue) -> ScpInfo:
        """Check ``keys`` against the card without risk: INITIALIZE UPDATE
        and the card cryptogram only, on the current logical channel with
        the Security Domain selected on it. Nothing is sent that wrong keys
        could make fail, so nothing counts against the card's
        authentication limit; no session remains. Takes the options of
        :meth:`open_scp03` (``level``, ``kvn``, ``sd_aid``, ...).

        Returns what the card said (:class:`ScpInfo`, ``level`` None).
        Wrong keys raise :class:`CardCryptogramError`, a missing key
        version :class:`NoKeySetError`."""
        with c_options(opts) as o:
            rc, info = _c.scb_scp03_probe(self._h, _handle(keys), o)
        if rc:
            self._fail(rc)
        return ScpInfo._from_c(info, None)

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
                 **opts: OptionValue) -> Optional[AccessInfo]:
        """PUT KEY: add ``new_keys`` (``replace_kvn`` 0) or replace the key
        set ``replace_kvn``; the keys travel encrypted under the static DEK
        and the card's KCVs are checked.

        With ``keys`` (the card's current keys) this is the whole job of
        ``scboot put-key``: :meth:`rotate_keys` with ``opts``; returns what
        the access found. Without ``keys`` the command goes through the
        secure channel the caller opened (C-MAC at least) and nothing else
        happens (no options then); returns None."""
        if keys is not None:
            return self._rotate(keys, new_keys, dict(opts, replace_kvn=replace_kvn))
        if opts:
            raise InvalidArgumentError(f"option {sorted(opts)[0]!r}: options apply to the "
                                       "whole job (put_keys with keys=...) only")
        rc = _c.scb_put_keys(self._h, _handle(new_keys, "new_keys"), replace_kvn)
        if rc:
            self._fail(rc)
        return None

    # ---- the bootstrap job -------------------------------------------------
    # Every job takes the library's options of its scope as keyword
    # arguments (see scboot._opts): the secure channel's (level, kvn, s16,
    # kdf3, host_challenge, sd_aid, count_data_only, mac_cla_as_sent), the
    # application's (aid, skip_efdir, no_logical_channel, no_secure_channel)
    # and the job's own. One given to a job it does not apply to is an
    # InvalidArgumentError naming it, raised before the card is touched.
    @staticmethod
    def _app_opts(keys: Optional[Keys], logical_channel: bool,
                  opts: Mapping[str, OptionValue]) -> Dict[str, OptionValue]:
        """opts with what the Python signature says: no keys means no secure
        channel; ``logical_channel=False`` is ``no_logical_channel``."""
        out = dict(opts)
        if keys is None:
            out.setdefault("no_secure_channel", True)
        if not logical_channel:
            out.setdefault("no_logical_channel", True)
        return out

    def read_bootstrap(self, keys: Optional[Keys] = None, level: Optional[int] = None,
                       path: Optional[BytesLike] = None, *, logical_channel: bool = True,
                       **opts: OptionValue) -> Bootstrap:
        """Read and decode the LwM2M bootstrap file: EF.DIR -> PKCS#15 ADF
        on a logical channel -> SCP03 (when ``keys`` are given; ``level``
        default 0x33) -> ODF -> DODF -> bootstrap EF. ``path`` (and the
        option ``aid``), as returned in ``Bootstrap.access``, skip the
        directory walk. ``keys=None`` reads without a secure channel.
        Options besides the secure channel's and the application's: ``pin``
        (text or bytes) and ``pin_ref`` for a private entry."""
        values = self._app_opts(keys, logical_channel, dict(opts, level=level, path=path))
        with c_options(values) as o:
            rc, bs, info = _c.scb_read_bootstrap(self._h, _handle(keys), o)
        if rc:
            self._fail(rc)
        return Bootstrap._adopt(bs, AccessInfo._from_c(info))

    def write_bootstrap(self, data: Union[Bootstrap, Mapping[str, Any], BytesLike], keys: Keys,
                        level: Optional[int] = None, path: Optional[BytesLike] = None, *,
                        verify: bool = True, **opts: OptionValue) -> AccessInfo:
        """Write a bootstrap file to the card's bootstrap EF inside a secure
        channel of at least C-DEC + C-MAC, then read it back to verify
        (unless ``verify`` is False). ``data``: a :class:`Bootstrap`, a dict
        in its JSON model (what ``to_dict(secrets=True)`` gives; invalid
        fields raise :class:`ValidationError` naming the field and the
        reason), or the file's bytes. Options besides the secure channel's
        and the application's: ``pad`` (fill the rest of the EF with FF).
        A level without C-DEC + C-MAC is an :class:`InvalidArgumentError`,
        data larger than the EF a :class:`DataTooLargeError`, both before
        anything is written; a write that breaks off raises
        :class:`WriteError`: the card holds a partial file and needs
        provisioning again."""
        if isinstance(data, Mapping):
            with Bootstrap(data) as model:
                raw = model.encode()
        else:
            raw = data.encode() if isinstance(data, Bootstrap) else to_bytes(data, "data")
        values = self._app_opts(keys, True, dict(opts, level=level, path=path))
        if not verify:
            values.setdefault("no_verify", True)
        with c_options(values) as o:
            rc, info = _c.scb_write_bootstrap(self._h, _handle(keys), o, raw)
        if rc:
            self._fail(rc)
        return AccessInfo._from_c(info)

    def rotate_keys(self, keys: Keys, new_keys: Keys, replace_kvn: Optional[int] = None,
                    level: Optional[int] = None, **opts: OptionValue) -> AccessInfo:
        """Key rotation in one call: open the application with ``keys``,
        PUT KEY ``new_keys`` (added, or replacing the set ``replace_kvn``),
        check the card's KCVs, prove the new keys with a fresh handshake,
        close everything. The same as ``put_keys(new_keys, replace_kvn,
        keys=keys, ...)``. ``kvn`` and ``kdf3`` apply to ``keys``; the
        proof uses the new set's version."""
        return self._rotate(keys, new_keys, dict(opts, level=level, replace_kvn=replace_kvn))

    def _rotate(self, keys: Keys, new_keys: Keys, opts: Mapping[str, OptionValue]) -> AccessInfo:
        with c_options(self._app_opts(keys, True, opts)) as o:
            rc, info = _c.scb_rotate_keys(self._h, _handle(keys), _handle(new_keys, "new_keys"),
                                          o)
        if rc:
            self._fail(rc)
        return AccessInfo._from_c(info)

    def open_app(self, keys: Optional[Keys] = None, level: Optional[int] = None, *,
                 logical_channel: bool = True, **opts: OptionValue) -> AccessInfo:
        """Open the PKCS#15 application as a bootstrap read does (EF.DIR or
        the option ``aid``, a logical channel, SELECT, SCP03 with ``keys``):
        later commands go to it, secured. Undo with :meth:`close_app`."""
        values = self._app_opts(keys, logical_channel, dict(opts, level=level))
        with c_options(values) as o:
            rc, info = _c.scb_app_open(self._h, _handle(keys), o)
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

