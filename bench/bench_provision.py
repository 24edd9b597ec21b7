#!/usr/bin/python3
"""Provisioning throughput: readers of one process, and stations sharing a
job store.

Four virtual card processes (`scboot sim --delay-ms 2`: every APDU answered
2 ms late, a stand-in for a real card's processing time) sit behind pcscd's
four vpcd readers. Each reader gets one thread that provisions its card
again and again, exactly as `python3 -m scboot.provision` does one card
(Provisioner.provision: connect, ICCID, read and compare the digest, write,
read back, report line synced to disk), alternating between two data sets
so that every pass writes. No barrier between the readers: each one works
at its own pace, like a station where cards are swapped as soon as done.

    bench/bench_provision.py [BUILD_DIR] [--quick] [--delay-ms N] [--seconds S]

Output, one `name: value unit` per line:
    provision_cards_per_min_1, _2, _4, provision_speedup_4 (4 readers over 1),
    provision_ms_per_card_1, provision_apdus_per_card
Exit status 1 when 4 readers do not reach 3.2 times the rate of one
(not checked with --quick, whose runs are too short to judge).

    bench/bench_provision.py [BUILD_DIR] --stations [--quick] [--seconds S]

The job store: stations of four readers, each a process in a PC/SC world
of its own (tests/hardening/isolated.sh: its own pcscd and vpcd readers),
provisioning from one store (Station + Provisioner.provision, one thread
per reader, as `provision run` does). Their cards are "rolling" virtual
cards (`scboot sim --rolling --delay-ms 2`): each time a station starts on a
card (it selects EF.ICCID) the card in the reader becomes a new, blank card
with the next ICCID, as if the operator had swapped it in no time; half of
the ICCIDs have a row of their own, half take a free row. Each station's
time in store calls (claim + finish, wall clock) is measured as it runs.
    provision_store_cards_per_min_pg_1, _2, _3   1, 2, 3 stations on PostgreSQL
    provision_store_speedup_pg_3                  3 stations over 1 (target >= 2.8)
    provision_store_ms_per_card_pg_1, _3          store time per card
    provision_file_job_cards_per_min_1            one station from a job file (no store,
                                                  the report file synced per card)
    provision_store_cards_per_min_sqlite_1        one station on an SQLite store
    provision_store_sqlite_vs_file                its rate over the file job's (target >= 95 %)
    provision_store_ms_per_card_sqlite_1
Exit status 1 when a target is missed (not checked with --quick).
"""
import argparse
import json
import os
import pathlib
import sys
import tempfile
import threading
import time

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[1]
TARGET_SPEEDUP = 3.2
TARGET_STATIONS = 2.8      # 3 stations over 1
TARGET_SQLITE = 0.95       # an SQLite store over the file job
TARGET_STORE_MS = 5.0
ISOLATED = SOURCE_DIR / "tests" / "hardening" / "isolated.sh"
GP = "404142434445464748494A4B4C4D4E4F"


def setup(build_dir):
    os.environ.setdefault("SCB_BUILD_DIR", str(build_dir))
    sys.path.insert(0, str(pathlib.Path(build_dir) / "python"))
    sys.path.insert(0, str(SOURCE_DIR / "tests" / "e2e"))


def account(i, variant):
    return {"security": [{"server_uri": f"coaps://bs{variant}.example.com:5684",
                          "bootstrap_server": True, "security_mode": 0,
                          "public_key_or_identity": f"device-{i}".encode().hex(),
                          "secret_key": f"{i + 16 * variant:02x}" * 16}],
            "servers": [{"short_server_id": 1, "lifetime": 3600 + variant, "binding": "U"}]}


def main(argv):
    p = argparse.ArgumentParser(description="provisioning cards/min with 1, 2 and 4 readers")
    p.add_argument("build_dir", nargs="?",
                   default=os.environ.get("SCB_BUILD_DIR", SOURCE_DIR / "build"))
    p.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    p.add_argument("--delay-ms", type=int, default=2, help="card delay per APDU (default 2)")
    p.add_argument("--seconds", type=float, help="per reader count (default 8, quick 1.5)")
    p.add_argument("--stations", action="store_true",
                   help="the job store benchmark (stations of four readers)")
    p.add_argument("--worker", help=argparse.SUPPRESS)   # a station (JSON settings)
    a = p.parse_args(argv)
    if a.worker:
        setup(pathlib.Path(a.build_dir))
        return station_worker(json.loads(a.worker))
    if a.stations:
        setup(pathlib.Path(a.build_dir))
        return store_bench(pathlib.Path(a.build_dir), a.quick, a.delay_ms,
                           a.seconds or (3.0 if a.quick else 10.0))
    quick, delay = a.quick, a.delay_ms
    seconds = a.seconds or (1.5 if quick else 8.0)
    build_dir = pathlib.Path(a.build_dir)
    setup(build_dir)
    import pcsc_env
    import scboot
    from scboot._job import Job
    from scboot._report import Report
    from scboot.provision import Options, Provisioner

    readers = list(pcsc_env.READERS)
    iccids = [f"89883000000000002{i}{i}" for i in range(len(readers))]
    pcsc_env.ensure_pcscd(need=tuple(readers))
    scboot_cli = build_dir / "core" / "cli" / "scboot"
    gp = "404142434445464748494A4B4C4D4E4F"
    with tempfile.TemporaryDirectory() as tmp:
        provisioners = []
        keys = scboot.Keys(gp, gp, gp, kvn=0x30)
        report = Report(os.path.join(tmp, "report.jsonl"))
        for variant in (0, 1):
            path = os.path.join(tmp, f"job{variant}.jsonl")
            with open(path, "w") as f:
                for i, iccid in enumerate(iccids):
                    f.write(json.dumps({"iccid": iccid, "bootstrap": account(i, variant)}) + "\n")
            provisioners.append(Provisioner(Job.load(path, need_keys=False), Options(keys=keys),
                                            report))
        cards = []
        try:
            for i, reader in enumerate(readers):
                profile = os.path.join(tmp, f"card{i}.json")
                with open(profile, "w") as f:
                    json.dump({"iccid": iccids[i]}, f)
                cards.append(pcsc_env.CardProcess(
                    [scboot_cli, "sim", "--vpcd", f"127.0.0.1:{pcsc_env.READERS[reader]}",
                     "--profile", profile, "--delay-ms", str(delay)], reader).__enter__())
            rates, apdus = {}, []
            turn = {r: 0 for r in readers}   # which data set a card gets next
            for n in (1, 2, 4):
                rates[n] = measure(provisioners, turn, readers[:n], seconds, apdus)
        finally:
            for c in cards:
                c.stop()
            report.close()
    speedup = rates[4] / rates[1]
    print(f"provision_delay_ms_per_apdu: {delay} ms")
    for n in (1, 2, 4):
        print(f"provision_cards_per_min_{n}: {rates[n]:.0f} cards/min")
    print(f"provision_speedup_4: {speedup:.2f} x")
    print(f"provision_ms_per_card_1: {60000 / rates[1]:.1f} ms")
    print(f"provision_apdus_per_card: {max(set(apdus), key=apdus.count)} APDUs")
    if not quick and speedup < TARGET_SPEEDUP:
        print(f"bench_provision: 4 readers reach {speedup:.2f}x the rate of one, below "
              f"{TARGET_SPEEDUP}x", file=sys.stderr)
        return 1
    return 0


def measure(provisioners, turn, readers, seconds, apdus):
    """Cards per minute with one thread per reader, each provisioning its
    card until `seconds` are up (after one warm-up card each). turn[reader]:
    the data set its card gets next (the other one than it holds)."""
    counts = {r: 0 for r in readers}
    errors = []
    times = {}

    def go():   # run by one thread as the barrier opens
        times["start"] = time.monotonic()
        times["stop"] = times["start"] + seconds

    start = threading.Barrier(len(readers) + 1, action=go)

    def provision(reader):
        result = provisioners[turn[reader]].provision(reader)
        turn[reader] ^= 1
        if result["outcome"] != "written":
            raise RuntimeError(f"{result['reader']}: {result['outcome']}: {result['error']}")
        return result

    def station(reader):
        try:
            provision(reader)   # warm-up
            start.wait()
            while time.monotonic() < times["stop"]:
                apdus.append(provision(reader)["apdus"])
                counts[reader] += 1
            ends[reader] = time.monotonic()
        except Exception as e:  # reported by the main thread
            errors.append(e)
            start.abort()

    ends = {}
    threads = [threading.Thread(target=station, args=(r,)) for r in readers]
    for t in threads:
        t.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    # Each station's own span (its last card ends after the deadline).
    return sum(counts[r] / (ends[r] - times["start"]) for r in readers) * 60


# ---- the job store: stations ----------------------------------------------------

def station_worker(cfg):
    """One station in its PC/SC world: rolling cards in the four readers,
    one thread per reader provisioning from the store (or the job file)
    from cfg["start_at"] for cfg["seconds"]; the counts to cfg["out"]."""
    import subprocess
    import pcsc_env
    import scboot
    from scboot._job import Job
    from scboot._report import Report
    from scboot._station import Station
    from scboot.provision import Options, Provisioner

    readers = list(pcsc_env.READERS)
    # The rolling cards: `scboot sim --rolling`, a new blank card with the
    # next ICCID each time a station starts on one (it selects EF.ICCID),
    # as if the operator had swapped it in no time.
    cards = []
    for i, r in enumerate(readers):
        profile = f"{cfg['out']}.card{i}.json"
        with open(profile, "w") as f:
            json.dump({"iccid": f"{cfg['prefixes'][i]}00000000"}, f)
        cards.append(subprocess.Popen(
            [str(pathlib.Path(cfg["build_dir"]) / "core" / "cli" / "scboot"), "sim", "--vpcd",
             f"127.0.0.1:{pcsc_env.READERS[r]}", "--profile", profile, "--rolling",
             "--delay-ms", str(cfg["delay_ms"])], stderr=subprocess.DEVNULL))
    station = report = None
    try:
        deadline = time.monotonic() + 20
        while not all(dict(scboot.readers()).get(r) for r in readers):
            if time.monotonic() > deadline:
                raise RuntimeError("the rolling cards did not appear")
            time.sleep(0.05)
        keys = scboot.Keys(GP, GP, GP, kvn=0x30)
        store_time = [0.0]
        lock = threading.Lock()
        mine = threading.local()   # .measuring: this reader's cards count now
        if cfg["store"]:
            station = source = Station(cfg["store"], cfg["name"], lease=20).start()
            for name in ("claim", "finish"):
                def timed(*args, _f=getattr(station, name)):
                    t = time.perf_counter()
                    try:
                        return _f(*args)
                    finally:
                        if getattr(mine, "measuring", False):
                            with lock:
                                store_time[0] += time.perf_counter() - t
                setattr(station, name, timed)
        else:
            source = Job.load(cfg["job"], need_keys=False)
            report = Report(cfg["report"])
        prov = Provisioner(source, Options(keys=keys), report)
        counts, spans, errors = {}, {}, []

        def reader_thread(reader):
            try:
                prov.provision(reader)   # warm-up: connection, keys, caches
                start = max(cfg["start_at"], time.time())
                time.sleep(max(0.0, cfg["start_at"] - time.time()))
                stop, n = start + cfg["seconds"], 0
                mine.measuring = True
                while time.time() < stop:
                    r = prov.provision(reader)
                    if r["outcome"] != "written":
                        raise RuntimeError(f"{reader}: {r['outcome']}: {r['error']}")
                    n += 1
                counts[reader], spans[reader] = n, time.time() - start
            except Exception as e:  # reported by the driver
                errors.append(repr(e))

        threads = [threading.Thread(target=reader_thread, args=(r,)) for r in readers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with open(cfg["out"], "w") as f:
            json.dump({"counts": counts, "spans": spans, "errors": errors,
                       "store_seconds": store_time[0]}, f)
        return 1 if errors else 0
    finally:
        if station is not None:
            station.close()
        if report is not None:
            report.close()
        for c in cards:
            c.terminate()   # the sim polls its stop flag every 100 ms
            try:
                c.wait(timeout=10)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()


def _store_rows(stations, per_reader):
    """Rows for the rolling cards of `stations` stations: even ICCIDs have a
    row of their own, odd ones take a free row."""
    rows = []
    for s in range(stations):
        for r in range(4):
            for n in range(per_reader):
                k = len(rows)
                row = {"bootstrap": {"security": [{
                    "server_uri": "coaps://bs.example.com:5684", "bootstrap_server": True,
                    "security_mode": 0, "public_key_or_identity": f"node-{k}".encode().hex(),
                    "secret_key": f"{k:032x}"}],
                    "servers": [{"short_server_id": 1, "lifetime": 3600, "binding": "U"}]}}
                if n % 2 == 0:
                    row["iccid"] = f"{_prefix(s, r)}{n:08d}"
                rows.append(row)
    return rows


def _prefix(station, reader):
    return f"89883{station}{reader}"


def store_bench(build_dir, quick, delay, seconds):
    import subprocess
    import tempfile
    sys.path.insert(0, str(SOURCE_DIR / "tests" / "store"))
    from pg_server import PgServer
    from scboot._job import Job
    from scboot._store import open_store
    from scboot._store_import import import_job, store_rows

    if subprocess.run([str(ISOLATED), "--check"], capture_output=True).returncode != 0:
        print("provision_store_cards_per_min_pg_3: not measured (stations need private "
              "namespaces: run as root)")
        return 0
    per_reader = int(seconds * 40) + 20   # more than a reader can do at 2 ms per APDU
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        pg = PgServer().start()
        try:
            for kind, n in (("pg", 1), ("pg", 2), ("pg", 3), ("file", 1), ("sqlite", 1)):
                job = os.path.join(tmp, f"job-{kind}-{n}.jsonl")
                with open(job, "w") as f:
                    for row in _store_rows(n, per_reader):
                        f.write(json.dumps(row) + "\n")
                uri = None
                if kind == "pg":
                    uri = pg.create_db(f"bench_{n}")
                elif kind == "sqlite":
                    uri = f"sqlite:{tmp}/store.sqlite"
                if uri:
                    with Job.load(job, need_keys=False) as j, open_store(uri, create=True) as st:
                        import_job(st, store_rows(j, job, allow_inline=False), job)
                start_at = time.time() + 8
                workers = []
                for s in range(n):
                    cfg = {"build_dir": str(build_dir), "store": uri, "job": job,
                           "report": os.path.join(tmp, f"report-{kind}-{n}-{s}.jsonl"),
                           "name": f"bench-{s}", "seconds": seconds, "start_at": start_at,
                           "delay_ms": delay, "prefixes": [_prefix(s, r) for r in range(4)],
                           "out": os.path.join(tmp, f"out-{kind}-{n}-{s}.json")}
                    workers.append((cfg, subprocess.Popen(
                        [str(ISOLATED), sys.executable, __file__, str(build_dir), "--worker",
                         json.dumps(cfg)], env=dict(os.environ, SCB_BUILD_DIR=str(build_dir)))))
                total, cards, store_s = 0.0, 0, 0.0
                for cfg, w in workers:
                    w.wait()
                    with open(cfg["out"]) as f:
                        got = json.load(f)
                    if got["errors"]:
                        raise RuntimeError(f"{kind} {n}: {got['errors'][0]}")
                    total += sum(got["counts"][r] / got["spans"][r] for r in got["counts"])
                    cards += sum(got["counts"].values())
                    store_s += got["store_seconds"]
                out[(kind, n)] = (total * 60, store_s / cards * 1000 if cards else 0.0)
        finally:
            pg.remove()
    status = 0
    for n in (1, 2, 3):
        print(f"provision_store_cards_per_min_pg_{n}: {out[('pg', n)][0]:.0f} cards/min")
    speedup = out[("pg", 3)][0] / out[("pg", 1)][0]
    print(f"provision_store_speedup_pg_3: {speedup:.2f} x")
    for n in (1, 3):
        print(f"provision_store_ms_per_card_pg_{n}: {out[('pg', n)][1]:.2f} ms")
    print(f"provision_file_job_cards_per_min_1: {out[('file', 1)][0]:.0f} cards/min")
    print(f"provision_store_cards_per_min_sqlite_1: {out[('sqlite', 1)][0]:.0f} cards/min")
    ratio = out[("sqlite", 1)][0] / out[("file", 1)][0]
    print(f"provision_store_sqlite_vs_file: {ratio * 100:.1f} %")
    print(f"provision_store_ms_per_card_sqlite_1: {out[('sqlite', 1)][1]:.2f} ms")
    misses = [m for m, bad in (
        (f"3 stations reach {speedup:.2f}x one station, below {TARGET_STATIONS}x",
         speedup < TARGET_STATIONS),
        (f"SQLite runs at {ratio * 100:.1f} % of the file job, below {TARGET_SQLITE * 100:.0f} %",
         ratio < TARGET_SQLITE),
        (f"the store costs {max(v[1] for v in out.values()):.2f} ms per card, over "
         f"{TARGET_STORE_MS} ms", max(v[1] for v in out.values()) > TARGET_STORE_MS)) if bad]
    for m in misses:
        print(f"bench_provision: {m}", file=sys.stderr)
    if misses and not quick:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
