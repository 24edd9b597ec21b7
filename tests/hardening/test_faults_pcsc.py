"""Faults end to end through pcscd + vpcd.

The card is the CLI's virtual card (scboot sim --vpcd) with a fault profile
(PROFILE.md "Faults"), sometimes behind a hostile wire (vpcd_proxy.py:
truncated answers, 61xx or 6Cxx forever). The host is one long-lived
library session (pcsc_session: exact result codes) and, for the exit codes,
the scboot command. Run by tests/hardening/isolated.sh: a pcscd of its own
when the machine allows namespaces, else the shared one. At every APDU of a cold read (12 at level 33) and of a
write: the card goes away, a bad R-MAC, bad padding, 6982 / 6A82 / 6F00,
a truncated answer. Every case ends in its own code and message, within a
few seconds, and the session process goes on (and, in the sanitizer
build, exits without a leak).

APDUs of a cold read: 1 EF.DIR record (SFI), 2 MANAGE CHANNEL, 3 SELECT
ADF, 4 INITIALIZE UPDATE, 5 EXTERNAL AUTHENTICATE, 6/7 ODF select/read,
8/9 DODF, 10/11 bootstrap EF, 12 MANAGE CHANNEL close.
"""
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))
import pcsc_env  # noqa: E402
from pcsc_env import pcscd  # noqa: E402,F401  (the shared fixture)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from pcsc_session import Session  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
BUILD = pcsc_env.BUILD_DIR
SCBOOT = BUILD / "core" / "cli" / "scboot"
PROXY = HERE / "vpcd_proxy.py"
READER = "Virtual PCD B 00 00"
PORT = pcsc_env.READERS[READER]
PROXY_PORT = 35991
BOUND_MS = 5000  # no case may take longer

STEP = {1: "EF.DIR", 2: "MANAGE CHANNEL open", 3: "SELECT ADF", 4: "INITIALIZE UPDATE",
        5: "EXTERNAL AUTHENTICATE", 6: "SELECT ODF", 7: "READ ODF", 8: "SELECT DODF",
        9: "READ DODF", 10: "SELECT bootstrap EF", 11: "READ bootstrap EF",
        12: "MANAGE CHANNEL close"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    raw = d / "bootstrap.bin"
    subprocess.run([str(SCBOOT), "read", "--sim", "--raw", "-o", str(raw)], check=True,
                   timeout=30)
    keys = d / "keys.json"
    keys.write_text(json.dumps({k: bytes(range(0x40, 0x50)).hex() for k in ("enc", "mac", "dek")}
                               | {"kvn": 48}))
    js = d / "bootstrap.json"
    js.write_text(subprocess.run([str(SCBOOT), "read", "--sim", "--json", "--show-secrets"],
                                 check=True, capture_output=True, text=True, timeout=30).stdout)
    return {"dir": d, "raw": raw, "json": js, "keys": keys}


class card:
    """The virtual card with a fault profile on READER, behind the hostile
    proxy when asked: a context manager."""

    def __init__(self, files, faults=None, proxy=None):
        self.profile = files["dir"] / "profile.json"
        self.profile.write_text(json.dumps({"faults": faults or {}}))
        self.proxy = proxy
        self.px = None

    def __enter__(self):
        port = PORT
        if self.proxy is not None:
            at, mode = self.proxy
            self.px = subprocess.Popen([sys.executable, str(PROXY), str(PORT), str(PROXY_PORT),
                                        str(at), mode], stdout=subprocess.PIPE, text=True)
            assert self.px.stdout.readline().strip() == "listening"
            port = PROXY_PORT
        self.cp = pcsc_env.CardProcess([SCBOOT, "sim", "--vpcd", f"127.0.0.1:{port}", "--profile",
                                        self.profile], READER)
        try:
            self.cp.__enter__()
        except BaseException:
            self._stop_proxy()
            raise
        return self

    def _stop_proxy(self):
        if self.px is not None:
            if self.px.poll() is None:
                self.px.terminate()
            self.px.wait(10)
            self.px.stdout.close()

    def __exit__(self, *exc):
        self.cp.stop()
        self._stop_proxy()


def run_read(files, faults=None, proxy=None):
    s = Session()
    try:
        with card(files, faults, proxy):
            assert s.cmd(f"open {READER}")["rc"] == "SCB_OK"
            r = s.cmd("read")
            assert float(r["ms"]) < BOUND_MS, r
            s.cmd("close")
    finally:
        s.finish()
    return r


# ---------------------------------------------------------------- the card goes away

@pytest.mark.parametrize("after", range(1, 13))
def test_card_disappears_during_read(pcscd, files, after):
    r = run_read(files, {"disconnect_after": after})
    if after >= 11:  # the data was read; only closing the channel met the empty reader
        assert r["rc"] == "SCB_OK", r
    else:
        assert r["rc"] == "SCB_E_CARD_REMOVED", (STEP[after + 1], r)
        assert "card removed" in r["msg"], r


def card_holds(files, old_digest, new_digest):
    """What the card holds after a cut write, read once more through pcscd
    (the card came back into the reader: the sim runs with --forever and
    keeps its files): "old", "new" or "incomplete" (the header every reader
    refuses); anything else is a file torn between two writes."""
    pcsc_env.wait_card(READER, True, timeout=10)
    p = subprocess.run([str(SCBOOT), "read", "-r", READER, "--keys", str(files["keys"]),
                        "--json"], capture_output=True, text=True, timeout=30)
    if p.returncode == 0:
        digest = subprocess.run([str(SCBOOT), "read", "-r", READER, "--keys", str(files["keys"])],
                                capture_output=True, text=True, timeout=30).stdout
        for name, d in (("old", old_digest), ("new", new_digest)):
            if d.upper() in digest.upper():
                return name
        return "other: " + digest
    if p.returncode == 6 and "marked incomplete" in p.stderr:
        return "incomplete"
    return f"other: exit {p.returncode}: {p.stderr.strip()}"


@pytest.fixture(scope="module")
def new_file(files):
    """Bootstrap data other than the card's, and the digests of both."""
    js = json.loads(files["json"].read_text())
    js.pop("read", None)
    js["servers"][0]["lifetime"] = 4711
    path = files["dir"] / "new.json"
    path.write_text(json.dumps(js))
    table = subprocess.run([str(SCBOOT), "read", "--sim"], check=True, capture_output=True,
                           text=True, timeout=30).stdout
    old_digest = table.split("sha256 ")[1].split()[0]
    return {"json": path, "old": old_digest}


@pytest.mark.parametrize("after", range(1, 20))
def test_card_disappears_during_write(pcscd, files, new_file, after):
    """A write with FF padding, cut after APDU `after` (10 selects the EF,
    11 invalidates the header, 12-16 body and padding, 17 the header, 18
    the read-back, 19 MANAGE CHANNEL close): whatever the point, the
    card then holds the old file, the new one, or one every reader refuses
    as incomplete, and the result says which."""
    profile = files["dir"] / "profile.json"
    profile.write_text(json.dumps({"faults": {"disconnect_after": after}}))
    cp = pcsc_env.CardProcess([SCBOOT, "sim", "--forever", "--vpcd", f"127.0.0.1:{PORT}",
                               "--profile", profile], READER)
    with cp:
        t0 = time.monotonic()
        p = subprocess.run([str(SCBOOT), "write", "-r", READER, "--keys", str(files["keys"]),
                            "--pad", str(new_file["json"])], capture_output=True, text=True,
                           timeout=30)
        assert time.monotonic() - t0 < BOUND_MS / 1000, p.stderr
        # the new file's digest: what a read prints once the write succeeded somewhere
        if p.returncode == 0:
            state = "new"
        else:
            time.sleep(1.2)  # pcscd polls every 400 ms: let it see the card back
            state = card_holds(files, new_file["old"], new_digest(new_file))
    assert state in ("old", "new", "incomplete"), (after, p.stderr, state)
    # this write: 11 invalidates the header, 12-16 body and padding, 17 the
    # header, 18 the read-back
    assert state == ("old" if after <= 10 else "incomplete" if after <= 16 else "new"), \
        (after, state, p.stderr)
    if state == "incomplete":
        assert p.returncode == 7 and "re-provisioning" in p.stderr, p.stderr
    elif state == "old":
        assert p.returncode in (3, 7), p.stderr      # cut before, or an APDU lost in flight
    elif p.returncode != 0:
        assert p.returncode == 7 and "not verified" in p.stderr, p.stderr


def new_digest(new_file):
    if "new" not in new_file:
        raw = subprocess.run([str(SCBOOT), "write", "--sim", str(new_file["json"])],
                             capture_output=True, text=True, timeout=30)
        assert raw.returncode == 0, raw.stderr
        # the digest of the file as the library encodes it
        js = subprocess.run([sys.executable, "-c", DIGEST, str(new_file["json"])],
                            capture_output=True, text=True, timeout=30,
                            env=dict(os.environ, PYTHONPATH=str(BUILD / "python")))
        assert js.returncode == 0, js.stderr
        new_file["new"] = js.stdout.strip()
    return new_file["new"]


DIGEST = """
import json, sys
import scboot
print(scboot.Bootstrap(json.load(open(sys.argv[1]))).digest.hex())
"""


def cli(files, *args):
    return subprocess.run([str(SCBOOT), *args[:1], "-r", READER, "--keys", str(files["keys"]),
                           *args[1:]], capture_output=True, text=True, timeout=30)


def test_cli_exit_codes(pcscd, files):
    """The command's side: a cut read exits 3, a cut write 7, a bad R-MAC
    5, a refused command 4."""
    with card(files, {"disconnect_after": 6}):
        p = cli(files, "read")
    assert p.returncode == 3 and "card removed" in p.stderr, p.stderr
    with card(files, {"disconnect_after": 12}):
        p = cli(files, "write", "--pad", str(files["json"]))
    assert p.returncode == 7 and "re-provisioning" in p.stderr, p.stderr
    with card(files, {"corrupt_rmac_at": 7}):
        p = cli(files, "read")
    assert p.returncode == 5 and "R-MAC" in p.stderr, p.stderr
    with card(files, {"sw_at": 9, "sw": "0x6982"}):
        p = cli(files, "read")
    assert p.returncode == 4 and "6982" in p.stderr, p.stderr


# ---------------------------------------------------------------- the secure channel

@pytest.mark.parametrize("at", range(6, 12))
def test_bad_rmac(pcscd, files, at):
    r = run_read(files, {"corrupt_rmac_at": at})
    assert r["rc"] == "SCB_E_SCP_RMAC", r
    assert "R-MAC" in r["msg"] and "does not verify" in r["msg"], r


@pytest.mark.parametrize("at", range(6, 12))
def test_bad_padding(pcscd, files, at):
    r = run_read(files, {"bad_padding_at": at})
    assert r["rc"] == "SCB_E_SCP_PADDING", r
    assert "padding" in r["msg"], r


# ---------------------------------------------------------------- status words

def expected_for_sw(at, sw):
    """(code, text in the message) when the card answers sw alone at APDU at."""
    if at in (1, 12):  # EF.DIR through its SFI falls back to SELECT 2F00; close is best effort
        return "SCB_OK", None
    if at == 4:
        return "SCB_E_SCP_PROTOCOL", f"INITIALIZE UPDATE (key version 0x30, S8) answered {sw}"
    if at == 5:
        return "SCB_E_SCP_AUTH_REJECTED", f"EXTERNAL AUTHENTICATE (level 33) answered {sw}"
    if sw == "6A82":  # not found: what was not found is named
        return {2: ("SCB_E_NOT_FOUND", "MANAGE CHANNEL open: card answered 6A82"),
                3: ("SCB_E_NOT_FOUND", "PKCS#15 application not found on the card"),
                6: ("SCB_E_NOT_FOUND", "EF.ODF not found"),
                7: ("SCB_E_NOT_FOUND", "READ BINARY: card answered 6A82"),
                # a DODF the card does not have: the next one is tried; none is left
                8: ("SCB_E_NO_BOOTSTRAP", "no LwM2M bootstrap entry"),
                9: ("SCB_E_NO_BOOTSTRAP", "no LwM2M bootstrap entry"),
                10: ("SCB_E_NOT_FOUND", "bootstrap EF not found"),
                11: ("SCB_E_NOT_FOUND", "READ BINARY: card answered 6A82")}[at]
    if at == 6 and sw == "6982":  # the session's first encrypted command refused
        return "SCB_E_SCP_REJECTED", "did not accept the first encrypted command"
    return {"6982": "SCB_E_SECURITY_STATUS", "6F00": "SCB_E_STATUS"}[sw], f"answered {sw}"


@pytest.mark.parametrize("sw", ["6982", "6A82", "6F00"])
@pytest.mark.parametrize("at", range(1, 13))
def test_status_word_at_each_step(pcscd, files, at, sw):
    r = run_read(files, {"sw_at": at, "sw": f"0x{sw}"})
    code, text = expected_for_sw(at, sw)
    assert r["rc"] == code, (STEP[at], r)
    if text is not None:
        assert text in r["msg"], (STEP[at], r)


# ---------------------------------------------------------------- a hostile wire

@pytest.mark.parametrize("at", range(1, 13))
def test_truncated_answer(pcscd, files, at):
    """The answer cut to one byte: no status word."""
    r = run_read(files, proxy=(at, "truncate:1"))
    if at == 12:
        assert r["rc"] == "SCB_OK", r
    else:
        assert r["rc"] == "SCB_E_BAD_RESPONSE", (STEP[at], r)
        assert "no status word" in r["msg"], r


@pytest.mark.parametrize("at,keep", [(7, 10), (9, 20), (11, 40)])
def test_truncated_secured_answer(pcscd, files, at, keep):
    """A secured answer cut short: what is left cannot be authenticated."""
    r = run_read(files, proxy=(at, f"truncate:{keep}"))
    assert r["rc"] == "SCB_E_SCP_RMAC", (STEP[at], r)


@pytest.mark.parametrize("mode", ["sw61", "sw6c"])
@pytest.mark.parametrize("at", [1, 3, 7, 11])
def test_endless_61xx_and_6cxx(pcscd, files, at, mode):
    t0 = time.monotonic()
    r = run_read(files, proxy=(at, mode))
    assert r["rc"] == "SCB_E_GET_RESPONSE_LIMIT", (STEP[at], r)
    assert ("GET RESPONSE rounds" if mode == "sw61" else "resends") in r["msg"], r
    assert time.monotonic() - t0 < 15


# ---------------------------------------------------------------- a mute card

@pytest.mark.parametrize("at", [3, 11])
def test_mute_card_is_bounded(pcscd, files, at):
    """The card stops answering at APDU `at` (vpcd then waits for ever):
    `--timeout 2` ends the command after about 2 s with exit 3, naming the
    step that got no answer, and the default bound is documented."""
    with card(files, proxy=(at, "mute")):
        t0 = time.monotonic()
        p = cli(files, "read", "--timeout", "2")
        took = time.monotonic() - t0
    assert p.returncode == 3, p.stderr
    assert "did not answer within 2000 ms" in p.stderr, p.stderr
    assert STEP[at].split()[0] in p.stderr or STEP[at].split()[-1] in p.stderr, (STEP[at], p.stderr)
    assert 1.8 < took < 6, took


def test_mute_card_in_a_long_lived_session(pcscd, files):
    """Through one library session: the abandoned handle refuses further
    calls at once, and a new handle works once the card answers again."""
    s = Session()
    try:
        with card(files, proxy=(6, "mute")):
            assert s.cmd(f"open {READER}")["rc"] == "SCB_OK"
            assert s.cmd("timeout 1500")["rc"] == "SCB_OK"
            r = s.cmd("read")
            assert r["rc"] == "SCB_E_TIMEOUT", r
            assert float(r["ms"]) < 3000, r
            t0 = time.monotonic()
            r = s.cmd("read")
            assert r["rc"] == "SCB_E_TIMEOUT" and "still waits for the reader" in r["msg"], r
            assert time.monotonic() - t0 < 1, r
            s.cmd("close")
    finally:
        s.finish()
