"""End to end: stations as separate processes, each in a PC/SC world of
its own (tests/hardening/isolated.sh: its own pcscd, four vpcd readers,
loopback) with virtual cards that come and go (station_world.py), sharing
one store: three stations on one PostgreSQL (one of them SIGKILLed in the
middle of a write), or one station on SQLite. 120 cards, half of them
without a row of their own. Afterwards every card holds exactly what the
store says it holds, every row went to one card and was done once, every
identity reached one card, the counts add up, and no key is in the store."""
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import pytest

from card_pool import Pool
from conftest import (CARD_KEYS, GP_KEY, PACKAGE_PARENT, SOURCE_DIR, BUILD_DIR, account,
                      assert_no_key_material, encoded, iccid, key_file, write_jsonl, Raw)
from pg_server import PgServer

import scboot
from scboot.sim import VirtualCard
from line import BOOTSTRAP_EF

ISOLATED = SOURCE_DIR / "tests" / "hardening" / "isolated.sh"
WORLD = pathlib.Path(__file__).with_name("station_world.py")
N_NAMED, N_FREE = 60, 60
READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01", "Virtual PCD B 00 00",
           "Virtual PCD B 00 01")
GP = {"enc": GP_KEY, "mac": GP_KEY, "dek": GP_KEY, "kvn": 48}
BIG = 700   # bytes of opaque data per card: the write takes several UPDATE BINARY


def _env():
    return dict(os.environ, SCB_BUILD_DIR=str(BUILD_DIR), PYTHONDONTWRITEBYTECODE="1",
                PYTHONPATH=os.pathsep.join([PACKAGE_PARENT, str(WORLD.parent)]))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "scboot.provision", *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=_env())


@pytest.fixture(scope="module", autouse=True)
def namespaces():
    if subprocess.run([str(ISOLATED), "--check"]).returncode != 0:
        pytest.fail("these tests need private namespaces (root with CAP_SYS_ADMIN): "
                    "tests/hardening/isolated.sh --check fails")


def make_batch(tmp_path):
    """The job (60 rows naming a card, half of them with keys of their own
    by reference; 60 rows for any card), the 120 cards (shuffled), the
    station's key file."""
    (tmp_path / "keys").mkdir()
    rows, cards = [], []
    for i in range(N_NAMED):
        row = {"iccid": iccid(i), "bootstrap": account(i, BIG)}
        card = {"iccid": iccid(i)}
        if i % 2 == 0:
            row["keys"] = "keys/${iccid}.json"
            key_file(tmp_path / "keys" / f"{iccid(i)}.json", CARD_KEYS)
            card["scp03"] = {"keys": [CARD_KEYS]}
        rows.append(row)
        cards.append(card)
    rows += [{"bootstrap": account(1000 + i, BIG)} for i in range(N_FREE)]
    cards += [{"iccid": iccid(500 + i)} for i in range(N_FREE)]
    random.Random(17).shuffle(cards)
    job = write_jsonl(tmp_path / "job.jsonl", rows)
    return job, rows, cards, key_file(tmp_path / "station-keys.json", GP)


def start_world(tmp_path, name, uri, keys, pool, delay_ms=0):
    d = tmp_path / name
    d.mkdir()
    argv = [str(ISOLATED), sys.executable, str(WORLD), "--pool", str(pool.root), "--dir",
            str(d), "--store", uri, "--delay-ms", str(delay_ms), "--",
            "--station", name, "--keys", str(keys), "--lease", "3", "--poll", "0.1",
            "--progress", "plain"]
    return d, subprocess.Popen(argv, env=_env(), stdout=subprocess.DEVNULL,
                               stderr=open(d / "isolated.log", "w"))


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def stop_worlds(worlds):
    for _, p in worlds:
        if p.poll() is None:
            p.terminate()
    for _, p in worlds:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def logs(worlds):
    out = []
    for d, _ in worlds:
        for f in ("station.log", "world.log", "isolated.log"):
            if (d / f).exists():
                out.append(f"---- {d.name}/{f}\n" + (d / f).read_text()[-3000:])
    return "\n".join(out)


def check_batch(raw, pool, rows, stations):
    """What the cards hold against what the store says."""
    def q(sql):
        return raw(sql)
    cards = pool.results()
    assert len(cards) == N_NAMED + N_FREE and pool.left() == 0
    # the counts add up: every row done, none claimed or pending
    states = dict(q("SELECT state, count(*) FROM scboot_rows GROUP BY state"))
    assert set(states) <= {"written", "skipped"}, states
    assert sum(int(n) for n in states.values()) == N_NAMED + N_FREE
    status = json.loads(cli("status", "--store", raw.uri, "--json").stdout)
    assert status["rows"] == 120 and status["written"] + status["skipped"] == 120
    assert (status["pending"], status["failed"], status["interrupted"], status["free"],
            status["bound"]) == (0, 0, 0, 0, N_FREE)
    assert status["claimed"] == {}
    # every row bound to one card, every card to one row
    bound = {i: (int(r), d) for r, i, d in q("SELECT id, iccid, digest FROM scboot_rows")}
    assert set(bound) == set(cards)
    identities = set()
    for i, card in cards.items():
        row, digest = bound[i]
        want = encoded(rows[row - 1]["bootstrap"])
        ef = bytes.fromhex(card["ef"])
        assert ef[:len(want)] == want, f"card {i} does not hold row {row}"
        with scboot.Bootstrap.parse(ef) as bs:
            assert bs.digest.hex() == digest
            identities.add(bs.to_dict(secrets=True)["security"][0]["public_key_or_identity"])
    assert len(identities) == 120   # no identity reached two cards
    # each row done once: one success, at most one write; nothing failed
    per_row = q("SELECT row_id, sum(CASE WHEN outcome = 'written' THEN 1 ELSE 0 END), "
                "sum(CASE WHEN outcome IN ('written', 'skipped') THEN 1 ELSE 0 END) "
                "FROM scboot_results WHERE row_id IS NOT NULL GROUP BY row_id")
    assert len(per_row) == 120
    assert all(int(w) <= 1 and int(s) == 1 for _, w, s in per_row), per_row
    outcomes = {o for (o,) in q("SELECT DISTINCT outcome FROM scboot_results")}
    assert outcomes <= {"written", "skipped", "released"}, outcomes
    who = q("SELECT DISTINCT station, reader FROM scboot_results WHERE outcome <> 'released'")
    assert {s for s, _ in who} <= set(stations) and {r for _, r in who} <= set(READERS)
    # the card's own last result is what its operator saw
    for i, card in cards.items():
        last = q(f"SELECT outcome, station, reader FROM scboot_results WHERE iccid = '{i}' "
                 f"AND outcome <> 'released' ORDER BY id DESC LIMIT 1")
        assert last == [[card["outcome"], card["world"], card["reader"]]], (i, last, card)
    return cards


def test_three_stations_on_postgresql_one_killed_mid_write(tmp_path):
    pg = PgServer().start()
    worlds = []
    try:
        uri = pg.create_db("line")
        job, rows, cards, keys = make_batch(tmp_path)
        imported = cli("import", job, "--store", uri)
        assert imported.returncode == 0, imported.stderr
        pool = Pool.create(tmp_path / "pool", cards)
        # Station a's cards answer slowly: its writes are long enough to
        # be cut by a SIGKILL.
        worlds = [start_world(tmp_path, "a", uri, keys, pool, delay_ms=50),
                  start_world(tmp_path, "b", uri, keys, pool),
                  start_world(tmp_path, "c", uri, keys, pool)]
        (a_dir, a), b, c = worlds
        raw = Raw(uri, pg)

        def done_by_a():
            return int(raw("SELECT count(*) FROM scboot_results WHERE station = 'a' AND "
                           "outcome = 'written'")[0][0])
        try:
            wait_for(lambda: done_by_a() >= 2, 120, "station a to write two cards")
            (a_dir / "arm").write_text("")
            wait_for(lambda: (a_dir / "writing").exists(), 60, "a write at station a")
            station_pid = int((a_dir / "station.pid").read_text())
            os.kill(station_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            cut = (a_dir / "writing").read_text()
            wait_for(lambda: a.poll() is not None, 60, "world a to end")
            wait_for(lambda: b[1].poll() is not None and c[1].poll() is not None, 240,
                     "stations b and c to finish the batch")
        except AssertionError:
            raise AssertionError(logs(worlds)) from None
        assert (a_dir / "station.rc").read_text() == str(-signal.SIGKILL)
        assert b[1].returncode == 0 and c[1].returncode == 0, logs(worlds)
        done = check_batch(raw, pool, rows, ("a", "b", "c"))
        # The card cut mid-write: released with a's lease, then finished
        # by another station (after the lease ran out); it had left station
        # a holding neither its old data nor its new.
        history = raw(f"SELECT station, outcome, time FROM scboot_results WHERE iccid = '{cut}' "
                      f"ORDER BY id")
        assert ["a", "released"] in [h[:2] for h in history], history
        assert history[-1][0] in ("b", "c") and history[-1][1] == "written", history
        assert done[cut]["world"] in ("b", "c")
        moved = [p for p in pool.taken.glob("*.json") if p.name.startswith(("b-0-", "c-0-"))]
        cut_card = [json.loads(p.read_text()) for p in moved
                    if json.loads(p.read_text())["iccid"] == cut]
        assert cut_card, "the cut card was not handed on"
        partial = bytes.fromhex(cut_card[0]["bootstrap"]["hex"])
        row = int(raw(f"SELECT id FROM scboot_rows WHERE iccid = '{cut}'")[0][0])
        want = encoded(rows[row - 1]["bootstrap"])
        original = next(p for p in cards if p["iccid"] == cut)
        with VirtualCard(original) as fresh:
            before = fresh.read_file(BOOTSTRAP_EF)
        assert partial[:len(want)] != want, "the kill came after the write"
        assert partial != before, "the kill came before the write"
        assert_no_key_material(raw.stored_bytes(), CARD_KEYS, GP)
        print(f"\nkilled station a {time.monotonic() - killed_at:.1f} s before the end; "
              f"cards per station: " + ", ".join(
                  f"{w}: {sum(1 for d in done.values() if d['world'] == w)}" for w in "abc"))
    finally:
        stop_worlds(worlds)
        pg.remove()


def test_one_station_on_sqlite(tmp_path):
    job, rows, cards, keys = make_batch(tmp_path)
    uri = f"sqlite:{tmp_path / 'line.sqlite'}"
    imported = cli("import", job, "--store", uri)
    assert imported.returncode == 0, imported.stderr
    pool = Pool.create(tmp_path / "pool", cards)
    worlds = [start_world(tmp_path, "solo", uri, keys, pool)]
    try:
        wait_for(lambda: worlds[0][1].poll() is not None, 400, "the station to finish")
    except AssertionError:
        raise AssertionError(logs(worlds)) from None
    finally:
        stop_worlds(worlds)
    assert worlds[0][1].returncode == 0, logs(worlds)
    raw = Raw(uri)
    check_batch(raw, pool, rows, ("solo",))
    assert raw("SELECT count(*) FROM scboot_results WHERE outcome = 'written'") == [["120"]]
    assert_no_key_material(raw.stored_bytes(), CARD_KEYS, GP)
