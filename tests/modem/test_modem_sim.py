"""The modem transport against the project's virtual UICC: the fake modem
forwards APDUs to tests/modem/sim_stdio (registered once the sim is built)."""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from fake_modem import FakeModem, ProcessCard  # noqa: E402
from test_modem_pty import AID, UNNUMBERED, probe  # noqa: E402

SIM = os.environ["SCB_SIM_STDIO"]
FLOW = ["open-app:" + AID, "select-aid:" + AID, "select-fid:5031", "read:0", "close"]


def check_flow(res, channels):
    assert [d["rc"] for d in res[:5]] == ["SCB_OK"] * 5, res
    assert res[0]["ch"] == ("1" if channels == 1 else UNNUMBERED)
    assert res[0]["channels"] == str(channels)
    assert res[1]["data"] == AID  # the ADF's FCP names it
    assert len(res[3]["data"]) > 0  # EF.ODF has content
    assert res[4]["ch"] == "0" and res[-1]["op"] == "freed"


@pytest.mark.parametrize("refusal", [None, "cme"])
def test_odf_through_the_modem(refusal):
    with FakeModem(card=ProcessCard([SIM]), refuse_manage_channel=refusal, urc_rate=0.3,
                   seed=7) as m:
        res, _ = probe(m, *FLOW)
        check_flow(res, channels=1 if refusal is None else 2)
        assert bool(m.commands("+CCHO")) == (refusal is not None)


SCBOOT = os.path.join(os.environ["SCB_BUILD_DIR"], "core", "cli", "scboot")
GP_KEY = "404142434445464748494A4B4C4D4E4F"


def keys_file(tmp_path):
    """The virtual card's key set, for modem_probe --keys (never in argv)."""
    path = tmp_path / "keys.hex"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("%s %s %s 30\n" % (GP_KEY, GP_KEY, GP_KEY))
    return str(path)


def wire_trace(stdout):
    """The A>> / A<< lines of modem_probe --trace, and its notes."""
    lines = [line[len("trace: "):] for line in stdout.splitlines() if line.startswith("trace: ")]
    return [line for line in lines if line[:3] in ("A>>", "A<<")], \
        [line for line in lines if line.startswith("# ")]


def command_matches(line, apdu):
    """"A>> 00 A4 04 0C 0C A0 .." is apdu; a masked one shows its header."""
    shown = line[4:]
    masked = shown.endswith(" [data masked]")
    if masked:
        shown = shown[:-len(" [data masked]")]
    got = bytes.fromhex(shown.replace(" ", ""))
    return apdu[:len(got)] == got if masked else apdu == got


def response_matches(line, resp):
    """"A<< 6F 00 .. (9000)" is resp; "A<< [n bytes masked] (9000)" its
    length and status word."""
    m = re.fullmatch(r"A<< \[(\d+) bytes masked\] \(([0-9A-F]{4})\)", line)
    if m:
        return len(resp) - 2 == int(m.group(1)) and resp[-2:].hex().upper() == m.group(2)
    m = re.fullmatch(r"A<< ((?:[0-9A-F]{2} ?)*)\(([0-9A-F]{4})\)", line)
    assert m, line
    return bytes.fromhex(m.group(1).replace(" ", "")) + bytes.fromhex(m.group(2)) == resp


@pytest.mark.parametrize("refusal", ["sw", "cme", "error"])
def test_bootstrap_read_is_what_the_modem_carried(refusal, tmp_path):
    """The modem refuses MANAGE CHANNEL inside AT+CSIM and offers
    +CCHO / +CGLA / +CCHC: the bootstrap read at level 0x33 succeeds, and
    the APDUs the library reports (scb_card_apdu_count, the A>> / A<<
    trace lines) are exactly the payloads the modem received in AT+CSIM /
    AT+CGLA and what it answered; +CCHO and +CCHC are traced as notes,
    not as APDUs."""
    with FakeModem(card=ProcessCard([SIM]), refuse_manage_channel=refusal, urc_rate=0.3,
                   seed=9) as m:
        res, out = probe(m, "bootstrap", opts=["--trace", "--keys", keys_file(tmp_path)])
        sessions = {s for verb, s, _, _ in m.apdus if verb == "+CGLA"}
        apdus = list(m.apdus)
    ops = {d["op"]: d for d in res}
    assert ops["bootstrap"]["rc"] == "SCB_OK", res
    info = ops["bootstrap-info"]
    assert info["level"] == "51" and info["servers"] == "1"
    assert info["channel"] == UNNUMBERED
    assert ops["bootstrap"]["channels"] == "2"

    wire, notes = wire_trace(out.stdout)
    commands = [line for line in wire if line.startswith("A>>")]
    # the count, the job's own count and the modem's log agree
    assert int(ops["bootstrap"]["count"]) == len(apdus) == len(commands)
    assert int(info["apdus"]) == len(apdus)
    # one by one: the command given, then the answer received (none for
    # the MANAGE CHANNEL the modem refused with ERROR / +CME ERROR)
    i = 0
    for verb, session, apdu, resp in apdus:
        assert command_matches(wire[i], apdu), (wire[i], apdu.hex())
        i += 1
        if resp is None:
            assert apdu[1] == 0x70 and refusal != "sw"
            continue
        assert response_matches(wire[i], resp), (wire[i], resp.hex())
        i += 1
    assert i == len(wire)
    # EF.DIR on the basic channel, MANAGE CHANNEL refused, the rest on the channel
    assert [verb for verb, _, _, _ in apdus[:2]] == ["+CSIM", "+CSIM"]
    assert apdus[0][2][:2] == bytes.fromhex("00B2") and apdus[1][2] == bytes.fromhex("0070000001")
    assert all(verb == "+CGLA" for verb, _, _, _ in apdus[2:])
    assert len(sessions) == 1
    session = sessions.pop()
    assert "# +CCHO %s -> session %d" % (AID, session) in notes
    assert "# +CCHC session %d" % session in notes
    assert "A>> 00 70 00 00 01" not in commands[2:]  # no MANAGE CHANNEL after the refusal
    assert m.commands("+CCHC") == ["AT+CCHC=%d" % session]


@pytest.mark.parametrize("refusal", [None, "cme"])
def test_scboot_read_through_the_modem(refusal, tmp_path):
    """`scboot read --modem <pty>` prints the accounts,
    a full SCP03 read at level 0x33 through AT+CSIM (or, when the modem
    refuses MANAGE CHANNEL, AT+CCHO/AT+CGLA), with URCs interleaved."""
    import json
    import subprocess

    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"enc": GP_KEY, "mac": GP_KEY, "dek": GP_KEY, "kvn": 48}))
    with FakeModem(card=ProcessCard([SIM]), refuse_manage_channel=refusal, urc_rate=0.3,
                   seed=3) as m:
        table = subprocess.run([SCBOOT, "read", "--modem", m.path, "--keys", str(keys)],
                               capture_output=True, text=True, timeout=60)
        doc = subprocess.run([SCBOOT, "read", "--modem", m.path, "--keys", str(keys), "--json"],
                             capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    assert "Security accounts (object 0): 2" in table.stdout
    assert ("a logical channel the transport opened" in table.stdout) == (refusal is not None)
    assert "coaps://bs.example.com:5684" in table.stdout
    assert doc.returncode == 0, doc.stderr
    read = json.loads(doc.stdout)
    assert read["servers"][0]["lifetime"] == 86400
    assert read["read"]["scp_level"] == "0x33"


def test_python_open_modem():
    """Card.open_modem in the Python binding, a full secure read."""
    import scboot  # the build tree's package (PYTHONPATH from ctest)

    key = bytes.fromhex(GP_KEY)
    with FakeModem(card=ProcessCard([SIM]), urc_rate=0.3, seed=5) as m:
        with scboot.Card.open_modem(m.path) as card:
            bs = card.read_bootstrap(scboot.Keys(key, key, key, kvn=0x30))
    assert bs.servers[0]["lifetime"] == 86400
    with pytest.raises(scboot.TransportError):
        scboot.Card.open_modem("/dev/nonexistent-modem")
