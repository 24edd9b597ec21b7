"""Cross-check: the C host against this independent Python host where no
recorded trace exists (S16, AES-192/256, every level, KDF3, logical
channels with both MAC CLA choices, both counter modes, extended length,
and the failures).

Simple and honest: the Python host runs sessions against a Python card
(CardSession), each session is written as a trace in the scp03.json format,
and the C replay program (tests/c/test_scp03_vectors FILE) must reproduce
every wire command byte for byte, unwrap every response to the same
plaintext, and fail where the Python host failed with the same error code.
The Python host is first checked against the recorded public traces
(test_pyhost_vectors.py), so agreement here means both follow the spec.

The C program is found through SCB_REPLAY_BIN, else in ../../build.
"""

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

import scp03host as h

HERE = Path(__file__).resolve().parent


def replay_bin():
    env = os.environ.get("SCB_REPLAY_BIN")
    path = Path(env) if env else HERE.parent.parent / "build" / "tests" / "test_scp03_vectors"
    if not path.exists():
        pytest.fail(f"C replay program not built: {path} (build, or set SCB_REPLAY_BIN)")
    return path


class Card(h.EmulatedCard):
    """The Python card of a cross-check session: answers the planned
    response to each planned command, spoiling some on purpose."""

    def __init__(self, rnd, keys, *, tamper=None, **kw):
        super().__init__(keys, rng=lambda n: bytes(rnd.getrandbits(8) for _ in range(n)), **kw)
        self.seq = rnd.getrandbits(16)
        self.tamper = tamper or {}  # plan index -> how to spoil the response
        self.plan = []  # (plain command, plain response data, sw, pad_to)
        self.done = 0

    def initialize_update(self, c):
        r = super().initialize_update(c)
        if "card_cryptogram" in self.tamper:
            r = bytearray(r)
            r[13 + (16 if self.s16 else 8)] ^= 0x01
        return bytes(r)

    def respond(self, plain):
        want, data, sw, pad_to = self.plan[self.done]
        assert plain.encode() == want, (plain.encode().hex(), want.hex())
        resp = self.session.wrap_response(data, sw, pad_to)
        how = self.tamper.get(self.done)
        self.done += 1
        if how == "rmac":
            resp = resp[:-3] + bytes([resp[-3] ^ 0x01]) + resp[-2:]
        elif how == "data":
            resp = bytes([resp[0] ^ 0x01]) + resp[1:]
        elif how == "padding":  # authentic ciphertext of a plaintext without 80 marker
            s = self.session.session
            ct = h.cbc_encrypt(s.keys.s_enc, s.icv(True), b"\x11" * 16)
            resp = ct + s.r_mac(ct, sw) + sw.to_bytes(2, "big")
        return resp


def commands(rnd, level, s16, extended):
    """A plan: (plain command bytes, response data, sw, pad_to)."""
    probe = h.Session(None, level, s16)
    mac = probe.mac_len if level & h.SL_CMAC else 0
    room_cmd = 255 - mac
    if level & h.SL_CDEC:
        room_cmd = room_cmd // 16 * 16 - 1
    room_resp = 256 - (mac if level & h.SL_RMAC else 0)
    if level & h.SL_RENC:
        room_resp = room_resp // 16 * 16 - 1
    rb = lambda n: bytes(rnd.getrandbits(8) for _ in range(n))  # noqa: E731
    plan = [
        (bytes.fromhex("80CA006600"), rb(20), 0x9000, None),  # case 2
        (bytes.fromhex("80E2900005") + rb(5), b"", 0x9000, None),  # case 3, empty answer
        (bytes.fromhex("80F24002024F0000"), rb(room_resp), 0x9000, None),  # largest answer
        (bytes.fromhex("00B0000000"), rb(64), 0x6283, None),  # ISO class, warning status
        (bytes.fromhex("00A4040007A000000000000100"), b"", 0x6A82, None),  # error status
        (bytes.fromhex("80E28000") + bytes([room_cmd]) + rb(room_cmd), rb(1), 0x9000, None),
        (bytes.fromhex("80E2000010") + rb(16), rb(16), 0x6310, 48 if level & h.SL_RENC else None),
        (bytes.fromhex("80CA00FF00"), b"", 0x9000, None),  # no data, no answer data
    ]
    if extended:
        plan += [
            (h.Command(0x80, 0xE2, 0x00, 0x00, rb(255), ne=None).encode(), rb(3), 0x9000, None),
            (h.Command(0x80, 0xCA, 0x00, 0x00, b"", ne=500, extended=True).encode(), rb(300),
             0x9000, None),
        ]
    return plan


def run(name, seed, *, key_len=16, s16=False, level=0x33, kdf3=False, channel=0,
        mac_cla_as_sent=False, count_data_only=False, extended=False, with_aid=True,
        card_aid=None, i=None, host_s16=None, tamper=None, kvn=0x30, card_kvn=None):
    rnd = random.Random(seed)
    kb = lambda: bytes(rnd.getrandbits(8) for _ in range(key_len))  # noqa: E731
    keys = h.Keys(kb(), kb(), kb(), kvn)
    if i is None:
        i = 0x70 | (h.I_S16 if s16 else 0)
    host_s16 = s16 if host_s16 is None else host_s16
    sd_aid = bytes.fromhex("A000000151000000") if with_aid else None
    card = Card(rnd, keys, i=i, kvn=card_kvn or kvn, kdf3=kdf3,
                sd_aid=card_aid or bytes.fromhex("A000000151000000"),
                count_data_only=count_data_only, mac_cla_as_sent=mac_cla_as_sent, tamper=tamper)

    hc = bytes(rnd.getrandbits(8) for _ in range(16 if host_s16 else 8))
    host = h.SCP03Host(card, keys, level=level, s16=host_s16, host_challenge=hc, sd_aid=sd_aid,
                       kdf3=kdf3, count_data_only=count_data_only,
                       mac_cla_as_sent=mac_cla_as_sent, channel=channel, extended_ok=extended)
    entry = {
        "name": name,
        "keys": {"enc": keys.enc.hex().upper(), "mac": keys.mac.hex().upper(),
                 "dek": keys.dek.hex().upper(), "kvn": kvn},
        "sd_aid": sd_aid.hex().upper() if sd_aid else None,
        "level": level,
        "s16": host_s16,
        "host_challenge": hc.hex().upper(),
        "channel": channel,
        "scb_flags": [f for f, on in (("KDF3", kdf3), ("MAC_CLA_AS_SENT", mac_cla_as_sent),
                                      ("COUNT_DATA_ONLY", count_data_only)) if on],
        "transport_extended": extended,
        "exchanges": [],
    }
    plain = []
    try:
        host.open()
        card.plan = commands(rnd, level, s16, extended)
        for cmd, data, sw, pad_to in card.plan:
            plain.append((cmd, None))
            got = host.transmit(cmd)
            assert got == data + sw.to_bytes(2, "big")
            plain[-1] = (cmd, got)
    except h.SCP03Error as e:
        if not plain:
            entry["open_error"] = e.code
        else:
            plain[-1] = (plain[-1][0], e.code)
    for k, (c, r) in enumerate(host.trace):
        x = {"c": c.hex().upper(), "r": r.hex().upper(), "plain_c": None, "plain_r": None}
        if k >= 2:
            pc, pr = plain[k - 2]
            x["plain_c"] = pc.hex().upper()
            if isinstance(pr, str):
                x["expect_error"] = pr
            else:
                x["plain_r"] = pr.hex().upper()
        entry["exchanges"].append(x)
    return entry


def sessions():
    out = []
    seed = 1
    for key_len in (16, 24, 32):
        for s16 in (False, True):
            for level in h.LEVELS:
                out.append(run(f"aes{key_len * 8}_{'s16' if s16 else 's8'}_sl{level:02x}", seed,
                               key_len=key_len, s16=s16, level=level))
                seed += 1
    variants = [
        ("kdf3_aes128_s8", dict(kdf3=True)),
        ("kdf3_aes256_s16", dict(kdf3=True, key_len=32, s16=True)),
        ("random_challenge_no_aid", dict(with_aid=False, i=0x60)),
        ("channel2_cla_cleared", dict(channel=2)),
        ("channel2_cla_as_sent", dict(channel=2, mac_cla_as_sent=True)),
        ("channel7_cla_cleared_s16", dict(channel=7, s16=True)),
        ("channel7_cla_as_sent", dict(channel=7, mac_cla_as_sent=True)),
        ("count_data_only_sl33", dict(count_data_only=True)),
        ("count_data_only_s16_sl03", dict(count_data_only=True, s16=True, level=0x03)),
        ("extended_sl33_s8", dict(extended=True)),
        ("extended_sl13_s16_aes256", dict(extended=True, s16=True, key_len=32, level=0x13)),
        ("kvn_default", dict(kvn=0, card_kvn=0x30)),
        ("kvn_other", dict(kvn=0x31, card_kvn=0x30)),
        # failures: the C host must fail where the Python host fails, alike
        ("bad_card_cryptogram", dict(tamper={"card_cryptogram": True})),
        ("bad_card_cryptogram_s16_aes192", dict(tamper={"card_cryptogram": True}, s16=True,
                                                key_len=24)),
        ("bad_challenge_aid", dict(card_aid=bytes.fromhex("A000000151000001"))),
        ("mode_host_s16_card_s8", dict(host_s16=True)),
        ("mode_host_s8_card_s16", dict(s16=True, host_s16=False)),
        ("level_needs_rmac", dict(i=0x10, level=0x11)),
        ("level_needs_renc_s16", dict(i=0x31, level=0x33, s16=True)),
        ("bad_rmac", dict(tamper={2: "rmac"})),
        ("bad_rmac_s16_aes256", dict(tamper={0: "rmac"}, s16=True, key_len=32, level=0x11)),
        ("bad_ciphertext", dict(tamper={2: "data"})),
        ("bad_padding", dict(tamper={0: "padding"})),
        ("bad_padding_s16_aes192", dict(tamper={3: "padding"}, s16=True, key_len=24)),
    ]
    for name, kw in variants:
        out.append(run(name, seed, **kw))
        seed += 1
    return out


SESSIONS = sessions()


def test_python_side_fails_where_expected():
    """The generated failures are failures on the Python side already."""
    by = {e["name"]: e for e in SESSIONS}
    assert by["bad_card_cryptogram"]["open_error"] == "SCB_E_SCP_CARD_CRYPTOGRAM"
    assert by["bad_challenge_aid"]["open_error"] == "SCB_E_SCP_CHALLENGE"
    assert by["mode_host_s16_card_s8"]["open_error"] == "SCB_E_SCP_MODE"
    assert by["level_needs_rmac"]["open_error"] == "SCB_E_SCP_LEVEL"
    assert by["kvn_other"]["open_error"] == "SCB_E_SCP_KVN"
    assert by["bad_rmac"]["exchanges"][4]["expect_error"] == "SCB_E_SCP_RMAC"
    assert by["bad_ciphertext"]["exchanges"][4]["expect_error"] == "SCB_E_SCP_RMAC"
    assert by["bad_padding"]["exchanges"][2]["expect_error"] == "SCB_E_SCP_PADDING"
    ok = [e for e in SESSIONS if "open_error" not in e]
    assert all(len(e["exchanges"]) >= 10 for e in ok if not any(
        "expect_error" in x for x in e["exchanges"]))
    # the variants really differ on the wire: MAC CLA choice on channel 2
    a, b = by["channel2_cla_cleared"], by["channel2_cla_as_sent"]
    assert a["exchanges"][1]["c"][:2] == b["exchanges"][1]["c"][:2] == "86"


@pytest.mark.parametrize("chunk", range(4))
def test_c_host_reproduces(tmp_path, chunk):
    entries = SESSIONS[chunk::4]
    path = tmp_path / "xcheck.json"
    path.write_text(json.dumps(entries, indent=1))
    res = subprocess.run([str(replay_bin()), str(path)], capture_output=True, text=True,
                         timeout=60)
    lines = res.stderr.splitlines()
    for e in entries:
        assert any(l.startswith("ok") and f" {e['name']} " in l for l in lines), (
            e["name"], res.stderr[-3000:])
    assert res.returncode == 0, res.stderr[-3000:]
