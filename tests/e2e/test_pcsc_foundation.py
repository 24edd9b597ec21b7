"""The PC/SC transport through a real pcscd + vpcd driver, with a
minimal independent card process (minicard.py)."""
import os
import pathlib
import subprocess
import sys

import pcsc_env

MINICARD = pathlib.Path(__file__).parent / "minicard.py"
READER = "Virtual PCD 00 00"


def probe(*args, env=None, timeout=30):
    out = subprocess.run([str(pcsc_env.probe_path()), *args], capture_output=True, text=True,
                         timeout=timeout, env=env)
    return out.returncode, out.stdout.splitlines()


def minicard(reader=READER):
    return pcsc_env.CardProcess([sys.executable, MINICARD, pcsc_env.READERS[reader]], reader)


def test_list_readers(pcscd):
    rc, lines = probe("list")
    assert rc == 0
    names = [line.split("\t")[0] for line in lines]
    for name in pcsc_env.READERS:
        assert name in names


def test_transmit_by_exact_name_substring_and_index(pcscd):
    with minicard():
        rc, lines = probe("xmit", READER, "00A4040C05A000000001", "00B0000004")
        assert rc == 0, lines
        assert lines[0] == f"reader={READER}"
        assert lines[1] == "9000"
        assert lines[2] == "000102039000"
        # unique substring: "PCD 00 00" matches only this reader
        rc, lines = probe("xmit", "PCD 00 00", "00B0000102")
        assert rc == 0 and lines[1] == "01029000", lines
        # index: position in the reader list
        rc, names = probe("list")
        idx = [n.split("\t")[0] for n in names].index(READER)
        rc, lines = probe("xmit", str(idx), "00B0000001")
        assert rc == 0 and lines[0] == f"reader={READER}", lines
        # default: the first reader with a card
        rc, lines = probe("xmit", "", "00B0000001")
        assert rc == 0 and lines[0] == f"reader={READER}", lines


def test_get_response_and_channel(pcscd):
    with minicard():
        rc, lines = probe("xmit", READER, "80CA00FE00")
        assert rc == 0, lines
        assert lines[1] == "DEADBEEF9000"
        assert lines[2] == "apdus=2"  # the command and one GET RESPONSE
        rc, lines = probe("channel", READER, "00B0000002")
        assert rc == 0, lines
        assert lines[1] == "channel=1"
        assert lines[2] == "00019000"


def test_errors(pcscd):
    # nothing in the reader
    rc, lines = probe("xmit", "Virtual PCD 00 01", "00B0000001")
    assert rc == 2 and lines[0].startswith("rc=SCB_E_NO_CARD"), lines
    # no such reader, ambiguous name, index out of range
    rc, lines = probe("xmit", "no such reader", "00B0000001")
    assert rc == 2 and lines[0].startswith("rc=SCB_E_NO_READER"), lines
    assert "no reader matches" in lines[0]
    rc, lines = probe("xmit", "Virtual", "00B0000001")
    assert rc == 2 and "ambiguous" in lines[0], lines
    rc, lines = probe("xmit", "99", "00B0000001")
    assert rc == 2 and "out of range" in lines[0], lines
    # no daemon: point the client at a socket nobody serves
    env = dict(os.environ, PCSCLITE_CSOCK_NAME="/nonexistent/pcscd.comm")
    rc, lines = probe("xmit", READER, "00B0000001", env=env)
    assert rc == 2 and lines[0].startswith("rc=SCB_E_NO_SERVICE"), lines
    assert "pcscd running" in lines[0]


def test_card_removed_mid_session(pcscd):
    with minicard():
        # FFEE0000 makes the card process exit: the next command finds no card
        rc, lines = probe("xmit", READER, "00B0000001", "FFEE0000", "00B0000001", timeout=60)
        assert rc == 2, lines
        assert lines[1] == "009000"
        # the command the card died on reports the removal
        assert lines[2].startswith("rc=SCB_E_CARD_REMOVED"), lines
