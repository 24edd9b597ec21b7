"""The provisioning job store: rows (what each card gets), claims, station
leases and an append-only audit of results, in a database that several
stations share (PostgreSQL) or one station owns (SQLite).

The guarantees, each one transaction:

- **claim**: a card claims the row naming its ICCID, else the first free
  row (no ICCID), which is bound to the card's ICCID in the same
  transaction: a row is bound once and never again (a trigger refuses any
  change of a bound ICCID, of a row's data or of its key references), so
  no identity reaches two cards. PostgreSQL takes the free row with
  ``FOR UPDATE SKIP LOCKED``, SQLite under ``BEGIN IMMEDIATE``.
- **finish**: the result (outcome, digest, card digest, station, reader,
  time, error) is appended to the audit table and the row's state set, in the
  transaction that ends the claim; results are never updated or deleted
  (triggers refuse it).
- **leases**: a claim belongs to a station's lease, which the station
  renews; once a lease has expired its claims go back to the pool (a
  ``released`` line in the audit says so) and the card is checked again,
  by digest, by whichever station sees it next.

No key material is ever stored: rows name their keys by reference (a key
file path, a ``pkcs11:`` URI, ``inline`` for keys that stay in the job
file; see :mod:`scboot._keyref`).

``open_store(uri)`` gives a backend: ``sqlite:PATH`` (``_store_sqlite``) or
``postgresql://...`` (``_store_pg``, psycopg 3). Every wait on the database
is bounded; a database that goes away or stops answering raises
:class:`StoreUnavailable`.
"""
from __future__ import annotations

import abc
import contextlib
import datetime
import os
import re
import socket
from dataclasses import dataclass
from typing import (Any, ContextManager, Dict, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Type)

from ._report import FIELDS

__all__ = ["SCHEMA_VERSION", "STATES", "RESULT_FIELDS", "StoreError", "StoreUnavailable",
           "RowHeld", "StoreRow", "Claim", "Store", "open_store", "display_uri", "iso_time"]

# 1: the first; 2: rows carry options (the library options a row forces,
# e.g. s16), results the digest the card was found holding (card_digest).
# A store of an older version is upgraded when it is opened.
SCHEMA_VERSION = 2
# A row's state. claimed: a station works on the card now; the others are
# where the last claim ended (pending: never claimed, or its claim was
# released).
STATES = ("pending", "claimed", "written", "skipped", "failed", "interrupted")
_DONE = ("written", "skipped")
# The audit table as `report` writes it: the provisioning report's fields
# (station among them). outcome: written | skipped | failed | interrupted,
# or released (a claim whose lease expired, or a station that stopped
# holding one: no card result).
RESULT_FIELDS = FIELDS
CONNECT_TIMEOUT = 5.0      # seconds to reach the database
STATEMENT_TIMEOUT = 10.0   # seconds one statement (or a wait for a lock) may take
LOCK_TIMEOUT = 5.0         # seconds to wait for a row lock


class StoreError(Exception):
    """The store cannot be used: a bad URI, not a store, a newer schema, a
    refused import. The message is one line and never holds a password."""


class StoreUnavailable(StoreError):
    """The database went away or did not answer in time."""


class StoreConflict(StoreError):
    """A unique constraint refused a write (a claim raced another)."""


class RowHeld(Exception):
    """The card's row is claimed by a lease that is still alive."""

    def __init__(self, row: int, station: str, reader: str, seconds_left: float,
                 own: bool) -> None:
        self.row, self.station, self.reader = row, station, reader
        self.seconds_left, self.own = seconds_left, own
        who = "this station" if own else f"station {station}"
        super().__init__(f"row {row} is being provisioned by {who} (reader {reader}; its "
                         f"lease runs {max(seconds_left, 0):.0f} s more)")


@dataclass(frozen=True)
class StoreRow:
    """One row as imported: ``source_row`` is its row in the job file;
    ``keys_ref`` / ``new_keys_ref`` name keys (None: the station's)."""
    source_row: int
    iccid: Optional[str]
    data: bytes
    digest: bytes
    keys_ref: Optional[str]
    new_keys_ref: Optional[str]
    replace_kvn: Optional[int]
    options: Optional[str] = None   # the row's library options, JSON (None: none)


@dataclass(frozen=True)
class Claim:
    """A row claimed for one card under ``lease``; ``row`` is its number in
    the store, ``previous`` the state the claim started from."""
    row: int
    import_id: int
    source_row: int
    iccid: str
    data: bytes
    digest: bytes
    keys_ref: Optional[str]
    new_keys_ref: Optional[str]
    replace_kvn: Optional[int]
    previous: str
    lease: int
    options: Optional[str] = None


def iso_time(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(
        timespec="seconds")


def display_uri(uri: str) -> str:
    """The URI without a password (for messages)."""
    uri = re.sub(r"(://[^/@:]*):[^/@]*@", r"\1@", uri)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", uri)


# The schema of version 1, with the types each dialect spells its own way
# (a new store is made as version 1, then upgraded: one path for new and
# old stores). Row numbers are given (the job's row numbers for the first
# import); leases and results are numbered by the database.
_TABLES = (
    "CREATE TABLE scboot_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE scboot_imports (id {serial}, source TEXT NOT NULL, digest TEXT NOT NULL "
    "UNIQUE, rows INTEGER NOT NULL, first_row BIGINT NOT NULL, time {real} NOT NULL)",
    "CREATE TABLE scboot_leases (id {serial}, station TEXT NOT NULL, host TEXT NOT NULL, "
    "pid INTEGER NOT NULL, started {real} NOT NULL, renewed {real} NOT NULL, "
    "expires {real} NOT NULL, ended {real})",
    "CREATE TABLE scboot_rows (id BIGINT PRIMARY KEY, "
    "import_id BIGINT NOT NULL REFERENCES scboot_imports(id), source_row INTEGER NOT NULL, "
    "iccid TEXT UNIQUE, bound INTEGER NOT NULL DEFAULT 0, data {blob} NOT NULL, "
    "digest TEXT NOT NULL, keys_ref TEXT, new_keys_ref TEXT, replace_kvn INTEGER, "
    "state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ({states})), "
    "previous TEXT, lease_id BIGINT REFERENCES scboot_leases(id), reader TEXT, "
    "claimed {real})",
    "CREATE INDEX scboot_rows_free ON scboot_rows (id) WHERE iccid IS NULL AND "
    "state = 'pending'",
    "CREATE INDEX scboot_rows_lease ON scboot_rows (lease_id) WHERE lease_id IS NOT NULL",
    "CREATE TABLE scboot_results (id {serial}, row_id BIGINT REFERENCES scboot_rows(id), "
    "iccid TEXT NOT NULL, station TEXT NOT NULL, reader TEXT NOT NULL, lease_id BIGINT, "
    "outcome TEXT NOT NULL, digest TEXT NOT NULL, keys TEXT NOT NULL, error TEXT NOT NULL, "
    "apdus INTEGER NOT NULL, seconds {real} NOT NULL, time {real} NOT NULL)",
    "CREATE INDEX scboot_results_iccid ON scboot_results (iccid)",
)
# The upgrade to each version from the one before (statements; the
# trigger that keeps rows fixed is made again for the version's columns).
_UPGRADES: Mapping[int, Sequence[str]] = {
    2: ("ALTER TABLE scboot_rows ADD COLUMN options TEXT",
        "ALTER TABLE scboot_results ADD COLUMN card_digest TEXT NOT NULL DEFAULT ''"),
}
# What a trigger refuses on scboot_rows (the identity of a row), by version.
_ROW_FIXED_1 = ("data", "digest", "source_row", "import_id", "keys_ref", "new_keys_ref",
                "replace_kvn")
ROW_FIXED: Mapping[int, Tuple[str, ...]] = {1: _ROW_FIXED_1, 2: _ROW_FIXED_1 + ("options",)}
ROWS_FIXED_TRIGGER = "scboot_rows_fixed"


def fixed_row_condition(differs: str, version: int = SCHEMA_VERSION) -> str:
    """SQL that is true when an UPDATE changes what identifies a row
    (``differs``: the dialect's null-safe "is not")."""
    return " OR ".join([f"NEW.{c} {differs} OLD.{c}" for c in ROW_FIXED[version]]
                       + [f"(OLD.iccid IS NOT NULL AND NEW.iccid {differs} OLD.iccid)"])


_COLUMNS = ("id", "import_id", "source_row", "iccid", "data", "digest", "keys_ref",
            "new_keys_ref", "replace_kvn", "options")
# A claim, in one transaction: the card's own row unless it is claimed,
# else (no row names the ICCID) the first free row, bound to it. Whichever
# matched returns the row and the state the claim started from (_COLUMNS,
# previous); neither matching (the row is claimed, or nothing is free)
# leaves the case to the full claim, which runs them again once a claim of
# an expired lease is released.
_CLAIM_OWN = ("UPDATE scboot_rows SET state = 'claimed', previous = state, lease_id = ?, "
              "reader = ?, claimed = {now} WHERE iccid = ? AND state <> 'claimed' RETURNING "
              + ", ".join(_COLUMNS) + ", previous")
_CLAIM_FREE = ("UPDATE scboot_rows SET iccid = ?, bound = 1, state = 'claimed', "
               "previous = 'pending', lease_id = ?, reader = ?, claimed = {now} WHERE id = "
               "(SELECT id FROM scboot_rows WHERE iccid IS NULL AND state = 'pending' AND NOT "
               "EXISTS (SELECT 1 FROM scboot_rows WHERE iccid = ?) ORDER BY id LIMIT 1{lock_free}) "
               "RETURNING " + ", ".join(_COLUMNS) + ", previous")


class Store(abc.ABC):
    """One connection to a job store (use one per thread). The SQL is
    shared; a backend gives the connection, the dialect and the mapping of
    its errors."""

    # dialect: SQL for "now" as epoch seconds, column types, lock clauses
    NOW = ""
    TYPES: Mapping[str, str] = {}
    LOCK_ROW = ""        # appended to the SELECT of the card's own row
    LOCK_FREE = ""       # {lock_free}: ends the SELECT of the next free row
    PARAM = "?"
    uri = ""

    def __init__(self) -> None:
        self._sql_cache: Dict[str, str] = {}

    # ---- backend ---------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def connect(cls, uri: str, create: bool) -> "Store":
        """Open the database at ``uri`` (``create``: it may be new)."""

    @abc.abstractmethod
    def _cursor(self) -> Any:
        """A DB-API cursor of the connection (autocommit mode)."""

    @abc.abstractmethod
    def _begin(self, write: bool) -> None:
        """Start a transaction (``write``: one that will write)."""

    @abc.abstractmethod
    def _map_error(self, e: Exception) -> Optional[StoreError]:
        """The StoreError for a database exception (a unique violation:
        StoreConflict), None if it is not a database exception."""

    @abc.abstractmethod
    def _has_schema(self) -> bool:
        """Whether the store's tables exist."""

    @abc.abstractmethod
    def _triggers(self, version: int) -> Sequence[str]:
        """The statements creating the append-only and fixed-row triggers
        (the fixed-row one for the columns of schema ``version``)."""

    @abc.abstractmethod
    def _rows_fixed_trigger(self, version: int) -> Sequence[str]:
        """The statements that make the fixed-row trigger again for the
        columns of schema ``version`` (dropping the one there)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection."""

    def _lock_schema(self) -> None:
        """Serialise schema creation between processes (inside the transaction)."""

    def _pipeline(self) -> ContextManager[Any]:
        """Statements of a transaction sent without waiting for each answer
        (until one is read): a round trip saved per statement."""
        return contextlib.nullcontext()

    def _claim_quick(self, own: Tuple[str, Sequence[Any]],
                     free: Tuple[str, Sequence[Any]]) -> List[Tuple[Any, ...]]:
        """Run the quick claim's two statements (SQL, parameters) as one
        transaction; the rows they return. A backend may run them as one
        statement (a round trip and a transaction's two statements saved)."""
        with self._tx():
            return self._claim_either(own, free)

    def _claim_either(self, own: Tuple[str, Sequence[Any]],
                      free: Tuple[str, Sequence[Any]]) -> List[Tuple[Any, ...]]:
        """The claim's two statements in the caller's transaction."""
        return self._all(*own) or self._all(*free)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- plumbing --------------------------------------------------------
    def _sql(self, text: str) -> str:
        got = self._sql_cache.get(text)
        if got is None:
            got = (text.replace("{now}", self.NOW).replace("{lock_free}", self.LOCK_FREE)
                   .replace("?", self.PARAM))
            self._sql_cache[text] = got
        return got

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        c = self._cursor()
        if params:
            c.execute(self._sql(sql), tuple(params))
        else:   # no parameters: nothing in the text is a placeholder
            c.execute(self._sql(sql))
        return c

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Optional[Tuple[Any, ...]]:
        row = self._run(sql, params).fetchone()
        return None if row is None else tuple(row)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> List[Tuple[Any, ...]]:
        return [tuple(r) for r in self._run(sql, params).fetchall()]

    @contextlib.contextmanager
    def _mapped(self) -> Iterator[None]:
        """Database errors leave as StoreError."""
        try:
            yield
        except StoreError:
            raise
        except Exception as e:
            mapped = self._map_error(e)
            if mapped is None:
                raise
            raise mapped from None

    @contextlib.contextmanager
    def _tx(self, write: bool = True) -> Iterator[None]:
        """One transaction; database errors leave as StoreError."""
        with self._mapped(), self._pipeline():
            self._begin(write)
            try:
                yield
                self._cursor().execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    self._cursor().execute("ROLLBACK")
                raise

    # ---- schema ------------------------------------------------------------
    def check_schema(self, create: bool, version: int = SCHEMA_VERSION) -> None:
        """Make sure the tables are there and of a schema this code knows
        (``create``: make them in an empty database); a store of an older
        schema is upgraded (all of it in one transaction, under the schema
        lock). ``version``: the schema a new store is made to (tests make
        old stores with it)."""
        with self._tx(write=create):
            if create:
                self._lock_schema()
            if not self._has_schema():
                if not create:
                    raise StoreError(f"{display_uri(self.uri)}: no job store there (import a "
                                     f"job first: python3 -m scboot.provision import JOB "
                                     f"--store ...)")
                types = dict(self.TYPES, states=", ".join(f"'{s}'" for s in STATES))
                for statement in _TABLES:
                    self._run(statement.format(**types))
                for statement in self._triggers(1):
                    self._run(statement)
                self._run("INSERT INTO scboot_meta (name, value) VALUES ('schema', '1')")
                self._upgrade(1, version)
                return
            found = self._schema_version()
        if found < SCHEMA_VERSION:
            with self._tx(write=True):
                self._lock_schema()
                self._upgrade(self._schema_version(), SCHEMA_VERSION)   # as of the lock

    def _schema_version(self) -> int:
        row = self._one("SELECT value FROM scboot_meta WHERE name = 'schema'")
        version = row[0] if row else "none"
        if not (isinstance(version, str) and version.isdigit()):
            raise StoreError(f"{display_uri(self.uri)}: not a job store of scboot (schema "
                             f"version {version!r})")
        if int(version) > SCHEMA_VERSION:
            raise StoreError(f"{display_uri(self.uri)}: the store has schema version "
                             f"{version}, newer than this scboot knows ({SCHEMA_VERSION}): "
                             f"use a newer scboot")
        return int(version)

    def _upgrade(self, found: int, to: int) -> None:
        """From schema ``found`` to ``to``, inside the caller's transaction."""
        for version in range(found + 1, to + 1):
            for statement in _UPGRADES[version]:
                self._run(statement)
            for statement in self._rows_fixed_trigger(version):
                self._run(statement)
            self._run("UPDATE scboot_meta SET value = ? WHERE name = 'schema'", (str(version),))

    # ---- import ------------------------------------------------------------
    def find_import(self, digest: str) -> Optional[int]:
        with self._tx(write=False):
            row = self._one("SELECT id FROM scboot_imports WHERE digest = ?", (digest,))
        return None if row is None else int(row[0])

    def import_count(self) -> int:
        with self._tx(write=False):
            row = self._one("SELECT count(*) FROM scboot_imports")
        return int(row[0]) if row else 0

    def import_rows(self, rows: Sequence[StoreRow], source: str, digest: str,
                    bindings: Optional[Mapping[int, str]] = None) -> int:
        """Add a job's rows in one transaction (all or none); returns the
        import's number. ``bindings``: source row -> ICCID of rows without
        an ICCID that an earlier run already gave to a card. Raises
        StoreError naming the rows that clash with the store."""
        bindings = bindings or {}
        with self._tx():
            if self._one("SELECT id FROM scboot_imports WHERE digest = ?", (digest,)):
                raise StoreError(f"{source}: this job is already in the store")
            first = int((self._one("SELECT coalesce(max(id), 0) FROM scboot_rows") or (0,))[0])
            taken = {str(i): int(n) for i, n in
                     self._all("SELECT iccid, id FROM scboot_rows WHERE iccid IS NOT NULL")}
            errors = []
            for r in rows:
                iccid = r.iccid or bindings.get(r.source_row)
                if iccid is not None and iccid in taken:
                    errors.append(f"{source} row {r.source_row}: ICCID {iccid} is already in "
                                  f"the store (row {taken[iccid]})")
                if len(errors) >= 20:
                    break
            if errors:
                raise StoreError("\n".join(errors))
            c = self._run("INSERT INTO scboot_imports (source, digest, rows, first_row, time) "
                          "VALUES (?, ?, ?, ?, {now}) RETURNING id",
                          (source, digest, len(rows), first + 1))
            import_id = int(c.fetchone()[0])
            self._cursor().executemany(self._sql(
                "INSERT INTO scboot_rows (id, import_id, source_row, iccid, bound, data, digest, "
                "keys_ref, new_keys_ref, replace_kvn, options) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)"),
                [(first + i + 1, import_id, r.source_row, r.iccid or bindings.get(r.source_row),
                  int(r.iccid is None and r.source_row in bindings), r.data, r.digest.hex(),
                  r.keys_ref, r.new_keys_ref, r.replace_kvn, r.options)
                 for i, r in enumerate(rows)])
        return import_id

    def key_references(self) -> Dict[str, int]:
        """How many rows name each kind of keys: "station" (none: the
        station's --keys), "inline" (keys kept in the job file), "named"."""
        with self._tx(write=False):
            rows = self._all("SELECT CASE WHEN keys_ref = 'inline' OR new_keys_ref = 'inline' "
                             "THEN 'inline' WHEN keys_ref IS NULL THEN 'station' ELSE 'named' "
                             "END, count(*) FROM scboot_rows GROUP BY 1")
        return {str(k): int(n) for k, n in rows}

    # ---- leases ------------------------------------------------------------
    def start_lease(self, station: str, ttl: float) -> int:
        with self._tx():
            c = self._run("INSERT INTO scboot_leases (station, host, pid, started, renewed, "
                          "expires) VALUES (?, ?, ?, {now}, {now}, {now} + ?) RETURNING id",
                          (station, socket.gethostname(), os.getpid(), ttl))
            return int(c.fetchone()[0])

    def renew_lease(self, lease: int, ttl: float) -> bool:
        """Extend the lease; False when it had already expired or ended
        (its claims may be someone else's now)."""
        with self._tx():
            c = self._run("UPDATE scboot_leases SET renewed = {now}, expires = {now} + ? "
                          "WHERE id = ? AND ended IS NULL AND expires > {now}", (ttl, lease))
        return bool(c.rowcount == 1)   # known once the transaction is through

    def _release(self, row: int, iccid: str, lease: int, station: str, reader: str,
                 why: str) -> None:
        self._run("UPDATE scboot_rows SET state = 'pending', previous = NULL, lease_id = NULL, "
                  "reader = NULL, claimed = NULL WHERE id = ? AND lease_id = ?", (row, lease))
        self._run("INSERT INTO scboot_results (row_id, iccid, station, reader, lease_id, "
                  "outcome, digest, keys, error, apdus, seconds, time) VALUES (?, ?, ?, ?, ?, "
                  "'released', '', '', ?, 0, 0, {now})",
                  (row, iccid, station, reader, lease, why))

    def _release_lease(self, lease: int, why: str) -> int:
        held = self._all("SELECT r.id, r.iccid, l.station, r.reader FROM scboot_rows r JOIN "
                         "scboot_leases l ON l.id = r.lease_id WHERE r.lease_id = ? AND "
                         "r.state = 'claimed'", (lease,))
        for row, iccid, station, reader in held:
            self._release(row, iccid, lease, station, reader or "", why)
        self._run("UPDATE scboot_leases SET ended = {now} WHERE id = ? AND ended IS NULL",
                  (lease,))
        return len(held)

    def end_lease(self, lease: int) -> int:
        """End the lease; rows it still holds return to the pool. Returns
        their number."""
        with self._tx():
            return self._release_lease(lease, "the station stopped with the card unfinished: "
                                              "it is checked again when seen next")

    def reap(self) -> int:
        """Return the claims of expired leases to the pool; their number."""
        with self._tx():
            expired = self._all("SELECT id, station FROM scboot_leases WHERE ended IS NULL "
                                "AND expires <= {now}")
            return sum(self._release_lease(int(lid), f"the lease of station {station} expired "
                                                     f"(it stopped answering): the card is "
                                                     f"checked again when seen next")
                       for lid, station in expired)

    # ---- claims ------------------------------------------------------------
    def claim(self, iccid: str, lease: int, reader: str) -> Optional[Claim]:
        """Claim the card's row (by ICCID), else bind the first free row to
        it. None: no row for this card. Raises RowHeld when a live lease
        holds the row."""
        own = (_CLAIM_OWN, (lease, reader, iccid))
        free = (_CLAIM_FREE, (iccid, lease, reader, iccid))
        for _ in range(3):
            try:
                got = self._claim_quick(own, free)
                if not got:
                    with self._tx():
                        got = self._claim_held(iccid, lease, own, free)
                return self._claim_of(got[0], iccid, lease) if got else None
            except StoreConflict:
                pass
        raise StoreUnavailable(f"claiming a row for ICCID {iccid}: three attempts clashed "
                               f"with other claims")

    def _claim_held(self, iccid: str, lease: int, own: Tuple[str, Sequence[Any]],
                    free: Tuple[str, Sequence[Any]]) -> List[Tuple[Any, ...]]:
        """The full claim, for what the quick one leaves: the card's row,
        locked, claimed by a live lease (RowHeld) or by an expired one
        (released, then claimed like any other); or no row to be had."""
        row = self._one("SELECT r.id, r.state, r.lease_id, l.station, r.reader, "
                        "l.expires - {now}, l.ended FROM scboot_rows r LEFT JOIN "
                        "scboot_leases l ON l.id = r.lease_id WHERE r.iccid = ?"
                        + self.LOCK_ROW, (iccid,))
        if row is not None and row[1] == "claimed":
            rid, _, holder, station, held_by, left, ended = row
            if ended is None and left is not None and left > 0:
                raise RowHeld(int(rid), str(station), str(held_by or ""), float(left),
                              holder == lease)
            self._release(int(rid), iccid, int(holder), str(station), str(held_by or ""),
                          f"the lease of station {station} expired (it stopped answering): "
                          f"the card is checked again")
        return self._claim_either(own, free)

    @staticmethod
    def _claim_of(row: Sequence[Any], iccid: str, lease: int) -> Claim:
        """A Claim from a claim statement's row (_COLUMNS, previous)."""
        return Claim(row=int(row[0]), import_id=int(row[1]), source_row=int(row[2]),
                     iccid=iccid, data=bytes(row[4]), digest=bytes.fromhex(row[5]),
                     keys_ref=row[6], new_keys_ref=row[7], replace_kvn=row[8],
                     previous=str(row[len(_COLUMNS)]), lease=lease, options=row[9])

    @staticmethod
    def _result_insert(row: Optional[int], iccid: str, station: str, lease: Optional[int],
                       result: Mapping[str, Any], error: str,
                       lost: Optional[str] = None) -> Tuple[str, Tuple[Any, ...]]:
        """The INSERT appending a result (SQL, parameters). With ``lost``
        the error is chosen by the SQL's ``{matched}``, a condition the
        caller puts in: ``error`` when it holds, ``lost`` when not."""
        return ("INSERT INTO scboot_results (row_id, iccid, station, reader, lease_id, outcome, "
                "digest, keys, error, apdus, seconds, time, card_digest) VALUES (?, ?, ?, ?, ?, "
                "?, ?, ?, " + ("?" if lost is None else "CASE WHEN {matched} THEN ? ELSE ? END")
                + ", ?, ?, {now}, ?)",
                (row, iccid, station, str(result.get("reader") or ""), lease,
                 str(result["outcome"]), str(result.get("digest") or ""),
                 str(result.get("keys") or ""), error) + (() if lost is None else (lost,))
                + (int(result.get("apdus") or 0), float(result.get("seconds") or 0.0),
                   str(result.get("card_digest") or "")))

    def _finish_quick(self, update: Tuple[str, Sequence[Any]],
                      insert: Tuple[str, Sequence[Any]]) -> bool:
        """Run the end of a claim (the row's UPDATE, then the result's
        INSERT, whose ``{matched}`` is whether the UPDATE matched) as one
        transaction; whether it matched. A backend may run them as one
        statement."""
        with self._tx():
            matched: bool = self._run(*update).rowcount == 1
            self._run(insert[0].replace("{matched}", "1 = 1" if matched else "1 = 0"), insert[1])
        return matched

    def finish(self, claim: Claim, station: str, result: Mapping[str, Any]) -> bool:
        """End the claim with the card's result (keys of RESULT_FIELDS);
        False when the claim had been lost (the result is still appended,
        saying so, and the row keeps the state its new holder gave it)."""
        outcome = str(result["outcome"])
        if outcome not in STATES or outcome in ("pending", "claimed"):
            raise ValueError(f"not an outcome: {outcome!r}")
        # A card found holding its data stays "written" if it was: done is done.
        state = claim.previous if outcome == "skipped" and claim.previous in _DONE else outcome
        error = str(result.get("error") or "")
        lost = (error + "; " if error else "") + ("the claim was lost (the lease expired and "
                                                  "another station took the row): the row is "
                                                  "not changed")
        # Still this claim's: held by its lease, or released while this
        # station was away and not taken by another since.
        return self._finish_quick(
            ("UPDATE scboot_rows SET state = ?, previous = NULL, lease_id = NULL, reader = NULL, "
             "claimed = NULL WHERE id = ? AND iccid = ? AND (lease_id = ? AND state = 'claimed' "
             "OR lease_id IS NULL AND state = 'pending')",
             (state, claim.row, claim.iccid, claim.lease)),
            self._result_insert(claim.row, claim.iccid, station, claim.lease, result, error,
                                lost))

    def record_unmatched(self, iccid: str, station: str, lease: Optional[int],
                         result: Mapping[str, Any]) -> None:
        """Audit a card that had no row (or never reached a claim)."""
        with self._tx():
            self._run(*self._result_insert(None, iccid, station, lease, result,
                                           str(result.get("error") or "")))

    # ---- reading -------------------------------------------------------------
    def remaining(self) -> int:
        """Rows not yet written or skipped."""
        with self._tx(write=False):
            row = self._one("SELECT count(*) FROM scboot_rows WHERE state NOT IN "
                            "('written', 'skipped')")
        return int(row[0]) if row else 0

    def status(self) -> Dict[str, Any]:
        """The batch's counts: rows per state, claims per station, free
        rows, the stations' leases."""
        with self._tx(write=False):
            states = {str(st): int(n) for st, n in
                      self._all("SELECT state, count(*) FROM scboot_rows GROUP BY state")}
            claimed = self._all("SELECT l.station, count(*) FROM scboot_rows r JOIN "
                                "scboot_leases l ON l.id = r.lease_id WHERE r.state = 'claimed' "
                                "GROUP BY l.station ORDER BY l.station")
            extra = self._one("SELECT count(*), sum(CASE WHEN iccid IS NULL THEN 1 ELSE 0 END), "
                              "sum(bound), sum(CASE WHEN state = 'pending' AND bound = 1 THEN 1 "
                              "ELSE 0 END) FROM scboot_rows") or (0, 0, 0, 0)
            audit = self._one("SELECT count(*), sum(CASE WHEN row_id IS NULL THEN 1 ELSE 0 "
                              "END), sum(CASE WHEN outcome = 'released' THEN 1 ELSE 0 END) "
                              "FROM scboot_results") or (0, 0, 0)
            leases = self._all("SELECT station, host, pid, expires - {now} FROM scboot_leases "
                               "WHERE ended IS NULL ORDER BY id")
            imports = self._one("SELECT count(*) FROM scboot_imports") or (0,)
        out: Dict[str, Any] = {"rows": int(extra[0] or 0), "imports": int(imports[0] or 0)}
        for s in STATES:
            out[s] = int(states.get(s, 0))
        out["claimed"] = {str(st): int(n) for st, n in claimed}
        out["free"] = int(extra[1] or 0)
        out["bound"] = int(extra[2] or 0)
        out["pending_bound"] = int(extra[3] or 0)
        out["results"] = int(audit[0] or 0)
        out["unmatched"] = int(audit[1] or 0)
        out["released"] = int(audit[2] or 0)
        out["stations"] = [{"station": str(st), "host": str(h), "pid": int(p),
                            "lease_left": round(float(left), 1)} for st, h, p, left in leases]
        return out

    def results(self) -> Iterator[Dict[str, Any]]:
        """The audit table in order, as report records (RESULT_FIELDS)."""
        with self._tx(write=False):
            rows = self._all("SELECT time, reader, iccid, row_id, outcome, digest, keys, error, "
                             "apdus, seconds, station, card_digest FROM scboot_results "
                             "ORDER BY id")
        for r in rows:
            record = dict(zip(RESULT_FIELDS, r))
            record["time"] = iso_time(float(r[0]))
            record["seconds"] = float(r[9])
            yield record


def open_store(uri: str, create: bool = False) -> Store:
    """A connection to the store at ``uri`` (``sqlite:PATH`` or a libpq
    ``postgresql://`` URI), its schema checked (``create``: made when the
    database is empty)."""
    backend: Type[Store]
    if uri.startswith("sqlite:"):
        from ._store_sqlite import SqliteStore as backend
    elif uri.startswith(("postgresql://", "postgres://")):
        from ._store_pg import PgStore as backend
    else:
        raise StoreError(f"{display_uri(uri)}: not a store URI (sqlite:PATH or "
                         f"postgresql://...)")
    store = backend.connect(uri, create)
    try:
        store.check_schema(create)
    except BaseException:
        store.close()
        raise
    return store


def default_uri(job_path: str) -> str:
    """The store of a one-station run from a job file: next to the job
    (``cards.csv`` -> ``cards.store.sqlite``)."""
    stem, dot, ext = job_path.rpartition(".")
    if not dot or "/" in ext:
        stem = job_path
    return f"sqlite:{stem}.store.sqlite"

