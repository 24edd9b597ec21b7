#!/usr/bin/python3
"""Python binding overhead per transmit.

The same APDU goes to the in-process virtual card N times, once through
Card.transmit from Python and once in a C loop inside the extension (the
same scb_card_transmit call, no Python in between). The difference per
call is what the binding costs: argument conversion, the GIL release and
re-acquisition, the response bytes object, the Python method and its lock.

    bench/bench_python.py [BUILD_DIR] [--quick]

Output, one `name: value unit` per line:
    python_transmit_ns, c_transmit_ns, python_transmit_overhead_ns
"""
import os
import pathlib
import sys
import time

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[1]


def import_scboot(build_dir):
    sys.path.insert(0, str(pathlib.Path(build_dir) / "python"))
    import scboot  # noqa: E402  (from the build tree given)
    return scboot


def per_call_ns(fn, n):
    # CPU time of this thread: other processes on the machine do not count.
    start = time.thread_time_ns()
    fn(n)
    return (time.thread_time_ns() - start) / n


def main(argv):
    quick = "--quick" in argv
    args = [a for a in argv if not a.startswith("--")]
    build_dir = args[0] if args else os.environ.get("SCB_BUILD_DIR", SOURCE_DIR / "build")
    scboot = import_scboot(build_dir)
    n, rounds = (2000, 3) if quick else (10000, 60)
    # SELECT MF without response data: the cheapest full round trip.
    apdu = bytes.fromhex("00A4000C023F00")
    with scboot.Card.sim() as card:
        assert card.transmit(apdu)[-2:] == b"\x90\x00"
        transmit = card.transmit

        def python_loop(count):
            for _ in range(count):
                transmit(apdu)

        def c_loop(count):
            card._transmit_loop(apdu, count)

        py, c = [], []
        for _ in range(rounds):   # interleaved, so drift hits both alike
            py.append(per_call_ns(python_loop, n))
            c.append(per_call_ns(c_loop, n))
    # Best of the batches: the cost without interference (cache, scheduler).
    py_ns, c_ns = min(py), min(c)
    print(f"python_transmit_ns: {py_ns:.0f} ns")
    print(f"c_transmit_ns: {c_ns:.0f} ns")
    print(f"python_transmit_overhead_ns: {py_ns - c_ns:.0f} ns")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
