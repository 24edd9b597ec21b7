"""The shared SCP03 traces (tests/vectors/scp03.json) replayed through
Card.from_transmit with pinned host challenges: the binding must produce
the recorded wire bytes and return the recorded plaintext responses."""
import pytest

import scboot
from conftest import Script, load_vectors

SESSIONS = [v for v in load_vectors("scp03.json") if v.get("exchanges")]


def keys_for(v):
    # Exchange 0 is INITIALIZE UPDATE; its P1 is the key version asked for.
    kvn = bytes.fromhex(v["exchanges"][0]["c"])[2]
    k = v["keys"]
    return scboot.Keys(k["enc"], k["mac"], k["dek"], kvn)


def wire(v):
    return [(x["c"], x["r"]) for x in v["exchanges"]]


def open_session(card, v):
    with keys_for(v) as keys:
        return card.open_scp03(keys, v["level"], host_challenge=v["host_challenge"],
                               sd_aid=v["sd_aid"], s16=v["s16"])


@pytest.mark.parametrize("v", SESSIONS, ids=lambda v: v["name"])
def test_replay(v):
    script = Script(wire(v))
    with scboot.Card.from_transmit(script) as card:
        info = open_session(card, v)
        assert card.scp03_level == v["level"]
        iu = bytes.fromhex(v["exchanges"][0]["r"])
        assert info.kdd == iu[:10]
        assert info.kvn == iu[10]
        assert info.i_param == iu[12]
        assert info.level == v["level"]
        assert info.challenge_verified == (v["sd_aid"] is not None)
        for x in v["exchanges"][2:]:
            if x["plain_c"] is None:
                assert card.transmit_plain(x["c"]) == bytes.fromhex(x["r"])
            else:
                assert card.transmit(x["plain_c"]) == bytes.fromhex(x["plain_r"])
        card.close_scp03()
        assert card.scp03_level is None
    assert script.done()


@pytest.mark.parametrize("v", SESSIONS[:1], ids=lambda v: v["name"])
def test_wrong_card_cryptogram_stops_before_external_authenticate(v):
    exchanges = wire(v)
    c, r = exchanges[0]
    # KDD (10) || key info (3) || card challenge (8) || card cryptogram (8) || ...
    response = bytearray.fromhex(r)
    response[10 + 3 + 8 + 7] ^= 0x01
    script = Script([(c, response.hex())])
    with scboot.Card.from_transmit(script) as card:
        with pytest.raises(scboot.CardCryptogramError):
            open_session(card, v)
        assert card.scp03_level is None
    assert len(script.sent) == 1   # no EXTERNAL AUTHENTICATE


@pytest.mark.parametrize("v", SESSIONS[:1], ids=lambda v: v["name"])
def test_key_check_without_external_authenticate(v):
    script = Script(wire(v)[:1])
    with scboot.Card.from_transmit(script) as card:
        with keys_for(v) as keys:
            info = card.probe_keys(keys, level=v["level"], host_challenge=v["host_challenge"],
                                   sd_aid=v["sd_aid"])
        assert info.kvn == bytes.fromhex(v["exchanges"][0]["r"])[10]
        assert card.scp03_level is None
    assert script.done()


def rmac_session():
    return next(v for v in SESSIONS if v["level"] & 0x10)


def test_corrupted_rmac_is_detected():
    v = rmac_session()
    exchanges = wire(v)
    c, r = exchanges[2]
    exchanges[2] = (c, r[:-6] + f"{int(r[-6:-4], 16) ^ 0x80:02X}" + r[-4:])
    with scboot.Card.from_transmit(Script(exchanges)) as card:
        open_session(card, v)
        with pytest.raises(scboot.RMacError):
            card.transmit(v["exchanges"][2]["plain_c"])
        # the session is gone: no secured command goes out any more
        assert card.scp03_level is None


def test_a_different_host_challenge_is_caught_by_the_transport():
    """The assertion inside the Python transport propagates unchanged."""
    v = SESSIONS[0]
    with scboot.Card.from_transmit(Script(wire(v))) as card:
        with keys_for(v) as keys:
            with pytest.raises(AssertionError, match="command 0"):
                card.open_scp03(keys, v["level"], host_challenge=bytes(8))
