"""A provisioning station in a job store: its lease, renewed by a heartbeat
thread; one store connection per thread; the claims and results of its
readers. A :class:`Station` is the row source a ``Provisioner`` works from
(``claim`` a row for a card, ``finish`` it with the card's result).

The first :class:`StoreUnavailable` (the database went away, or did not
answer in time), from a reader's claim or result or from the heartbeat,
stops the station: ``stopped`` is set and ``failure`` says why. A result
that could not be recorded leaves its row claimed under this station's
lease; when the lease has expired, the row goes back to the pool and the
card is checked again by digest (so nothing is recorded as written that was
not, and a card written but not recorded is found holding its data).
"""
from __future__ import annotations

import json
import socket
import threading
from typing import Any, Callable, List, Mapping, Optional, TypeVar

from ._job import CardJob
from ._keyref import KeyLoader
from ._store import Claim, Store, StoreError, StoreUnavailable, open_store

__all__ = ["Station", "DEFAULT_LEASE"]

DEFAULT_LEASE = 20.0   # seconds a station's claims outlive its last heartbeat
T = TypeVar("T")


class Station:
    """``uri``: the store; ``name``: the station's name in the results
    (default: the host name); ``lease``: seconds; ``keys``: resolves the
    rows' key references (closed with the station)."""

    def __init__(self, uri: str, name: Optional[str] = None, *,
                 lease: float = DEFAULT_LEASE, keys: Optional[KeyLoader] = None,
                 opener: Callable[[str], Store] = open_store) -> None:
        if not lease > 0:
            raise ValueError("the lease must be positive")
        self.uri = uri
        self.name = name or socket.gethostname()
        self.ttl = float(lease)
        self.key_loader = keys or KeyLoader()
        self._open = opener
        self._local = threading.local()
        self._stores: List[Store] = []
        self._lock = threading.Lock()
        self.stopped = threading.Event()
        self.key_loader.stop_with(self.stopped)   # a token refused its PIN: stop
        self.failure: Optional[StoreError] = None
        self.lease: Optional[int] = None
        self.open_rows: Optional[int] = None   # rows not yet done, as of the last heartbeat
        self._quit = threading.Event()
        self._beat: Optional[threading.Thread] = None

    # ---- connections -------------------------------------------------------
    def store(self) -> Store:
        """This thread's connection to the store."""
        s: Optional[Store] = getattr(self._local, "store", None)
        if s is None:
            s = self._local.store = self._open(self.uri)
            with self._lock:
                self._stores.append(s)
        return s

    def _call(self, fn: Callable[[Store], T]) -> T:
        if self.failure is not None:
            raise self.failure
        try:
            return fn(self.store())
        except StoreUnavailable as e:
            self.fail(e)
            raise

    def fail(self, e: StoreError) -> None:
        """Stop the station for ``e`` (the first reason is kept)."""
        with self._lock:
            if self.failure is None:
                self.failure = e
        self.stopped.set()

    # ---- lease -------------------------------------------------------------
    def start(self) -> "Station":
        """Take a lease and start renewing it."""
        self.lease = self._call(lambda s: s.start_lease(self.name, self.ttl))
        self.open_rows = self._call(lambda s: s.remaining())
        self._beat = threading.Thread(target=self._heartbeat, name=f"lease of {self.name}",
                                      daemon=True)
        self._beat.start()
        return self

    def _heartbeat(self) -> None:
        # At least four renewals per lease (every 2 s at most): one late
        # beat does not lose it.
        interval = min(self.ttl / 4, 2.0)
        assert self.lease is not None
        lease: int = self.lease
        while not self._quit.wait(interval):
            try:
                if not self._call(lambda s: s.renew_lease(lease, self.ttl)):
                    self.fail(StoreError(f"station {self.name}: the lease expired before it "
                                         f"was renewed (over {self.ttl:g} s without the "
                                         f"store): its claims may be another station's now"))
                    return
                self._call(lambda s: s.reap())
                self.open_rows = self._call(lambda s: s.remaining())
            except StoreError as e:
                self.fail(e)
                return

    def batch_done(self) -> bool:
        """Every row is written or skipped (as of the last heartbeat)."""
        return self.open_rows == 0

    # ---- the row source of a Provisioner ---------------------------------------
    def claim(self, iccid: str, reader: str) -> Optional[CardJob]:
        """The card's row, claimed (None: the store has none for it).
        Raises RowHeld (another live lease has it) or StoreError."""
        if self.lease is None:
            raise StoreError(f"station {self.name} has not started")
        lease: int = self.lease
        c = self._call(lambda s: s.claim(iccid, lease, reader))
        if c is None:
            return None
        return CardJob(row=c.row, iccid=iccid, data=c.data, digest=c.digest, keys=None,
                       new_keys=None, replace_kvn=c.replace_kvn, keys_ref=c.keys_ref,
                       new_keys_ref=c.new_keys_ref, claim=c,
                       options=json.loads(c.options) if c.options else {})

    def finish(self, cj: Optional[CardJob], result: Mapping[str, Any]) -> None:
        """Record the card's result (ending its claim, if any)."""
        if cj is not None and cj.claim is not None:
            claim: Claim = cj.claim
            self._call(lambda s: s.finish(claim, self.name, result))
        else:
            self._call(lambda s: s.record_unmatched(str(result.get("iccid") or ""), self.name,
                                                     self.lease, result))

    # ---- the end ---------------------------------------------------------------
    def close(self) -> None:
        """Stop the heartbeat and end the lease (rows still claimed go back
        to the pool at once), unless the store failed (then the lease runs
        out by itself); close the connections; wipe loaded keys."""
        self._quit.set()
        if self._beat is not None:
            self._beat.join(timeout=self.ttl + 20)
        lease, self.lease = self.lease, None
        if lease is not None and self.failure is None:
            try:
                self.store().end_lease(lease)
            except StoreError as e:
                self.fail(e)
        with self._lock:
            stores, self._stores = self._stores, []
        for s in stores:
            try:
                s.close()
            except Exception:  # a connection that broke: nothing left to close
                pass
        self.key_loader.close()

    def __enter__(self) -> "Station":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

