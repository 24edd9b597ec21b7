"""The job store's guarantees, on SQLite and on PostgreSQL alike: schema
versions, all-or-nothing imports, exactly-once claims under contention,
leases that expire, an audit that is only ever appended to."""
import threading
import time

import pytest

from scboot._store import (SCHEMA_VERSION, RowHeld, StoreError, StoreRow, StoreUnavailable,
                           open_store)


def rows(n, with_iccid=0, start=1):
    """n rows; the first with_iccid name a card."""
    return [StoreRow(source_row=i, iccid=f"89{i:08d}" if i < start + with_iccid else None,
                     data=b"D%05d" % i, digest=bytes([i % 256]) * 32, keys_ref=None,
                     new_keys_ref=None, replace_kvn=None)
            for i in range(start, start + n)]


@pytest.fixture
def store(store_uri):
    s = open_store(store_uri, create=True)
    yield s
    s.close()


def test_schema_version_is_recorded_and_a_newer_one_is_refused(store, store_uri, raw):
    assert raw("SELECT value FROM scboot_meta WHERE name = 'schema'") == [[str(SCHEMA_VERSION)]]
    open_store(store_uri).close()   # an existing store opens without create
    raw(f"UPDATE scboot_meta SET value = '{SCHEMA_VERSION + 1}' WHERE name = 'schema'")
    with pytest.raises(StoreError) as e:
        open_store(store_uri)
    text = str(e.value)
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this scboot knows" in text
    assert "\n" not in text


def test_import_is_all_or_nothing(store, raw):
    store.import_rows(rows(4, with_iccid=2), "a.jsonl", "digest-a")
    clash = rows(3, with_iccid=3, start=1)   # ICCIDs of rows 1 and 2 again
    with pytest.raises(StoreError) as e:
        store.import_rows(clash, "b.jsonl", "digest-b")
    assert "b.jsonl row 1: ICCID 8900000001 is already in the store (row 1)" in str(e.value)
    assert "b.jsonl row 2:" in str(e.value)
    assert raw("SELECT count(*) FROM scboot_rows") == [["4"]]
    with pytest.raises(StoreError, match="already in the store"):
        store.import_rows(rows(4), "a.jsonl", "digest-a")   # the same job twice
    second = store.import_rows(rows(2, start=10), "c.jsonl", "digest-c")
    assert raw(f"SELECT min(id), max(id) FROM scboot_rows WHERE import_id = {second}") == [
        ["5", "6"]]   # numbered after the first import


def test_claims_by_iccid_then_free_rows_bound_to_the_card(store):
    store.import_rows(rows(4, with_iccid=2), "job", "d")
    lease = store.start_lease("s1", 30)
    own = store.claim("8900000002", lease, "r0")
    assert (own.row, own.iccid, own.previous) == (2, "8900000002", "pending")
    free = store.claim("7777", lease, "r1")
    assert (free.row, free.iccid) == (3, "7777")
    with pytest.raises(RowHeld) as held:
        store.claim("7777", lease, "r2")
    assert held.value.own and held.value.row == 3
    assert store.finish(free, "s1", {"outcome": "written", "reader": "r1"})
    again = store.claim("7777", lease, "r2")   # a card seen twice: its row, by ICCID
    assert (again.row, again.previous, again.data) == (3, "written", free.data)
    assert store.finish(again, "s1", {"outcome": "skipped", "reader": "r2"})
    assert store.claim("8888", lease, "r3").row == 4
    assert store.claim("9999", lease, "r3") is None   # no row left for a new card
    st = store.status()
    assert (st["written"], st["claimed"], st["free"], st["bound"]) == (1, {"s1": 2}, 0, 2)


def test_concurrent_claims_give_every_row_once(store, store_uri, raw):
    """8 threads, each its own connection, 30 cards each, 200 free rows:
    200 cards get a row each, no row goes to two cards, 40 get none."""
    store.import_rows(rows(200), "job", "d")
    got, errors = {}, []
    start = threading.Barrier(8)

    def station(n):
        try:
            with open_store(store_uri) as s:
                lease = s.start_lease(f"s{n}", 60)
                start.wait()
                for k in range(30):
                    iccid = f"{n}{k:03d}"
                    c = s.claim(iccid, lease, f"r{n}")
                    got[iccid] = None if c is None else c.row
                    if c is not None and k % 3 == 0:
                        s.finish(c, f"s{n}", {"outcome": "written", "reader": f"r{n}"})
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=station, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    given = [r for r in got.values() if r is not None]
    assert len(got) == 240 and len(given) == 200 and len(set(given)) == 200
    bound = raw("SELECT id, iccid FROM scboot_rows ORDER BY id")
    assert {int(r): i for r, i in bound} == {r: i for i, r in got.items() if r is not None}


def test_results_are_appended_and_rows_keep_their_identity(store, raw):
    store.import_rows(rows(2), "job", "d")
    lease = store.start_lease("s1", 30)
    c = store.claim("1234", lease, "r0")
    store.finish(c, "s1", {"outcome": "failed", "reader": "r0", "error": "the card refused"})
    assert "append" in raw.fails("UPDATE scboot_results SET outcome = 'written'")
    assert "append" in raw.fails("DELETE FROM scboot_results")
    assert "never change" in raw.fails("UPDATE scboot_rows SET iccid = '999' WHERE id = 1")
    assert "never change" in raw.fails("UPDATE scboot_rows SET data = data || data")
    assert "never" in raw.fails("DELETE FROM scboot_rows")
    assert raw("SELECT station, reader, outcome, error FROM scboot_results") == [
        ["s1", "r0", "failed", "the card refused"]]
    assert raw("SELECT state FROM scboot_rows WHERE id = 1") == [["failed"]]


def test_an_expired_lease_returns_its_claims_and_keeps_the_bindings(store, raw):
    store.import_rows(rows(3, with_iccid=1), "job", "d")
    dead = store.start_lease("gone", 0.4)
    own, free = store.claim("8900000001", dead, "r0"), store.claim("5555", dead, "r1")
    other = store.start_lease("alive", 30)
    with pytest.raises(RowHeld) as held:
        store.claim("5555", other, "r9")
    assert held.value.station == "gone" and not held.value.own
    time.sleep(0.6)
    assert not store.renew_lease(dead, 30)   # too late: its claims are not its own now
    assert store.reap() == 2
    assert raw("SELECT id, state, iccid FROM scboot_rows ORDER BY id") == [
        ["1", "pending", "8900000001"], ["2", "pending", "5555"], ["3", "pending", ""]]
    assert raw("SELECT station, outcome FROM scboot_results ORDER BY id") == [
        ["gone", "released"], ["gone", "released"]]
    again = store.claim("5555", other, "r9")   # the same identity for the same card
    assert again.row == free.row == 2
    # The dead station's result for the other card still counts (nobody
    # took the row in between); for this one it does not.
    assert store.finish(own, "gone", {"outcome": "written", "reader": "r0"})
    assert not store.finish(free, "gone", {"outcome": "written", "reader": "r1"})
    assert raw("SELECT state FROM scboot_rows ORDER BY id") == [["written"], ["claimed"],
                                                               ["pending"]]
    assert "the claim was lost" in raw("SELECT error FROM scboot_results ORDER BY id DESC "
                                       "LIMIT 1")[0][0]


def test_a_claim_of_an_expired_lease_is_taken_over_at_once(store, raw):
    store.import_rows(rows(1, with_iccid=1), "job", "d")
    dead = store.start_lease("gone", 0.2)
    store.claim("8900000001", dead, "r0")
    time.sleep(0.4)
    c = store.claim("8900000001", store.start_lease("next", 30), "r5")
    assert c.previous == "pending"
    assert raw("SELECT station, reader, outcome FROM scboot_results") == [
        ["gone", "r0", "released"]]


def test_ending_a_lease_releases_what_it_holds(store):
    store.import_rows(rows(2), "job", "d")
    lease = store.start_lease("s", 30)
    store.claim("1", lease, "r0")
    assert store.end_lease(lease) == 1
    st = store.status()
    assert st["pending"] == 2 and st["pending_bound"] == 1 and st["stations"] == []
    assert st["released"] == 1


@pytest.mark.parametrize("uri,message", [
    ("mysql://db", "mysql://db: not a store URI (sqlite:PATH or postgresql://...)"),
    ("sqlite:", "sqlite:: no file name (sqlite:PATH)"),
    ("sqlite:/nonexistent-dir/store.sqlite", "No such file or directory"),
    ("postgresql://u@h/db?nosuchparam=1", "not a PostgreSQL URI"),
    ("postgresql://u:s3cret@[::1/db", "not a PostgreSQL URI"),
    ("postgresql://u:s3cret@/db?host=/nonexistent-dir&connect_timeout=2", "cannot connect"),
])
def test_bad_store_uris_are_one_line(uri, message):
    with pytest.raises(StoreError) as e:
        open_store(uri, create=True)
    text = str(e.value)
    assert message in text and "\n" not in text and "s3cret" not in text


def test_not_a_store(tmp_path, pg_server):
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database at all" * 100)
    with pytest.raises(StoreError, match="not an SQLite database"):
        open_store(f"sqlite:{junk}", create=True)
    with pytest.raises(StoreError, match="no such file"):
        open_store(f"sqlite:{tmp_path / 'absent.sqlite'}")
    with pytest.raises(StoreError, match="no job store there"):
        open_store(pg_server.create_db("empty"))
    with pytest.raises(StoreUnavailable):
        open_store(pg_server.uri("nosuchdb"))


def test_sqlite_file_is_private(sqlite_uri):
    import os
    import stat
    with open_store(sqlite_uri, create=True) as s:
        s.import_rows(rows(1), "job", "d")
    path = sqlite_uri[len("sqlite:"):]
    for p in (path, path + "-wal"):
        if os.path.exists(p):
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p


def test_a_job_without_options_keeps_the_digest_it_had(store_uri, tmp_path):
    """What identifies a job (its digest) is what it was before rows could
    carry options, so a job imported by an earlier scboot is recognised."""
    import hashlib
    import json
    from scboot._store_import import job_digest
    plain = rows(3, with_iccid=1)
    h = hashlib.sha256()
    for r in plain:
        h.update(json.dumps([r.source_row, r.iccid, r.digest.hex(), r.keys_ref, r.new_keys_ref,
                             r.replace_kvn]).encode() + b"\n")
    assert job_digest(plain) == h.hexdigest()
    forced = [StoreRow(**dict(vars(plain[0]), options='{"s16": true}'))] + plain[1:]
    assert job_digest(forced) != job_digest(plain)


def test_a_store_of_schema_1_is_upgraded_when_opened(store_uri, raw):
    """Version 2 adds the rows' options and the results' card_digest; a
    version 1 store (made by the same path a new store takes, stopped at
    version 1) keeps its rows and results and gains both."""
    if store_uri.startswith("sqlite:"):
        from scboot._store_sqlite import SqliteStore as backend
        blob = "X'00'"
    else:
        from scboot._store_pg import PgStore as backend
        blob = "decode('00', 'hex')"
    old = backend.connect(store_uri, True)
    old.check_schema(True, version=1)
    old.close()
    assert raw("SELECT value FROM scboot_meta WHERE name = 'schema'") == [["1"]]
    raw("INSERT INTO scboot_imports (id, source, digest, rows, first_row, time) VALUES "
        "(1, 'old.jsonl', 'd', 2, 1, 0)")
    raw(f"INSERT INTO scboot_rows (id, import_id, source_row, iccid, data, digest) VALUES "
        f"(1, 1, 1, '8900000001', {blob}, 'ab'), (2, 1, 2, NULL, {blob}, 'cd')")
    raw("INSERT INTO scboot_results (row_id, iccid, station, reader, outcome, digest, keys, "
        "error, apdus, seconds, time) VALUES (1, '8900000001', 'old', 'r0', 'written', 'ab', "
        "'', '', 20, 0.5, 0)")
    with open_store(store_uri) as store:   # no create: an existing store, upgraded
        assert raw("SELECT value FROM scboot_meta WHERE name = 'schema'") == [
            [str(SCHEMA_VERSION)]]
        (old_result,) = list(store.results())
        assert (old_result["station"], old_result["card_digest"]) == ("old", "")
        lease = store.start_lease("s", 30)
        claim = store.claim("7777", lease, "r1")
        assert (claim.row, claim.options) == (2, None)
        assert store.finish(claim, "s", {"outcome": "written", "reader": "r1",
                                         "digest": "cd", "card_digest": "cd"})
        assert [r["card_digest"] for r in store.results()] == ["", "cd"]
    # the fixed-row rule covers the new column; results stay append-only
    assert "never change" in raw.fails("UPDATE scboot_rows SET options = 'x' WHERE id = 1")
    assert "never changed" in raw.fails("UPDATE scboot_results SET card_digest = 'x'")
    open_store(store_uri).close()   # upgraded once: opens as it is
