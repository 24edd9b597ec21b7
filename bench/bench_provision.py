#!/usr/bin/python3
"""Provisioning throughput with 1, 2 and 4 readers (issue 8).

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
    a = p.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
