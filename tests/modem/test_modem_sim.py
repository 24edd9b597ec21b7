"""The modem transport against the project's virtual UICC: the fake modem
forwards APDUs to tests/modem/sim_stdio (registered once the sim is built)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from fake_modem import FakeModem, ProcessCard  # noqa: E402
from test_modem_pty import AID, probe  # noqa: E402

SIM = os.environ["SCB_SIM_STDIO"]
FLOW = ["open", "select-aid:" + AID, "select-fid:5031", "read:0", "close"]


def check_flow(res, channels):
    assert [d["rc"] for d in res[:5]] == ["SCB_OK"] * 5, res
    assert res[0]["ch"] == "1" and res[0]["channels"] == str(channels)
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


@pytest.mark.parametrize("refusal", [None, "cme"])
def test_scboot_read_through_the_modem(refusal, tmp_path):
    """Issue 10 acceptance: `scboot read --modem <pty>` prints the accounts,
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
    assert "coaps://bs.example.com:5684" in table.stdout
    assert doc.returncode == 0, doc.stderr
    read = json.loads(doc.stdout)
    assert read["servers"][0]["lifetime"] == 86400
    assert read["read"]["scp_level"] == "0x33"


def test_python_open_modem():
    """Issue 10: Card.open_modem in the Python binding, a full secure read."""
    import scboot  # the build tree's package (PYTHONPATH from ctest)

    key = bytes.fromhex(GP_KEY)
    with FakeModem(card=ProcessCard([SIM]), urc_rate=0.3, seed=5) as m:
        with scboot.Card.open_modem(m.path) as card:
            bs = card.read_bootstrap(scboot.Keys(key, key, key, kvn=0x30))
    assert bs.servers[0]["lifetime"] == 86400
    with pytest.raises(scboot.TransportError):
        scboot.Card.open_modem("/dev/nonexistent-modem")
