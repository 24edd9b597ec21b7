"""The modem transport end to end on a pseudo-terminal: libscboot (through
tests/modem/modem_probe) opens the pty like a serial modem; fake_modem.py
speaks AT on the other side and forwards APDUs to its card."""
import os
import subprocess
import sys
import termios
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from fake_modem import FakeModem, ProcessCard, ScriptedCard  # noqa: E402

BUILD = os.environ.get("SCB_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
PROBE = os.path.join(BUILD, "tests", "modem", "modem_probe")
AID = "A000000063504B43532D3135"
EF_6432 = bytes((i * 7 + 3) & 0xFF for i in range(300)).hex().upper()
UNNUMBERED = "128"  # SCB_CHANNEL_UNNUMBERED: a +CCHO channel, its number the modem's
READ_FLOW = ["open-app:" + AID, "select-fid:6432", "read:300", "close"]


def probe(modem, *ops, opts=(), timeout=60):
    """Run modem_probe; one dict per printed line (op, rc, sw, ch, cme, ...),
    trace lines ("trace: ...") left out."""
    out = subprocess.run([PROBE, *opts, modem.path, *ops], capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode in (0, 2), out.stderr  # 2: opening failed, as reported
    assert "Sanitizer" not in out.stderr, out.stderr
    lines = []
    for line in out.stdout.splitlines():
        if line.startswith("trace: "):
            continue
        head, _, msg = line.partition(" msg=")
        fields = head.split(" ")
        d = {"op": fields[0]}
        for f in fields[1:]:
            k, _, v = f.partition("=")
            d[k] = v
        if msg:
            d["msg"] = msg
        lines.append(d)
    return lines, out


def check_read_flow(res, channels):
    ops = {d["op"]: d for d in res}
    for op in ("open-app", "select-fid", "read", "close"):
        assert ops[op]["rc"] == "SCB_OK", res
    assert ops["open-app"]["ch"] == ("1" if channels == 1 else UNNUMBERED)
    assert ops["open-app"]["channels"] == str(channels)
    assert ops["select-fid"]["data"] == "012C"
    assert ops["read"]["data"] == EF_6432
    assert ops["close"]["ch"] == "0"
    assert res[-1]["op"] == "freed"


@pytest.mark.parametrize("seed", range(6))
def test_basic_channel_echo_urcs_split(seed):
    """Echo on, URCs between lines, output in random pieces: a SELECT and
    the 300-byte EF on the basic channel."""
    with FakeModem(echo=seed % 2 == 0, ignore_ate0=seed % 3 == 0, urc_rate=0.5,
                   seed=seed) as m:
        res, out = probe(m, "apdu:00A4000C023F00", "select-aid:" + AID, "select-fid:6432",
                         "read:300")
        assert [d["rc"] for d in res[:4]] == ["SCB_OK"] * 4, out.stdout
        assert res[0]["data"] == "9000"
        assert res[3]["data"] == EF_6432
        assert m.log[:3] == ["AT", "ATE0V1", "AT+CMEE=1"]


def test_line_settings():
    """Raw 8N1, CLOCAL, no flow control, the baud asked for; restored at close."""
    with FakeModem() as m:
        before = termios.tcgetattr(m.slave)
        res, _ = probe(m, "apdu:00A4000C023F00", opts=["--baud", "9600"])
        assert res[0]["rc"] == "SCB_OK"
        iflag, oflag, cflag, lflag, ispeed, ospeed, cc = m.line_attrs
        assert ispeed == termios.B9600 and ospeed == termios.B9600
        assert cflag & termios.CSIZE == termios.CS8
        assert cflag & (termios.CLOCAL | termios.CREAD) == termios.CLOCAL | termios.CREAD
        assert not cflag & (termios.PARENB | termios.CSTOPB | termios.CRTSCTS)
        assert not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)
        assert not iflag & (termios.IXON | termios.ICRNL)
        assert not oflag & termios.OPOST
        assert termios.tcgetattr(m.slave) == before


def test_channel_passthrough():
    with FakeModem(urc_rate=0.3, seed=11) as m:
        res, _ = probe(m, *READ_FLOW)
        check_read_flow(res, channels=1)
        assert m.commands("+CCHO") == []
        assert m.commands("+CSIM")[:2] == ['AT+CSIM=10,"0070000001"',
                                          'AT+CSIM=34,"01A4040C0C%s"' % AID]
        assert set(m.card.channels) == {0}


@pytest.mark.parametrize("refusal", ["error", "cme", "sw"])
def test_channel_open_after_refusal(refusal):
    """MANAGE CHANNEL refused in +CSIM: +CCHO opens the channel, +CGLA
    carries the commands with the CLA as the library built it (channel bits
    0: the modem sets them), +CCHC closes it."""
    with FakeModem(refuse_manage_channel=refusal, urc_rate=0.3, seed=5) as m:
        res, _ = probe(m, *READ_FLOW)
        check_read_flow(res, channels=2)
        assert m.commands("+CSIM") == ['AT+CSIM=10,"0070000001"']
        assert m.commands("+CCHO") == ["AT+CCHO=?", 'AT+CCHO="%s"' % AID]
        assert m.commands("+CGLA")[0] == "AT+CGLA=?"
        assert m.commands("+CCHC") == ["AT+CCHC=1"]
        assert all(c.startswith('AT+CGLA=1,') for c in m.commands("+CGLA")[1:])
        assert all(apdu[0] & 0x03 == 0 for verb, _, apdu, _ in m.apdus if verb == "+CGLA")
        assert set(m.card.channels) == {0}


def test_session_ids():
    """Session ids that are not channel numbers, answered with the prefix;
    a modem with a channel of its own open: the library does not care which
    channel the card gave."""
    with FakeModem(refuse_manage_channel="cme", session_base=40, ccho_bare=False) as m:
        res, _ = probe(m, *READ_FLOW)
        check_read_flow(res, channels=2)
        assert m.commands("+CCHC") == ["AT+CCHC=41"]
    card = ScriptedCard(preopen=[1])
    with FakeModem(card=card, refuse_manage_channel="error") as m:
        res, _ = probe(m, *READ_FLOW)
        check_read_flow(res, channels=2)
        assert m.commands("+CCHC") == ["AT+CCHC=2"]
        assert any(c.startswith('AT+CGLA=2,10,"00B0') for c in m.commands("+CGLA"))


def test_t0_and_select_refused():
    """T=0 card: SELECT with FCP answers 61xx, GET RESPONSE goes through
    +CGLA on the channel. A modem that refuses SELECT through +CGLA: that
    SELECT fails with the modem's answer (none is made up); the application
    +CCHO selected stays, the rest works."""
    with FakeModem(card=ScriptedCard(t0=True), refuse_manage_channel="error") as m:
        res, _ = probe(m, *READ_FLOW)
        check_read_flow(res, channels=2)
        assert any('"00C00000' in c for c in m.commands("+CGLA"))
    with FakeModem(refuse_manage_channel="error", cgla_refuse_select=True) as m:
        res, _ = probe(m, "open-app:" + AID, "select-aid:" + AID, "apdu:00A4000C026432",
                       "read:4", "close")
        assert res[0]["rc"] == "SCB_OK", res
        assert res[1]["rc"] == "SCB_E_MODEM_CME" and res[1]["cme"] == "4"
        assert [d["rc"] for d in res[2:5]] == ["SCB_OK"] * 3, res
        assert res[2]["data"] == "9000"
        assert res[3]["data"] == EF_6432[:8]


def test_unknown_application():
    """+CME ERROR: 22 to +CCHO is "no such application" (SCB_E_NOT_FOUND),
    not a status word of the card's."""
    with FakeModem(refuse_manage_channel="cme") as m:
        res, _ = probe(m, "open-app:A0000000871002", "open-app:" + AID, "close")
        assert res[0]["rc"] == "SCB_E_NOT_FOUND", res
        assert "+CME ERROR: 22" in res[0]["msg"] and res[0]["sw"] == "0000"
        assert res[0]["ch"] == "0"
        assert res[1]["rc"] == "SCB_OK" and res[1]["channels"] == "2"
        assert res[2]["rc"] == "SCB_OK"
        assert m.commands("+CSIM") == ['AT+CSIM=10,"0070000001"']  # decided once


def test_refused_without_cgla():
    with FakeModem(refuse_manage_channel="cme", cgla=False) as m:
        res, _ = probe(m, "open-app:" + AID, "apdu:00A4000C023F00")
        assert res[0]["rc"] == "SCB_E_MODEM_CME" and res[0]["cme"] == "3"
        assert "no_logical_channel" in res[0]["msg"].lower()  # the option to use
        assert res[1]["rc"] == "SCB_OK"  # the basic channel still works
    with FakeModem(refuse_manage_channel="error") as m:
        res, _ = probe(m, "open-app:" + AID, opts=["--channels", "csim"])
        assert res[0]["rc"] == "SCB_E_MODEM"
        assert m.commands("+CCHO") == []


def test_forced_cgla():
    with FakeModem() as m:
        res, _ = probe(m, "open", *READ_FLOW, opts=["--channels", "cgla"])
        assert res[0]["rc"] == "SCB_E_UNSUPPORTED" and "open_app" in res[0]["msg"]
        check_read_flow(res[1:], channels=2)
        assert m.commands("+CSIM") == []


@pytest.mark.parametrize("cmee_fixed,want_cme,want_text",
                         [(None, "13", "+CME ERROR: 13 (SIM failure)"),
                          (2, "14", "+CME ERROR: SIM busy (error 14)")])
def test_cme_errors(cmee_fixed, want_cme, want_text):
    rules = [("+CSIM", 2, "cme:" + want_cme)]
    with FakeModem(cmee_fixed=cmee_fixed, rules=rules, urc_rate=0.3, seed=2) as m:
        res, _ = probe(m, "apdu:00A4000C023F00", "apdu:00A4000C023F00", "apdu:00A4000C023F00")
        assert res[0]["rc"] == "SCB_OK"
        assert res[1]["rc"] == "SCB_E_MODEM_CME" and res[1]["cme"] == want_cme
        assert want_text in res[1]["msg"] and "3F00" not in res[1]["msg"]
        assert res[2]["rc"] == "SCB_OK" and res[2]["cme"] == "-1"


def test_error_and_bad_lines():
    rules = [("+CSIM", 1, "error"), ("+CSIM", 2, 'raw:+CSIM: 6,"9000"\r\n\r\nOK'),
             ("+CSIM", 3, 'raw:+CSIM: 4,"9X00"\r\n\r\nOK'), ("+CSIM", 4, "raw:OK")]
    with FakeModem(rules=rules) as m:
        res, _ = probe(m, *["apdu:00A4000C023F00"] * 5)
        assert res[0]["rc"] == "SCB_E_MODEM"
        assert res[1]["rc"] == "SCB_E_BAD_RESPONSE" and "length field says 6" in res[1]["msg"]
        assert res[2]["rc"] == "SCB_E_BAD_RESPONSE" and "invalid hex" in res[2]["msg"]
        assert res[3]["rc"] == "SCB_E_BAD_RESPONSE" and "without a +CSIM: line" in res[3]["msg"]
        assert res[4]["rc"] == "SCB_OK"


def test_timeout_then_late_answer():
    """A stalled command times out; one answered late does not answer the
    next command."""
    rules = [("+CSIM", 1, "stall"), ("+CSIM", 2, "delay:700")]
    with FakeModem(rules=rules) as m:
        t0 = time.monotonic()
        res, _ = probe(m, "apdu:00A4000C023F00", "apdu:00A4000C023F00", "apdu:00B0000004",
                       "apdu:00A4000C023F00", opts=["--timeout", "400"])
        assert res[0]["rc"] == "SCB_E_TIMEOUT"
        assert "no final result code within 400 ms" in res[0]["msg"]
        assert res[1]["rc"] == "SCB_E_TIMEOUT"
        assert res[2]["rc"] == "SCB_OK" and res[2]["sw"] == "6986"  # its own answer
        assert res[3]["rc"] == "SCB_OK" and res[3]["sw"] == "9000"
        assert time.monotonic() - t0 < 10


def test_modem_goes_away():
    with FakeModem(rules=[("+CSIM", 2, "hangup")]) as m:
        res, out = probe(m, "apdu:00A4000C023F00", "apdu:00A4000C023F00",
                         "apdu:00A4000C023F00", "open")
        assert res[0]["rc"] == "SCB_OK"
        assert res[1]["rc"] == "SCB_E_CARD_REMOVED" and "went away" in res[1]["msg"]
        assert res[2]["rc"] == "SCB_E_CARD_REMOVED" and "earlier" in res[2]["msg"]
        assert res[3]["rc"] == "SCB_E_CARD_REMOVED"
        assert res[-1]["op"] == "freed", out.stdout


def test_open_failures():
    with FakeModem(rules=[("AT", 0, "stall")]) as m:
        res, out = probe(m, "apdu:00A4000C023F00", opts=["--timeout", "300"])
        assert out.returncode == 2
        assert res[0]["rc"] == "SCB_E_TIMEOUT"
        assert "does not answer AT" in out.stdout and m.path in out.stdout
    out = subprocess.run([PROBE, "/dev/nonexistent-modem"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2 and "rc=SCB_E_NO_READER" in out.stdout


def test_port_in_use():
    """A second program on the same AT port is refused (flock), not
    interleaved with the first; the port is free again once it is closed."""
    import fcntl
    with FakeModem() as m:
        holder = os.open(m.path, os.O_RDWR | os.O_NOCTTY)
        try:
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
            res, out = probe(m, "apdu:00A4000C023F00")
            assert out.returncode == 2
            assert res[0]["rc"] == "SCB_E_SHARING", res
            assert "exclusive use by another program" in out.stdout
            assert m.log == [], "nothing may be sent to a port in use"
        finally:
            os.close(holder)
        res, _ = probe(m, "apdu:00A4000C023F00")
        assert res[0]["rc"] == "SCB_OK", res


def test_channels_closed_at_free():
    with FakeModem(refuse_manage_channel="error") as m:
        res, _ = probe(m, "open-app:" + AID)
        assert res[0]["rc"] == "SCB_OK"
        assert m.commands("+CCHC") == ["AT+CCHC=1"]
        assert set(m.card.channels) == {0}
    with FakeModem() as m:
        res, _ = probe(m, "open", "select-aid:" + AID)
        assert m.log[-1] == 'AT+CSIM=8,"00708001"'
        assert set(m.card.channels) == {0}


def test_card_process():
    """A card behind a pipe (the scripted card as a process, the way
    sim_stdio serves the virtual UICC); when it ends the modem says SIM not
    inserted."""
    card = ProcessCard([sys.executable, os.path.join(os.path.dirname(__file__),
                                                     "fake_modem.py"), "--stdio-card"])
    with FakeModem(card=card, refuse_manage_channel="error") as m:
        res, _ = probe(m, *READ_FLOW)
        check_read_flow(res, channels=2)
        card.close()
        res, _ = probe(m, "apdu:00A4000C023F00")
        assert res[0]["rc"] == "SCB_E_MODEM_CME" and res[0]["cme"] == "10"
        assert "SIM not inserted" in res[0]["msg"]
