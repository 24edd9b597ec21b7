"""The virtual UICC (the library's card side), in this process or served to
pcscd's vpcd driver.

The card is built from a profile (core/sim/PROFILE.md): files, the
Security Domain's key sets, access rules of the bootstrap EF, and fault
injection (a wrong R-MAC, a disconnect, a bad card cryptogram, ...). Give it
as a dict, as JSON text, or as a file path; ``None`` is the built-in card.

Serve a card to a vpcd reader (until the reader side closes or SIGTERM),
as ``scboot sim --vpcd HOST:PORT`` does::

    python3 -m scboot.sim --vpcd 127.0.0.1:35963 [--profile card.json]

(``--vpcd PORT`` with ``--host HOST``, default 127.0.0.1, is the older
spelling.) Exit status: 0 the reader side closed, 2 a bad argument or
profile, 3 vpcd could not be reached or the connection broke.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from . import _core, _scboot as _c
from ._card import Card
from ._errors import Error, StateError, check
from ._keys import Keys
from ._util import Closing, BytesLike, to_bytes

__all__ = ["VirtualCard", "Profile", "main"]

Profile = Union[None, str, Mapping[str, Any]]

_FAULTS = ("delay_ms", "disconnect_after", "corrupt_rmac_at", "bad_padding_at", "sw_at",
           "sw_at_value", "bad_card_cryptogram", "bad_challenge", "kvn_mismatch",
           "rmac_on_error", "renc_overpad")


class VirtualCard(Closing):
    """A virtual card. :meth:`card` connects a :class:`Card` to it; the
    other methods inspect and steer it for tests. Its state (files, key
    sets, sequence counter) lives as long as this object."""

    def __init__(self, profile: Profile = None) -> None:
        if profile is None:
            rc, handle, detail = _c.scb_sim_new(None)
        elif isinstance(profile, Mapping):
            rc, handle, detail = _c.scb_sim_new_from_json(json.dumps(profile))
        elif isinstance(profile, str) and profile.lstrip().startswith("{"):
            rc, handle, detail = _c.scb_sim_new_from_json(profile)
        elif isinstance(profile, (str, os.PathLike)):
            rc, handle, detail = _c.scb_sim_new(os.fspath(profile))
        else:
            raise TypeError("profile must be None, a dict, JSON text or a file path")
        check(rc, detail)
        self._h: Any = handle
        self._lock = threading.Lock()

    def _handle(self) -> Any:
        if self._h is None:
            raise StateError("the virtual card is closed")
        return self._h

    def close(self) -> None:
        """Free the card (its keys are wiped). Cards connected to it must be
        closed first; they keep it alive until then."""
        h, self._h = self._h, None
        if h is not None:
            _c.scb_sim_free(h)


    def card(self) -> Card:
        """A :class:`Card` whose transport is this virtual card."""
        rc, handle = _c.scb_bind_card_open_sim(self._handle())
        check(rc)
        return Card(handle, owner=self)

    def host_keys(self) -> Keys:
        """The host's key set for this card (its first SCP03 key set; the
        built-in card has the public GlobalPlatform test keys 40..4F)."""
        rc, handle = _c.scb_sim_host_keys(self._handle())
        check(rc, "the virtual card has no key set")
        return Keys._adopt(handle)

    def process(self, apdu: BytesLike) -> bytes:
        """One command exactly as the card sees it (no engine in between):
        response data + SW1 SW2."""
        with self._lock:
            rc, resp = _c.scb_sim_process(self._handle(), to_bytes(apdu, "apdu"), None)
        check(rc, "virtual card refused the command")
        return resp

    @property
    def atr(self) -> bytes:
        n, atr = _c.scb_sim_atr(self._handle())
        return atr[:n]

    def reset(self) -> None:
        """Power cycle: channels and sessions go; files, keys and the
        sequence counter stay."""
        _c.scb_sim_reset(self._handle())

    @property
    def apdu_count(self) -> int:
        """Commands processed since the card was made."""
        return _c.scb_sim_apdu_count(self._handle())

    def session_level(self, channel: int = 0) -> Optional[int]:
        """Level of the SCP03 session on ``channel``, None when none."""
        level = _c.scb_sim_session_level(self._handle(), channel)
        return level if level >= 0 else None

    @property
    def sequence_counter(self) -> int:
        """The sequence counter the next INITIALIZE UPDATE reports."""
        return _c.scb_sim_sequence_counter(self._handle())

    @sequence_counter.setter
    def sequence_counter(self, value: int) -> None:
        check(_c.scb_sim_set_sequence_counter(self._handle(), value),
              "sequence counter must be 1..0xFFFFFF")

    def set_card_challenge(self, challenge: BytesLike) -> None:
        """Force the card challenge of the next INITIALIZE UPDATE (once)."""
        check(_c.scb_sim_set_card_challenge(self._handle(), to_bytes(challenge, "challenge")),
              "challenge must be 8 or 16 bytes")

    def set_rolling(self, on: bool = True) -> None:
        """A line of cards (``scboot sim --rolling``): from now on, each
        time a host selects EF.ICCID after other commands, this becomes a
        new card made from the profile with the next ICCID; faults carry
        over, files, keys and sessions start afresh."""
        check(_c.scb_sim_set_rolling(self._handle(), 1 if on else 0))

    def read_file(self, path: BytesLike) -> bytes:
        """An EF's contents by path from the MF, bypassing access rules."""
        rc, data = _c.scb_sim_read_file(self._handle(), to_bytes(path, "path"), None)
        check(rc, "no such file")
        return data

    @property
    def faults(self) -> Dict[str, int]:
        """The fault-injection settings (see the profile's "faults")."""
        rc, f = _c.scb_sim_get_faults(self._handle())
        check(rc)
        return {name: getattr(f, name) for name in _FAULTS}

    def set_faults(self, **changes: int) -> None:
        """Change fault-injection settings, e.g. ``set_faults(corrupt_rmac_at=7)``."""
        unknown = set(changes) - set(_FAULTS)
        if unknown:
            raise TypeError(f"unknown faults: {', '.join(sorted(unknown))}")
        rc, f = _c.scb_sim_get_faults(self._handle())
        check(rc)
        for name, value in changes.items():
            setattr(f, name, int(value))
        check(_c.scb_sim_set_faults(self._handle(), f))

    def serve_vpcd(self, port: int, host: str = "127.0.0.1",
                   stop: Optional[threading.Event] = None) -> None:
        """Be the card of a vpcd reader: connect to pcscd's vpcd driver at
        host:port and answer until the reader side closes, a disconnect
        fault fires, or ``stop`` is set (then within 100 ms)."""
        flag = _core.scb_bind_stop_t()
        watcher = None
        if stop is not None:
            event: threading.Event = stop

            def watch() -> None:
                event.wait()
                flag.stop = 1
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
        rc = _c.scb_bind_sim_serve_vpcd(self._handle(), host, port, flag)
        if rc < 0:
            check(rc, _c.scb_sim_errmsg(self._handle()))

    def __repr__(self) -> str:
        if self._h is None:
            return "<scboot.sim.VirtualCard closed>"
        return f"<scboot.sim.VirtualCard apdus={self.apdu_count}>"


def _vpcd_address(value: str, host: Optional[str]) -> Tuple[str, int]:
    """HOST:PORT (as the command line's scboot sim takes it), or a PORT
    with --host."""
    where, colon, port_text = value.rpartition(":")
    if not colon:
        where, port_text = host or "127.0.0.1", value
    elif not where:
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:35963")
    elif host is not None and host != where:
        raise ValueError(f"the host is {where}, --host says {host}: give one of them")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("expected HOST:PORT with a port 1..65535, e.g. 127.0.0.1:35963")
    return where, int(port_text)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python3 -m scboot.sim --vpcd HOST:PORT [--profile FILE|JSON]``."""
    parser = argparse.ArgumentParser(prog="python3 -m scboot.sim",
                                     description="Serve the virtual card to a vpcd reader.")
    parser.add_argument("--vpcd", required=True, metavar="HOST:PORT",
                        help="where the vpcd driver listens, e.g. 127.0.0.1:35963 for "
                             "'Virtual PCD 00 00' (a PORT alone: on --host)")
    parser.add_argument("--host", default=None,
                        help="the vpcd host of a --vpcd PORT (default 127.0.0.1)")
    parser.add_argument("--profile", default=None, help="profile file or JSON text")
    parser.add_argument("--rolling", action="store_true",
                        help="a new card, next ICCID, each time a host starts on one")
    args = parser.parse_args(argv)
    prog = parser.prog
    try:
        host, port = _vpcd_address(args.vpcd, args.host)
    except ValueError as e:
        print(f"{prog}: --vpcd {args.vpcd}: {e}", file=sys.stderr)
        return 2
    try:
        vc = VirtualCard(args.profile)
    except Error as e:
        print(f"{prog}: {e.detail or e}", file=sys.stderr)
        return 2
    with vc:
        if args.rolling:
            vc.set_rolling()
        try:
            vc.serve_vpcd(port, host)
        except Error as e:
            print(f"{prog}: {e.detail or e} (is pcscd running with the vpcd driver?)",
                  file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
