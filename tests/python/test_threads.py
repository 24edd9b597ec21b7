"""Four threads, each reading from its own virtual card at once: results
are right, nothing is shared, and the reads overlap (card I/O runs without
the GIL)."""
import threading
import time

import scboot

GP_KEY = "404142434445464748494A4B4C4D4E4F"
THREADS = 4
READS = 3
# Each APDU waits this long inside the C card: a read of ~15 APDUs takes
# a few hundred ms, long enough to see whether threads overlap.
DELAY_MS = 15


def read_all(profile, results, errors, barrier):
    try:
        with scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30) as keys, \
                scboot.Card.sim(profile) as card:
            barrier.wait()
            for _ in range(READS):
                results.append(card.read_bootstrap(keys).digest)
    except Exception as e:  # collected and asserted in the main thread
        errors.append(e)


def run(profile, threads):
    results, errors = [], []
    barrier = threading.Barrier(threads)
    workers = [threading.Thread(target=read_all, args=(profile, results, errors, barrier))
               for _ in range(threads)]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.monotonic() - start, results, errors


def test_four_threads_four_cards():
    profile = {"faults": {"delay_ms": DELAY_MS}}
    alone, results, errors = run(profile, 1)
    assert errors == [] and len(results) == READS
    together, results, errors = run(profile, THREADS)
    assert errors == []
    assert len(results) == THREADS * READS
    assert len(set(results)) == 1
    # Serialised, four threads would take four times as long as one.
    assert together < 2.0 * alone, (together, alone)


def test_four_threads_with_different_cards():
    """Each thread's card holds its own file: no thread sees another's."""
    uris = [f"coap://device{i}.example.org" for i in range(THREADS)]
    got = {}
    errors = []

    def work(i):
        profile = {"bootstrap": {"read": "always",
                                 "json": {"security": [{"server_uri": uris[i],
                                                        "bootstrap_server": True,
                                                        "security_mode": 3}]}}}
        try:
            with scboot.Card.sim(profile) as card:
                for _ in range(READS):
                    got.setdefault(i, set()).add(
                        card.read_bootstrap().security[0]["server_uri"])
        except Exception as e:  # collected and asserted below
            errors.append(e)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert got == {i: {uris[i]} for i in range(THREADS)}
