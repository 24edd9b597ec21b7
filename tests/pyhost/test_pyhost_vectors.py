"""The Python host against the recorded public vectors (tests/vectors)."""

import pytest

import scp03host as h
from conftest import load

SCP03 = load("scp03.json")
TRACES = [e for e in SCP03 if e.get("exchanges")]


def keys_of(e, kvn=None):
    k = e["keys"]
    return h.Keys(
        bytes.fromhex(k["enc"]),
        bytes.fromhex(k["mac"]),
        bytes.fromhex(k["dek"]),
        k["kvn"] if kvn is None else kvn,
    )


class Recorded:
    """A transmit that checks each wire command against the trace and
    answers the recorded response."""

    def __init__(self, exchanges):
        self.exchanges = exchanges
        self.pos = 0

    def __call__(self, cmd):
        ex = self.exchanges[self.pos]
        self.pos += 1
        assert cmd.hex().upper() == ex["c"], f"exchange {self.pos - 1}"
        return bytes.fromhex(ex["r"])


def host_for(e, transmit, **kw):
    ex0 = bytes.fromhex(e["exchanges"][0]["c"])
    return h.SCP03Host(
        transmit,
        keys_of(e, kvn=ex0[2]),  # the KVN the host asked for is P1 of INITIALIZE UPDATE
        level=e["level"],
        s16=e["s16"],
        host_challenge=bytes.fromhex(e["host_challenge"]),
        sd_aid=bytes.fromhex(e["sd_aid"]) if e["sd_aid"] else None,
        **kw,
    )


@pytest.mark.parametrize("e", TRACES, ids=[e["name"] for e in TRACES])
def test_replay_trace(e):
    rec = Recorded(e["exchanges"])
    host = host_for(e, rec)
    host.open()
    for ex in e["exchanges"][2:]:
        assert host.transmit(bytes.fromhex(ex["plain_c"])).hex().upper() == ex["plain_r"]
    assert rec.pos == len(e["exchanges"])


@pytest.mark.parametrize("e", SCP03, ids=[e["name"] for e in SCP03])
def test_session_keys(e):
    if e.get("exchanges"):
        iu = bytes.fromhex(e["exchanges"][0]["r"])
        cc, seq = iu[13:21], iu[29:32]
    else:
        cc, seq = bytes.fromhex(e["card_challenge"]), bytes.fromhex(e["seq"])
    k = keys_of(e)
    sk = h.session_keys(k, bytes.fromhex(e["host_challenge"]), cc)
    s = e["session"]
    assert sk.s_enc.hex().upper() == s["s_enc"]
    assert sk.s_mac.hex().upper() == s["s_mac"]
    assert sk.s_rmac.hex().upper() == s["s_rmac"]
    assert sk.card_cryptogram.hex().upper() == s["card_cryptogram"]
    assert sk.host_cryptogram.hex().upper() == s["host_cryptogram"]
    if e["sd_aid"]:
        assert h.card_challenge(k.enc, seq, bytes.fromhex(e["sd_aid"]), e["s16"]) == cc


def test_samsung_overpadded_renc():
    """The Samsung card pads an R-ENC plaintext to 32 bytes: stripped."""
    e = next(x for x in TRACES if x["name"] == "samsung_aes128_s8_sl33")
    ex = next(x for x in e["exchanges"] if x.get("renc_padded_len"))
    data = bytes.fromhex(ex["r"])[:-2]
    assert len(data) - 8 == ex["renc_padded_len"]
    # and a no-marker plaintext is refused
    with pytest.raises(h.PaddingError):
        h.unpad80(bytes(16))
    with pytest.raises(h.PaddingError):
        h.unpad80(b"\x11" * 16)
    assert h.unpad80(b"\xAA\x80" + bytes(30)) == b"\xAA"


def test_card_side_reproduces_trace():
    """The card side (used to build cross-check traces) reproduces the
    recorded Samsung responses from the plain ones."""
    e = next(x for x in TRACES if x["name"] == "samsung_aes128_s8_sl33")
    k = keys_of(e)
    hc = bytes.fromhex(e["host_challenge"])
    iu = bytes.fromhex(e["exchanges"][0]["r"])[:-2]
    data, sk = h.iu_response(
        k, hc, i=iu[12], kvn=iu[10], kdd=iu[:10], card_chal=iu[13:21], seq=iu[29:32]
    )
    assert data == iu
    card = h.CardSession.after_handshake(sk, e["level"], e["s16"])
    card.verify_external_authenticate(bytes.fromhex(e["exchanges"][1]["c"]))
    for ex in e["exchanges"][2:]:
        plain = card.unwrap_command(bytes.fromhex(ex["c"]))
        assert plain.encode().hex().upper() == ex["plain_c"]
        pr = bytes.fromhex(ex["plain_r"])
        sw = int.from_bytes(pr[-2:], "big")
        wire = card.wrap_response(pr[:-2], sw, ex.get("renc_padded_len"))
        assert wire.hex().upper() == ex["r"]


def negative_host(name, mutate_exchange, mutate):
    e = next(x for x in TRACES if x["name"] == name)
    exchanges = [dict(x) for x in e["exchanges"]]
    b = bytearray.fromhex(exchanges[mutate_exchange]["r"])
    mutate(b)
    exchanges[mutate_exchange]["r"] = b.hex().upper()
    return e, exchanges


def flip(index):
    def f(b):
        b[index] ^= 0x01

    return f


@pytest.mark.parametrize(
    "name,index,mutate,err",
    [
        ("kaoh_get_status", 0, flip(21), h.CardCryptogramError),  # card cryptogram
        ("samsung_aes128_s8_sl33", 0, flip(10), h.KVNError),  # key version byte
        ("kaoh_get_status", 0, flip(14), h.ChallengeError),  # pseudo-random challenge
        ("kaoh_get_status", 0, flip(12), h.ModeError),  # i: S16 bit
        ("kaoh_get_status", 0, flip(11), h.ProtocolError),  # SCP id
        ("kaoh_get_status", 0, lambda b: b.pop(0), h.ProtocolError),  # truncated
        ("kaoh_get_status", 0, lambda b: b.insert(0, 0), h.ProtocolError),  # overlong
        ("kaoh_get_status", 1, lambda b: b.__setitem__(slice(0, 2), b"\x63\x00"),
         h.AuthRejectedError),  # EXTERNAL AUTHENTICATE refused
        ("samsung_aes128_s8_sl33", 2, flip(-3), h.RMACError),  # R-MAC
        ("samsung_aes128_s8_sl33", 2, flip(0), h.RMACError),  # encrypted data
    ],
)
def test_negative(name, index, mutate, err):
    e, exchanges = negative_host(name, index, mutate)
    host = host_for(e, Recorded(exchanges))
    with pytest.raises(err):
        host.open()
        for ex in exchanges[2:]:
            host.transmit(bytes.fromhex(ex["plain_c"]))
    assert host.session is None


def test_level_not_supported():
    e = next(x for x in TRACES if x["name"] == "kaoh_get_status")
    for i, level in ((0x10, 0x11), (0x30, 0x33)):
        exchanges = [dict(x) for x in e["exchanges"][:1]]
        b = bytearray.fromhex(exchanges[0]["r"])
        b[12] = i
        exchanges[0]["r"] = b.hex().upper()
        host = host_for(e, Recorded(exchanges))
        host.level = level
        with pytest.raises(h.LevelError):
            host.open()


def test_putkey_vectors():
    for v in load("putkey.json")["vectors"]:
        dek, key = bytes.fromhex(v["dek"]), bytes.fromhex(v["key"])
        assert h.dek_encrypt(dek, key).hex().upper() == v["encrypted"], v["name"]
        assert h.kcv(key).hex().upper() == v["kcv"], v["name"]
    assert h.kcv(bytes(range(0x40, 0x50))).hex().upper() == "504A77"


def test_put_key_data_layout():
    v = load("putkey.json")["vectors"]
    dek = bytes.fromhex(v[0]["dek"])
    new = h.Keys(*(bytes.fromhex(x["key"]) for x in v), kvn=0x31)
    data = h.put_key_data(dek, new)
    expect = "31" + "".join("881110" + x["encrypted"] + "03" + x["kcv"] for x in v)
    assert data.hex().upper() == expect


def test_kdf3_vectors():
    for v in load("kdf3.json")["vectors"]:
        master, kdd = bytes.fromhex(v["master"]), bytes.fromhex(v["kdd"])
        k = h.Keys(master, master, master).diversify_kdf3(kdd)
        for name, key in (("enc", k.enc), ("mac", k.mac), ("dek", k.dek)):
            assert key.hex().upper() == v["derived"][name], (v["name"], name)
            assert h.kcv(key).hex().upper() == v["kcv"][name], (v["name"], name)


def test_command_codec():
    for hexs in ("80500000", "80CA006600", "8050000008B2BDE1A2DC66BD56", "80F24002024F0000",
                 "00B000000001F4", "00D60000000001AA", "00D60000000002AABB0100"):
        b = bytes.fromhex(hexs)
        assert h.Command.parse(b).encode() == b
    with pytest.raises(ValueError):
        h.Command.parse(bytes.fromhex("8050000008B2"))


def test_cla_coding():
    assert h.cla_for_channel(0x84, 0) == 0x84
    assert h.cla_for_channel(0x84, 3) == 0x87
    assert h.cla_for_channel(0x84, 4) == 0xE0
    assert h.cla_for_channel(0x84, 19) == 0xEF
    assert h.cla_for_channel(0x80, 5) == 0xC1
    assert h.cla_for_channel(0x04, 2) == 0x06
    assert h.cla_for_channel(0x04, 7) == 0x63
    assert h.mac_cla(0x87, False) == 0x84 and h.mac_cla(0x87, True) == 0x87
    assert h.mac_cla(0xE5, False) == 0xE0 and h.mac_cla(0xE5, True) == 0xE5
