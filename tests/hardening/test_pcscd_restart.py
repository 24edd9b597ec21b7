"""pcscd goes away in the middle of a session, and comes back.

A long-lived library session (pcsc_session, as a gateway process would
hold one) reads the bootstrap file from the CLI's virtual card
(scboot sim --vpcd --forever: it reconnects when vpcd goes away). During
a read, after the 5th APDU, pcscd is stopped. Covered:

 - the read in flight ends at once with SCB_E_NO_SERVICE ("PC/SC service
   not available"), within a bound, no crash, no hang;
 - opening a handle while pcscd is down: SCB_E_NO_SERVICE, "is pcscd
   running?";
 - pcscd starts again, the card reappears; the same process opens a new
   handle and reads again (the PC/SC client library needs no restart);
 - the CLI reads too; the session process exits cleanly (no leak reports
   in sanitizer builds).

Which pcscd is restarted:
 - run by tests/hardening/isolated.sh (SCB_ISOLATED_PCSCD_CONF set): the
   private pcscd of that namespace;
 - else one that tests/e2e/pcsc_env.py started for this test (none was
   running);
 - else (a pcscd runs that this test did not start: it is never touched)
   the restart is emulated, and only the client's half is covered: the
   card process drops its vpcd connection mid-read (scboot sim's
   reconnect, as a reader reset), the read ends with SCB_E_CARD_REMOVED,
   and the same process opens a new handle and reads again. The
   SCB_E_NO_SERVICE paths are then not exercised (the test says so).
"""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))
import pcsc_env  # noqa: E402
from pcsc_env import pcscd  # noqa: E402,F401  (the shared fixture)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from pcsc_session import Session  # noqa: E402

SCBOOT = pcsc_env.BUILD_DIR / "core" / "cli" / "scboot"
READER = "Virtual PCD B 00 01"
PORT = pcsc_env.READERS[READER]
BOUND_S = 5.0


def isolated_pid():
    return int(pathlib.Path("/run/pcscd/pcscd.pid").read_bytes().strip(b"\x00\n "))


def wait_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"pcscd {pid} did not stop")


class Restarter:
    """Stops and starts the pcscd this test may touch (see the module doc)."""

    def __init__(self):
        self.conf = os.environ.get("SCB_ISOLATED_PCSCD_CONF")
        self.mode = "isolated" if self.conf else ("own" if pcsc_env._started is not None else "emulated")

    def stop(self):
        if self.mode == "isolated":
            pid = isolated_pid()
            os.kill(pid, signal.SIGTERM)
            wait_gone(pid)
        else:
            pcsc_env.stop_pcscd()

    def start(self):
        if self.mode != "isolated":
            pcsc_env.ensure_pcscd(need=(READER,))
            return
        subprocess.Popen(["pcscd", "-f", "-c", self.conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 15
        while READER not in (pcsc_env.list_readers() or {}):
            assert time.monotonic() < deadline, "the restarted pcscd does not answer"
            time.sleep(0.1)


@pytest.fixture
def sim_card(tmp_path):
    profile = tmp_path / "card.json"
    profile.write_text(json.dumps({"delay_ms": 30}))  # a read takes ~0.4 s: room to cut it
    with pcsc_env.CardProcess([SCBOOT, "sim", "--vpcd", f"127.0.0.1:{PORT}", "--forever",
                               "--profile", profile], READER) as card:
        yield card


def test_pcscd_restart_mid_session(pcscd, sim_card):
    r = Restarter()
    print(f"pcscd restart: {r.mode}")
    s = Session(trace=True)
    try:
        assert s.cmd(f"open {READER}")["rc"] == "SCB_OK"
        assert s.cmd("read")["rc"] == "SCB_OK"
        s.drain()
        s.send("read")
        s.wait_trace("A>> ", 5)
        t0 = time.monotonic()
        if r.mode == "emulated":
            # the card process drops its vpcd connection (scboot sim then
            # reconnects): the reader reports a removal, then a new card
            os.kill(sim_card.proc.pid, signal.SIGKILL)
            res = s.reply()
            assert res["rc"] == "SCB_E_CARD_REMOVED", res
            sim_card.stop()
            sim_card.__enter__()
        else:
            r.stop()
            res = s.reply()
            assert res["rc"] == "SCB_E_NO_SERVICE", res
            assert "PC/SC service not available" in res["msg"] or "pcscd" in res["msg"], res
            down = s.cmd(f"open {READER}")
            assert down["rc"] == "SCB_E_NO_SERVICE" and "is pcscd running?" in down["msg"], down
            r.start()
            assert pcsc_env.wait_card(READER, True, timeout=15), "the card did not come back"
        assert time.monotonic() - t0 < BOUND_S + 15
        assert float(res["ms"]) < BOUND_S * 1000, res
        # the same process goes on with a new handle
        deadline = time.monotonic() + 15
        while True:
            again = s.cmd(f"open {READER}")
            if again["rc"] == "SCB_OK" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert again["rc"] == "SCB_OK", again
        ok = s.cmd("read")
        assert ok["rc"] == "SCB_OK", ok
        s.cmd("close")
    finally:
        s.finish()
    keys = {k: bytes(range(0x40, 0x50)).hex() for k in ("enc", "mac", "dek")}
    p = subprocess.run([str(SCBOOT), "read", "-r", READER, "--json"], capture_output=True,
                       text=True, timeout=30,
                       env=dict(os.environ, SCBOOT_KEY_ENC=keys["enc"], SCBOOT_KEY_MAC=keys["mac"],
                                SCBOOT_KEY_KVN="48"))
    assert p.returncode == 0, p.stderr
