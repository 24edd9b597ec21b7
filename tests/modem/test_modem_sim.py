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

