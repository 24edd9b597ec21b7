"""Stations working from a job store, with in-process virtual cards that
come and go (line.py): a batch served to the end, keys by reference only,
a card seen again, a claim whose station died, interrupted writes, key
rotation, PKCS#11 references, and the database going away mid-batch."""
import json
import signal
import threading
import time

import pytest

import scboot
from conftest import (CARD_KEYS, GP_KEY, account, assert_no_key_material, encoded, iccid,
                      key_file, write_jsonl)
from line import Line
from pg_server import PgServer
from scboot._job import Job
from scboot._station import Station
from scboot._store import StoreUnavailable, open_store
from scboot._store_import import import_job, store_rows
from scboot.provision import Options, Provisioner
from scboot.sim import VirtualCard

READERS = ["r0", "r1", "r2", "r3"]
GP = {"enc": GP_KEY, "mac": GP_KEY, "dek": GP_KEY, "kvn": 48}


def import_rows(uri, tmp_path, rows, **kw):
    job_path = write_jsonl(tmp_path / "job.jsonl", rows)
    with Job.load(str(job_path), need_keys=False) as job:
        srows = store_rows(job, str(job_path), allow_inline=False, **kw)
    with open_store(uri, create=True) as store:
        return import_job(store, srows, str(job_path))


def profile(n, own_keys=False, **extra):
    p = {"iccid": iccid(n), **extra}
    if own_keys:
        p["scp03"] = {"keys": [CARD_KEYS]}
    return p


def serve(uri, line, name="line-1", lease=5.0, **options):
    options.setdefault("keys", scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30))
    with Station(uri, name, lease=lease) as station:
        prov = Provisioner(station, Options(**options), line, open_card=line.open_card)
        results = prov.serve(line.readers, present=line.present, poll=0.05, recheck=0.5)
    return station, results


def batch(n_named, n_free, big=0):
    """Rows for cards 0..n_named-1 (even ones with keys of their own, by
    reference), then n_free rows for any card; the cards' profiles."""
    rows = [{"iccid": iccid(i), "bootstrap": account(i, big)} for i in range(n_named)]
    for i in range(0, n_named, 2):
        rows[i]["keys"] = "keys/${iccid}.json"
    rows += [{"bootstrap": account(1000 + i, big)} for i in range(n_free)]
    cards = [profile(i, own_keys=i % 2 == 0) for i in range(n_named)]
    cards += [profile(500 + i) for i in range(n_free)]
    return rows, cards


def key_files(tmp_path, n_named):
    (tmp_path / "keys").mkdir(exist_ok=True)
    for i in range(0, n_named, 2):
        key_file(tmp_path / "keys" / f"{iccid(i)}.json", CARD_KEYS)


def deal(cards, readers=READERS):
    return {r: cards[k::len(readers)] for k, r in enumerate(readers)}


def test_a_station_serves_a_batch_of_cards_that_come_and_go(store_uri, raw, tmp_path):
    rows, cards = batch(8, 8)
    key_files(tmp_path, 8)
    import_rows(store_uri, tmp_path, rows)
    line = Line(deal(cards))
    station, results = serve(store_uri, line)
    assert len(results) == 16 and {r["outcome"] for r in results} == {"written"}, results
    assert {(r["station"], r["reader"]) for r in results} == {("line-1", r) for r in READERS}
    # Each card holds its row's data: by ICCID, or the free row it was bound to.
    bound = {i: int(r) for r, i in raw("SELECT id, iccid FROM scboot_rows")}
    for i, row in bound.items():
        want = encoded(rows[row - 1]["bootstrap"])
        assert line.content(i, len(want)) == want, i
    identities = {json.dumps(rows[row - 1]["bootstrap"]["security"][0]) for row in bound.values()}
    assert len(bound) == 16 and len(identities) == 16
    st = raw("SELECT state, count(*) FROM scboot_rows GROUP BY state")
    assert st == [["written", "16"]]
    assert raw("SELECT count(*) FROM scboot_results WHERE outcome = 'written'") == [["16"]]
    assert raw("SELECT count(*) FROM scboot_leases WHERE ended IS NULL") == [["0"]]
    assert_no_key_material(raw.stored_bytes(), CARD_KEYS, GP)
    line.close()


def test_a_card_seen_again_gets_its_row_by_iccid(store_uri, raw, tmp_path):
    rows, cards = batch(0, 2)
    import_rows(store_uri, tmp_path, rows)
    line = Line(deal(cards, ["r0", "r1"]))
    serve(store_uri, line)
    first = {r["iccid"]: r["row"] for r in line.results}
    line.insert("r0", line.cards[iccid(501)])
    line.insert("r1", line.cards[iccid(500)])
    with Station(store_uri, "line-2") as station:
        prov = Provisioner(station, Options(keys=scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=48)),
                           line, open_card=line.open_card)
        again = prov.run(["r0", "r1"])
    assert {r["iccid"]: (r["row"], r["outcome"]) for r in again} == {
        i: (row, "skipped") for i, row in first.items()}
    assert raw("SELECT state FROM scboot_rows") == [["written"], ["written"]]   # done stays done
    line.close()


@pytest.mark.parametrize("card_done", [True, False])
def test_a_card_whose_station_died_is_checked_by_digest(store_uri, raw, tmp_path, card_done):
    """A station claimed the row and died (no heartbeat): after its lease
    the next station takes the row over and checks the card by digest."""
    rows, cards = batch(0, 1)
    import_rows(store_uri, tmp_path, rows)
    line = Line({"r0": cards})
    with open_store(store_uri) as store:
        store.claim(iccid(500), store.start_lease("died", 1.0), "r7")
    if card_done:   # it had written the card, then died before recording it
        with line.open_card("r0") as card, scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=48) as k:
            card.write_bootstrap(encoded(rows[0]["bootstrap"]), k)
    start = time.monotonic()
    _, results = serve(store_uri, line, name="next")
    assert time.monotonic() - start >= 0.8   # it waited for the lease to run out
    assert [(r["row"], r["outcome"]) for r in results] == [
        (1, "skipped" if card_done else "written")]
    audit = raw("SELECT station, reader, outcome FROM scboot_results ORDER BY id")
    assert audit == [["died", "r7", "released"],
                     ["next", "r0", "skipped" if card_done else "written"]]
    line.close()


def test_an_interrupted_write_is_written_again(sqlite_uri, tmp_path):
    rows, cards = batch(1, 0, big=600)
    rows[0].pop("keys")
    import_rows(sqlite_uri, tmp_path, rows)
    line = Line({"r0": [profile(0)]})
    vc = line.cards[iccid(0)]
    # A dry run on a copy: which command is the first UPDATE BINARY?
    commands = []
    with VirtualCard(profile(0)) as copy, Job.load(str(tmp_path / "job.jsonl"),
                                                   need_keys=False) as job:
        def traced(reader):
            card = copy.card()
            card.set_trace(lambda kind, text: commands.append(text.split()[2])
                           if kind == scboot.TraceKind.WIRE_CMD else None)
            return card
        assert Provisioner(job, Options(keys=scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=48)),
                           open_card=traced).provision("x")["outcome"] == "written"
    assert commands.count("D6") >= 2   # the write takes several commands
    # The card answers the first, then is gone.
    vc.set_faults(disconnect_after=vc.apdu_count + commands.index("D6") + 1)
    with Station(sqlite_uri, "s", lease=5) as station:
        prov = Provisioner(station, Options(keys=scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=48)),
                           line, open_card=line.open_card)
        first = prov.run(["r0"])[0]
        assert first["outcome"] == "interrupted", first
        with open_store(sqlite_uri) as store:
            assert store.status()["interrupted"] == 1
        vc.set_faults(disconnect_after=0)
        vc.reset()
        line.insert("r0", vc)
        second = prov.run(["r0"])[0]
    assert second["outcome"] == "written"
    want = encoded(rows[0]["bootstrap"])
    assert line.content(iccid(0), len(want)) == want
    line.close()


def test_keys_rotated_by_reference(store_uri, raw, tmp_path):
    new = {"enc": "9D3E1A7705C24B6F8E21D0A4B7C35E19", "mac": "E6204BD1937A58C2F0148E6B2D9A7C31",
           "dek": "2B8F6D40C1E97A35D2067B9E4F18A3C5", "kvn": 49}
    (tmp_path / "new").mkdir()
    key_file(tmp_path / "new" / f"{iccid(0)}.json", new)
    import_rows(store_uri, tmp_path, [{"iccid": iccid(0), "bootstrap": account(0),
                                       "new_keys": "new/${iccid}.json"}])
    line = Line({"r0": [profile(0)]})
    _, results = serve(store_uri, line)
    assert [(r["outcome"], r["keys"]) for r in results] == [("written", "rotated")]
    with line.cards[iccid(0)].card() as card, scboot.Keys.from_json(json.dumps(new)) as k:
        assert card.read_bootstrap(k).security
    assert raw("SELECT new_keys_ref FROM scboot_rows") == [
        [str(tmp_path / "new" / "${iccid}.json")]]
    assert_no_key_material(raw.stored_bytes(), new, GP)
    line.close()


def test_a_pkcs11_reference_goes_to_the_key_loader(sqlite_uri, tmp_path):
    """Stored as given, filled in per card, opened by the loader through
    the token's module: a module that is not there fails the card in one
    line naming the reference (the token tests, tests/pkcs11, provision
    with real token keys)."""
    ref = "pkcs11:token=line-1;object=card-${iccid}?module-path=/nonexistent/libnone.so"
    import_rows(sqlite_uri, tmp_path, [{"iccid": iccid(0), "bootstrap": account(0),
                                        "keys": ref}])
    with open_store(sqlite_uri) as store:
        assert store.key_references() == {"named": 1}
    line = Line({"r0": [profile(0)]})
    with Station(sqlite_uri, "s") as station:
        prov = Provisioner(station, Options(), line, open_card=line.open_card)
        r = prov.run(["r0"])[0]
        assert not station.stopped.is_set()   # only a refused PIN stops a station
    assert r["outcome"] == "failed" and "\n" not in r["error"]
    assert r["error"].startswith(f"keys {ref.replace('${iccid}', iccid(0))}: "), r["error"]
    assert "(SCB_E_P11_MODULE)" in r["error"] or "(SCB_E_UNSUPPORTED)" in r["error"], r["error"]
    with open_store(sqlite_uri) as store:
        assert store.status()["failed"] == 1
    line.close()


# ---- the database going away ---------------------------------------------------------

@pytest.fixture
def own_pg():
    """A server for this test alone (it is stopped or frozen mid-batch)."""
    server = PgServer().start()
    yield server
    server.remove()


def _truth(server, line, db):
    """Rows the store calls done: each card must hold its row's data."""
    written = server.psql(db, "SELECT iccid, encode(data, 'hex') FROM scboot_rows WHERE state "
                              "IN ('written', 'skipped')")
    pairs = [w.split("|") for w in written.splitlines()] if written else []
    for i, data in pairs:
        assert line.content(i, len(data) // 2).hex() == data, i
    return len(pairs)


@pytest.mark.parametrize("how", ["stopped", "frozen"])
def test_the_database_going_away_stops_the_station_cleanly(own_pg, tmp_path, how):
    db = "line"
    uri = own_pg.create_db(db)
    if how == "frozen":   # a short statement timeout: this side's deadline follows it
        uri += "&options=-c%20statement_timeout%3D1500"
    rows, cards = batch(0, 40)
    import_rows(uri, tmp_path, rows)
    cards = [dict(c, faults={"delay_ms": 10}) for c in cards]
    line = Line(deal(cards))
    done = threading.Event()
    out = {}

    def station():
        out["station"], out["results"] = serve(uri, line, lease=3.0)
        done.set()

    t = threading.Thread(target=station)
    t.start()
    while len(line.results) < 8:
        time.sleep(0.02)
    if how == "frozen":
        own_pg.freeze()
    else:
        own_pg.stop(signal.SIGQUIT)   # immediate: connections drop
    stopped_at = time.monotonic()
    assert done.wait(30), "the station did not stop"
    took = time.monotonic() - stopped_at
    t.join()
    station = out["station"]
    assert isinstance(station.failure, StoreUnavailable), station.failure
    assert took < (10 if how == "frozen" else 5), took
    not_recorded = [r for r in out["results"] if "not recorded in the store" in r["error"]]
    assert len(out["results"]) < 40 and not any(
        r["outcome"] == "written" for r in out["results"] if "the store failed" in r["error"])
    # The server back: what it says was written, the cards hold.
    own_pg.thaw()
    own_pg.stop()
    own_pg.start()
    assert _truth(own_pg, line, db) >= 8
    # A new station finishes the batch: the cards caught in the middle are
    # found holding their data or written now, none twice.
    for r in not_recorded + [r for r in out["results"] if r["outcome"] != "written"]:
        if r["iccid"] in line.cards:
            line.insert(r["reader"], line.cards[r["iccid"]])
    serve(uri, line, name="line-2", lease=1.0)
    assert own_pg.psql(db, "SELECT count(*) FROM scboot_rows WHERE state NOT IN ('written', "
                           "'skipped')") == "0"
    assert _truth(own_pg, line, db) == 40
    per_row = own_pg.psql(db, "SELECT max(n) FROM (SELECT count(*) n FROM scboot_results WHERE "
                              "outcome = 'written' GROUP BY row_id) x")
    assert per_row == "1"
    line.close()


def test_a_rows_s16_goes_through_the_store_to_its_card(store_uri, raw, tmp_path):
    """S8 and S16 cards in one batch need nothing (the library detects the
    mode); a row's s16 is kept in the store (its options, part of the row's
    fixed identity) and forced on its card."""
    s16 = {"scp03": {"i": "0x71", "s16": True}}
    rows = [{"iccid": iccid(0), "bootstrap": account(0)},
            {"iccid": iccid(1), "bootstrap": account(1)},
            {"iccid": iccid(2), "bootstrap": account(2), "s16": True},
            {"iccid": iccid(3), "bootstrap": account(3), "s16": False}]
    import_rows(store_uri, tmp_path, rows)
    assert raw("SELECT source_row, options FROM scboot_rows ORDER BY id") == [
        ["1", ""], ["2", ""], ["3", '{"s16": true}'], ["4", '{"s16": false}']]
    assert "never change" in raw.fails("UPDATE scboot_rows SET options = NULL WHERE id = 3")
    line = Line({f"r{i}": [profile(i, **(s16 if i else {}))] for i in range(4)})
    with Station(store_uri, "s") as station:
        prov = Provisioner(station, Options(keys=scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=48)),
                           line, open_card=line.open_card)
        res = {r["reader"]: r for r in prov.run(line.readers)}
    assert [res[f"r{i}"]["outcome"] for i in range(4)] == ["written"] * 3 + ["failed"], res
    assert "(key version 0x30, S8) answered 6700" in res["r3"]["error"]
    audit = raw("SELECT iccid, outcome, card_digest = digest FROM scboot_results ORDER BY iccid")
    assert [row[1] for row in audit] == ["written", "written", "written", "failed"]
    line.close()
