#!/usr/bin/python3
"""One station of an end-to-end batch, in a PC/SC world of its own (run it
under tests/hardening/isolated.sh: its own pcscd with the four vpcd
readers on its own loopback). Starts the station (python3 -m
scboot.provision run --store URI ...) and, per reader, an operator: take a
card from the pool (card_pool.py), serve it to the reader as a virtual card
in this process (scboot.sim.VirtualCard), wait until the store shows the
station's result for it, pull it out (the EF it holds goes with it), wait
until pcscd has seen it go, take the next. When the station ends (done, or
killed), the cards still in the readers go back to the pool.

    station_world.py --pool DIR --dir WORLD_DIR --store URI [--delay-ms N] -- RUN_ARGS

WORLD_DIR gets station.pid, station.log, world.log; a file WORLD_DIR/arm
asks the operators to report (WORLD_DIR/writing, the ICCID) the first
write they see land on a card: the moment to kill the station mid-write.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import threading
import time

from card_pool import Pool

import scboot
from scboot.sim import VirtualCard

BOOTSTRAP_EF = "50156432"
PORTS = {"Virtual PCD 00 00": 35963, "Virtual PCD 00 01": 35964,
         "Virtual PCD B 00 00": 35965, "Virtual PCD B 00 01": 35966}
FINAL = ("written", "skipped", "failed", "interrupted")


class Results:
    """The store's results for a card, read straight from the database."""

    def __init__(self, uri):
        if uri.startswith("sqlite:"):
            import sqlite3
            self.conn = sqlite3.connect(uri[len("sqlite:"):], timeout=10, isolation_level=None)
            self.mark = "?"
        else:
            import psycopg
            self.conn = psycopg.connect(uri, autocommit=True, connect_timeout=5)
            self.mark = "%s"

    def last_id(self, iccid):
        row = self.conn.execute(f"SELECT coalesce(max(id), 0) FROM scboot_results WHERE iccid "
                                f"= {self.mark}", (iccid,)).fetchone()
        return int(row[0])

    def outcome_after(self, iccid, after):
        row = self.conn.execute(
            f"SELECT outcome FROM scboot_results WHERE iccid = {self.mark} AND id > {self.mark} "
            f"AND outcome IN ('written', 'skipped', 'failed', 'interrupted') ORDER BY id DESC "
            f"LIMIT 1", (iccid, after)).fetchone()
        return row[0] if row else None


def present(reader):
    try:
        return dict(scboot.readers()).get(reader, False)
    except scboot.Error:
        return False


def wait(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        time.sleep(step)
    return True


class World:
    def __init__(self, a):
        self.a = a
        self.pool = Pool(a.pool)
        self.dir = pathlib.Path(a.dir)
        self.stop = threading.Event()
        self.log_lock = threading.Lock()
        self.log_file = open(self.dir / "world.log", "a")

    def log(self, text):
        with self.log_lock:
            self.log_file.write(f"{time.monotonic():.3f} {text}\n")
            self.log_file.flush()

    def operator(self, reader):
        results = Results(self.a.store)
        port = PORTS[reader]
        while not self.stop.is_set():
            got = self.pool.take(self.dir.name)
            if got is None:
                time.sleep(0.2)
                continue
            name, profile = got
            if self.a.delay_ms:
                profile = dict(profile, faults=dict(profile.get("faults", {}),
                                                    delay_ms=self.a.delay_ms))
            vc = VirtualCard(profile)
            iccid = profile["iccid"]
            since = results.last_id(iccid)
            pulled = threading.Event()
            served = threading.Thread(target=vc.serve_vpcd, args=(port,),
                                      kwargs={"stop": pulled})
            served.start()
            wait(lambda: present(reader) or self.stop.is_set(), 15)
            self.log(f"{reader}: {iccid} in")
            initial = vc.read_file(BOOTSTRAP_EF)
            unwritten_seen = False
            outcome = None
            while not self.stop.is_set():
                outcome = results.outcome_after(iccid, since)
                if outcome is not None:
                    break
                if (self.dir / "arm").exists():
                    # a write that starts while armed (not one already done)
                    now = vc.read_file(BOOTSTRAP_EF)
                    if now == initial:
                        unwritten_seen = True
                    elif unwritten_seen:
                        try:
                            fd = os.open(self.dir / "writing", os.O_WRONLY | os.O_CREAT
                                         | os.O_EXCL)
                            os.write(fd, iccid.encode())
                            os.close(fd)
                        except FileExistsError:
                            pass
                    time.sleep(0.005)
                else:
                    time.sleep(0.05)
            if outcome is None:   # the station may have finished it as it stopped
                outcome = results.outcome_after(iccid, since)
            pulled.set()
            served.join()
            ef = vc.read_file(BOOTSTRAP_EF)
            vc.close()
            self.log(f"{reader}: {iccid} out ({outcome})")
            if outcome in ("written", "skipped"):
                self.pool.done(iccid, {"iccid": iccid, "ef": ef.hex(), "world": self.dir.name,
                                       "reader": reader, "outcome": outcome})
            else:   # the station stopped (or failed the card): the card moves on as it is
                moved = dict(profile, bootstrap={"hex": ef.hex()})
                moved.pop("faults", None)
                self.pool.give_back(name, moved, self.dir.name)
            # pcscd polls every 400 ms: the station must see the reader empty
            wait(lambda: not present(reader), 10)
            time.sleep(0.5)

    def run(self):
        if self.a.store.startswith("postgresql"):
            host = self.a.store.split("host=", 1)[1].split("&", 1)[0]
            if not os.path.exists(os.path.join(host, ".s.PGSQL.5432")):
                print(f"station_world: the database socket in {host} is not visible here",
                      file=sys.stderr)
                return 90
        if not wait(lambda: len(scboot.readers()) >= 4, 15):
            print("station_world: pcscd shows no readers", file=sys.stderr)
            return 91
        log = open(self.dir / "station.log", "w")
        station = subprocess.Popen([sys.executable, "-m", "scboot.provision", "run",
                                    "--store", self.a.store, *self.a.run_args],
                                   stdout=log, stderr=subprocess.STDOUT)
        (self.dir / "station.pid").write_text(str(station.pid))
        operators = [threading.Thread(target=self.operator, args=(r,)) for r in PORTS]
        for t in operators:
            t.start()
        rc = station.wait()
        self.log(f"station ended: {rc}")
        self.stop.set()
        for t in operators:
            t.join()
        (self.dir / "station.rc").write_text(str(rc))
        return 0 if rc == 0 else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pool", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--store", required=True)
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("run_args", nargs=argparse.REMAINDER)
    a = p.parse_args()
    if a.run_args[:1] == ["--"]:
        a.run_args = a.run_args[1:]
    return World(a).run()


if __name__ == "__main__":
    sys.exit(main())
