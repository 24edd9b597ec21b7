"""The job store in an SQLite file (``sqlite:PATH``), the default for one
station: WAL journal (readers never wait for the writer), every commit
synced (``synchronous=FULL``: a claim is on disk before the card is
written), claims under ``BEGIN IMMEDIATE`` (one writer at a time, taken
before the free row is read), every wait for the lock bounded by the busy
timeout. The file is created 0600: rows hold the cards' secret data."""
from __future__ import annotations

import os
import sqlite3
from typing import Any, Optional, Sequence

from ._store import (ROWS_FIXED_TRIGGER, STATEMENT_TIMEOUT, Store, StoreConflict, StoreError,
                     StoreUnavailable, fixed_row_condition)

__all__ = ["SqliteStore"]

_REFUSE = "BEGIN SELECT RAISE(ABORT, '{table}: {why}'); END"


class SqliteStore(Store):
    NOW = "((julianday('now') - 2440587.5) * 86400.0)"
    TYPES = {"serial": "INTEGER PRIMARY KEY", "real": "REAL", "blob": "BLOB"}
    PARAM = "?"

    def __init__(self, uri: str, conn: sqlite3.Connection) -> None:
        super().__init__()
        self.uri = uri
        self._conn = conn
        self._c = conn.cursor()

    @classmethod
    def connect(cls, uri: str, create: bool) -> "SqliteStore":
        path = uri[len("sqlite:"):]
        if path.startswith("///"):   # sqlite:///abs/path, the URL spelling
            path = path[2:]
        if not path:
            raise StoreError(f"{uri}: no file name (sqlite:PATH)")
        try:
            if create:
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            elif not os.path.isfile(path):
                raise StoreError(f"{uri}: no such file (import a job first: python3 -m "
                                 f"scboot.provision import JOB --store {uri})")
            conn = sqlite3.connect(path, timeout=STATEMENT_TIMEOUT, isolation_level=None,
                                   check_same_thread=False)
        except OSError as e:
            raise StoreError(f"{uri}: {e.strerror or e}") from None
        store = cls(uri, conn)
        try:
            for pragma in ("journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON",
                           f"busy_timeout = {int(STATEMENT_TIMEOUT * 1000)}"):
                store._c.execute(f"PRAGMA {pragma}")
        except sqlite3.Error as e:
            conn.close()
            mapped = store._map_error(e)
            raise (mapped or StoreError(f"{uri}: {e}")) from None
        return store

    def _cursor(self) -> Any:
        return self._conn.cursor()

    def _begin(self, write: bool) -> None:
        self._c.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def _map_error(self, e: Exception) -> Optional[StoreError]:
        if not isinstance(e, sqlite3.Error):
            return None
        text = str(e)
        if isinstance(e, sqlite3.IntegrityError) and text.startswith("UNIQUE"):
            return StoreConflict(f"{self.uri}: {text}")
        if isinstance(e, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
            return StoreUnavailable(f"{self.uri}: the database stayed locked for "
                                    f"{STATEMENT_TIMEOUT:g} s (another process holds it)")
        if isinstance(e, sqlite3.OperationalError) and ("I/O" in text or "unable" in text
                                                        or "readonly" in text):
            return StoreUnavailable(f"{self.uri}: {text}")
        if "not a database" in text:
            return StoreError(f"{self.uri}: not an SQLite database")
        return StoreError(f"{self.uri}: {text}")

    def _has_schema(self) -> bool:
        return self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                         "name = 'scboot_meta'") is not None

    def _triggers(self, version: int) -> Sequence[str]:
        appended = "results are appended, never changed"
        return (
            f"CREATE TRIGGER scboot_results_no_update BEFORE UPDATE ON scboot_results "
            f"{_REFUSE.format(table='scboot_results', why=appended)}",
            f"CREATE TRIGGER scboot_results_no_delete BEFORE DELETE ON scboot_results "
            f"{_REFUSE.format(table='scboot_results', why=appended)}",
            self._fixed(version),
            f"CREATE TRIGGER scboot_rows_no_delete BEFORE DELETE ON scboot_rows "
            f"{_REFUSE.format(table='scboot_rows', why='rows are never deleted')}",
        )

    @staticmethod
    def _fixed(version: int) -> str:
        fixed = "the data, keys and bound ICCID of a row never change"
        return (f"CREATE TRIGGER {ROWS_FIXED_TRIGGER} BEFORE UPDATE ON scboot_rows WHEN "
                f"{fixed_row_condition('IS NOT', version)} "
                f"{_REFUSE.format(table='scboot_rows', why=fixed)}")

    def _rows_fixed_trigger(self, version: int) -> Sequence[str]:
        return (f"DROP TRIGGER {ROWS_FIXED_TRIGGER}", self._fixed(version))

    def close(self) -> None:
        self._conn.close()
