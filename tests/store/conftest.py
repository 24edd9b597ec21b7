"""Shared pieces of the job store tests: the package from the build tree,
a PostgreSQL server of the tests' own (pg_server.py; one per test session,
a fresh database per test) and an SQLite file per test, virtual cards in
process, jobs and key files."""
import itertools
import json
import os
import pathlib
import sys

import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("SCB_BUILD_DIR", SOURCE_DIR / "build")).resolve()
if not any(pathlib.Path(p, "scboot").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(BUILD_DIR / "python"))

import scboot  # noqa: E402
from pg_server import PgServer  # noqa: E402

PACKAGE_PARENT = str(pathlib.Path(scboot.__file__).resolve().parents[1])
GP_KEY = "404142434445464748494A4B4C4D4E4F"
# Keys of the cards that have their own (never the GP test keys), to look
# for in the stores' bytes: none of them may ever be there.
CARD_KEYS = {"enc": "7A1C33D05E9B42F18C6D2E7F90A1B3C4", "mac": "5B2E4D6F8091A2B3C4D5E6F708192A3B",
             "dek": "C0FFEE00DEADBEEF0123456789ABCDEF", "kvn": 48}
_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server():
    server = PgServer().start()
    yield server
    server.remove()


@pytest.fixture
def pg_uri(pg_server):
    """A fresh database of the session's server."""
    return pg_server.create_db(f"t{os.getpid()}_{next(_db_numbers)}")


@pytest.fixture
def sqlite_uri(tmp_path):
    return f"sqlite:{tmp_path / 'store.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_uri(request, tmp_path):
    """Each test once per backend."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_uri")


def account(n, big=0):
    """Bootstrap data with identity and PSK of its own (and ``big`` opaque
    bytes, for a write of several commands)."""
    doc = {"security": [{"server_uri": "coaps://bs.example.com:5684", "bootstrap_server": True,
                         "security_mode": 0,
                         "public_key_or_identity": f"node-{n:05d}".encode().hex(),
                         "secret_key": f"{n:032x}"}],
           "servers": [{"short_server_id": 1, "lifetime": 3600, "binding": "U"}]}
    if big:
        doc["objects"] = [{"id": 10241, "instances": [{"id": 0, "resources": {
            "0": {"hex": f"{n % 256:02x}" * big}}}]}]
    return doc


def encoded(doc):
    with scboot.Bootstrap(doc) as bs:
        return bs.encode()


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def key_file(path, keys):
    path.write_text(json.dumps(keys))
    os.chmod(path, 0o600)
    return path


def iccid(n):
    return f"8988301{n:012d}"


class Raw:
    """SQL straight to the store's database, not through scboot: psql for
    PostgreSQL, the sqlite3 module (SQLite itself) for a file. Rows come
    back as lists of strings."""

    def __init__(self, uri, pg_server=None):
        self.uri = uri
        self.pg = pg_server

    def __call__(self, sql):
        if self.uri.startswith("sqlite:"):
            import sqlite3
            conn = sqlite3.connect(self.uri[len("sqlite:"):], isolation_level=None)
            try:
                return [["" if v is None else str(v) for v in row]
                        for row in conn.execute(sql).fetchall()]
            finally:
                conn.close()
        db = self.uri.split("///", 1)[1].split("?", 1)[0]
        out = self.pg.psql(db, sql)
        return [line.split("|") for line in out.splitlines()] if out else []

    def fails(self, sql):
        """The statement's error text (AssertionError when it succeeds)."""
        try:
            self(sql)
        except Exception as e:  # sqlite3.Error or psql's RuntimeError
            return str(e)
        raise AssertionError(f"{sql!r} was not refused")

    def stored_bytes(self):
        """Every byte the store holds: the SQLite file with its WAL and
        shared memory, or a pg_dump and the server's data files."""
        if self.uri.startswith("sqlite:"):
            path = pathlib.Path(self.uri[len("sqlite:"):])
            return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        db = self.uri.split("///", 1)[1].split("?", 1)[0]
        files = [p for p in self.pg.data.rglob("*") if p.is_file()]
        return self.pg.dump(db) + b"".join(p.read_bytes() for p in files)


@pytest.fixture
def raw(store_uri, request):
    pg = request.getfixturevalue("pg_server") if store_uri.startswith("postgresql") else None
    return Raw(store_uri, pg)


def assert_no_key_material(data, *keys):
    """None of the keys' bytes, in any spelling, in data."""
    for k in keys:
        for part in ("enc", "mac", "dek"):
            value = k[part]
            for form in (value.upper().encode(), value.lower().encode(), bytes.fromhex(value)):
                assert form not in data, f"{part} key found in the store"
