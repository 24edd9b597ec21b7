#!/usr/bin/python3
"""Write the seed corpora of the harnesses that talk to a fuzzed card
(fuzz/corpus/{engine,scp03_open,sm_unwrap,fcp,atr,at,read_bootstrap}).

The seeds are ordinary sessions: what the virtual card (core/sim, default
profile, PROFILE.md) answers to a cold read, a warm read, a write, T=0, a
modem transcript, so that the fuzzer starts from the paths a real card
takes. Records follow fuzz/fuzzed_card.h; rerun after changing its format:

    fuzz/make_seeds.py            (writes into fuzz/corpus)
"""
import pathlib

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"

RAW, SEALED, PLAIN, CARD, ERROR, OVERLONG = range(6)


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


def rec(kind, data=b""):
    if len(data) > 0x7F00:
        raise ValueError("record too long")
    if len(data) > 255:
        return bytes([kind | 0x80, len(data) >> 8, len(data) & 0xFF]) + data
    return bytes([kind, len(data)]) + data


OK = h("9000")
# The default virtual card (PROFILE.md "The default card").
EFDIR_REC1 = h("61 23 4F 0C A0000000 63504B43532D3135 50 0D") + b"LwM2M PKCS#15" + \
    h("51 04 3F005015") + b"\xff" * 11
ODF = h("A7 06 30 04 04 02 64 30") + b"\xff" * 24
ODF_AODF = h("A7 06 30 04 04 02 64 30 A8 06 30 04 04 02 44 01") + b"\xff" * 16
# The PIN object of a virtual card with a PIN (PROFILE.md): authId 01,
# ascii-numeric, 4..8 digits stored in 8 bytes, reference 01, pad FF.
AODF = h("30 27 30 06 0C 04 50494E31 30 03 04 01 01 A1 18 30 16 03 02 02 0C 0A 01 01"
         "02 01 04 02 01 08 02 01 08 80 01 01 04 01 FF")
DODF = h("A1 25 30 11 0C 0F") + b"LwM2M Bootstrap" + \
    h("30 00 A1 0E 30 0C 06 04 67 2B 09 01 30 04 04 02 64 32") + b"\xff" * 89
DODF_MISENCODED = h("A1 27 30 11 0C 0F") + b"LwM2M Bootstrap" + \
    h("30 00 A1 10 30 0E 06 06 06 04 67 2B 09 01 30 04 04 02 64 32")
# opaqueDO entries with the OID as CommonDataObjectAttributes.applicationOID
# (as fuzz/corpus/pkcs15/dodf_opaque, after another data object)
DODF_APP_OID = h("a11330003000a10d300b06032a03043004040211113029300e0c05426f6f7431030206c0040101"
                 "300b0c036170700604672b0901a0023000a106300404026432")


def tlv(tag, content):
    assert len(content) < 128
    return bytes([tag, len(content)]) + content


def fcp(fid, size, desc="41 21"):
    """FCP of an EF in the ADF as the virtual card sends it."""
    return h(f"62 16 82 02 {desc} 83 02 {fid} 8A 01 05 8C 03 03 40 00 80 02 {size:04X} 88 00")


FCP_ODF = fcp("5031", 0x20)
FCP_DODF = fcp("6430", 0x80)
FCP_AODF = fcp("4401", 0x40)
FCP_EF = fcp("6432", 0x400)
FCP_EFDIR = tlv(0x62, h("82 05 42 21 00 30 02 83 02 2F 00 A5 03 80 01 71 8A 01 05 8B 03 2F 06 01"
                        "88 01 F0"))
FCP_ADF = tlv(0x62, h("82 02 78 21 83 02 50 15 84 0C A0000000 63504B43532D3135 A5 03 80 01 71"
                      "8A 01 05 8B 03 2F 06 01 C6 03 90 01 00"))
# The default card's bootstrap file (scboot read --sim --raw): two Security
# instances with PSK keys, one Server instance.
BOOTSTRAP = h(
    "0002 00bf 0000 0000 a208 004b c800 1b63 6f61 7073 3a2f 2f62 732e 6578 616d 706c"
    "652e 636f 6d3a 3536 3834 c101 01c1 0200 c803 1173 6362 6f6f 742d 7369 6d2d 6465"
    "7669 6365 c805 1000 0102 0304 0506 0708 090a 0b0c 0d0e 0f08 0151 c800 1e63 6f61"
    "7073 3a2f 2f6c 776d 326d 2e65 7861 6d70 6c65 2e63 6f6d 3a35 3638 34c1 0100 c102"
    "00c8 0311 7363 626f 6f74 2d73 696d 2d64 6576 6963 65c8 0510 1011 1213 1415 1617"
    "1819 1a1b 1c1d 1e1f c10a 6500 0101 0100 1208 000f c100 65c4 0100 0151 80c1 0601"
    "c107 55")
# The file fuzz_read_bootstrap.c writes (its read-back).
WRITTEN = h("0002 002F 0000 00 001B 0800 18 C800 0A") + b"coaps://bs" + \
    h("C10101 C10200 C305112233 0001 00 000A 080007 C10065 C201012C")
# GP SCP03 trace of scp03.json "samsung_aes128_s8_sl33": its INITIALIZE
# UPDATE answer (S8, i = 70).
SAMSUNG_IU = h("A1A012430585513120853003709CE033FA78E6B10DDC2DBE8974C8B0DE00082A9000")


def padded(data, n):
    """The first n bytes of an EF holding data, FF padded (a READ BINARY answer)."""
    return (data + b"\xff" * n)[:n]


def secured_read(dodf=DODF, chunk=239, pin=False, aodf=False):
    """Answers to a cold read under SCP03 (PLAIN records); chunk: the most
    one READ BINARY returns at that level (239 at R-ENC + R-MAC S8); pin:
    a VERIFY before the bootstrap EF; aodf: the ODF names EF.AODF 4401,
    read before the VERIFY."""
    verify = [rec(PLAIN, OK)] if pin else []
    if aodf:
        verify = [rec(PLAIN, FCP_AODF + OK), rec(PLAIN, padded(AODF, 0x40) + OK)] + verify
    return [rec(RAW, EFDIR_REC1 + OK), rec(CARD), rec(RAW, OK), rec(CARD), rec(CARD),
            rec(PLAIN, FCP_ODF + OK), rec(PLAIN, (ODF_AODF if aodf else ODF) + OK),
            rec(PLAIN, FCP_DODF + OK), rec(PLAIN, padded(dodf, 0x80) + OK)] + verify + [
            rec(PLAIN, FCP_EF + OK), rec(PLAIN, padded(BOOTSTRAP, chunk) + OK),
            rec(RAW, OK)]


def seeds_read_bootstrap():
    s = {}
    s["cold_level33"] = bytes([0x00, 0x00]) + b"".join(secured_read())
    s["cold_level33_misencoded_oid"] = bytes([0x00, 0x00]) + b"".join(secured_read(dodf=DODF_MISENCODED))
    s["cold_level33_application_oid"] = bytes([0x00, 0x00]) + b"".join(secured_read(dodf=DODF_APP_OID))
    s["cold_level33_private_pin"] = bytes([0x00, 0x10]) + b"".join(secured_read(dodf=DODF_APP_OID, pin=True))
    s["cold_level33_private_aodf"] = bytes([0x00, 0x10]) + b"".join(
        secured_read(dodf=DODF_APP_OID, pin=True, aodf=True))
    s["cold_level33_s16_sdaid"] = bytes([0x00, 0x28]) + b"".join(secured_read())
    # level 01: C-MAC only, answers in clear
    s["cold_level01"] = bytes([0x00, 0x04]) + b"".join(secured_read(chunk=256))
    # in clear, by explicit choice
    s["clear"] = bytes([0x01, 0x00]) + b"".join([
        rec(RAW, EFDIR_REC1 + OK), rec(RAW, h("01") + OK), rec(RAW, OK),
        rec(RAW, FCP_ODF + OK), rec(RAW, ODF + OK), rec(RAW, FCP_DODF + OK), rec(RAW, DODF + OK),
        rec(RAW, FCP_EF + OK), rec(RAW, padded(BOOTSTRAP, 256) + OK), rec(RAW, OK)])
    # no EF.DIR through the SFI: SELECT 2F00 and its records
    s["efdir_by_select"] = bytes([0x01, 0x00]) + b"".join([
        rec(RAW, h("6A82")), rec(RAW, FCP_EFDIR + OK), rec(RAW, EFDIR_REC1 + OK),
        rec(RAW, h("01") + OK), rec(RAW, OK),
        rec(RAW, FCP_ODF + OK), rec(RAW, ODF + OK), rec(RAW, FCP_DODF + OK), rec(RAW, DODF + OK),
        rec(RAW, FCP_EF + OK), rec(RAW, padded(BOOTSTRAP, 256) + OK), rec(RAW, OK)])
    # warm: remembered path and AID, PIN verified
    s["warm_pin"] = bytes([0x18, 0x10]) + b"".join([
        rec(CARD), rec(RAW, OK), rec(CARD), rec(CARD), rec(PLAIN, OK),
        rec(PLAIN, FCP_EF + OK), rec(PLAIN, padded(BOOTSTRAP, 239) + OK), rec(RAW, OK)])
    # T=0 on the basic channel: 61xx and GET RESPONSE in clear
    s["t0_basic_channel"] = bytes([0x26, 0x00]) + b"".join([
        rec(RAW, OK), rec(CARD), rec(CARD),
        rec(PLAIN, FCP_ODF + OK), rec(PLAIN, ODF + OK), rec(PLAIN, FCP_DODF + OK),
        rec(PLAIN, DODF + OK), rec(PLAIN, FCP_EF + OK), rec(PLAIN, padded(BOOTSTRAP, 239) + OK)])
    s["t0_get_response"] = bytes([0x21, 0x00]) + b"".join([
        rec(RAW, EFDIR_REC1 + OK), rec(RAW, h("0190 00")), rec(RAW, OK),
        rec(RAW, h("6118")), rec(RAW, FCP_ODF + OK), rec(RAW, ODF + OK),
        rec(RAW, h("6118")), rec(RAW, FCP_DODF + OK), rec(RAW, h("6C80")), rec(RAW, DODF + OK),
        rec(RAW, h("6118")), rec(RAW, FCP_EF + OK), rec(RAW, padded(BOOTSTRAP, 256) + OK),
        rec(RAW, OK)])
    # a write with read-back
    s["write"] = bytes([0x98, 0x00]) + b"".join([
        rec(CARD), rec(RAW, OK), rec(CARD), rec(CARD), rec(PLAIN, FCP_EF + OK), rec(PLAIN, OK),
        rec(PLAIN, padded(WRITTEN, 239) + OK), rec(RAW, OK)])
    s["write_cut"] = bytes([0x98, 0x00]) + b"".join([
        rec(CARD), rec(RAW, OK), rec(CARD), rec(CARD), rec(PLAIN, FCP_EF + OK),
        rec(ERROR, b"\x00")])
    # failures on the way: bad R-MAC, bad padding, status words
    s["bad_rmac_on_odf"] = bytes([0x00, 0x00]) + b"".join(secured_read()[:6]) + \
        rec(RAW, b"\x11" * 40 + OK)
    s["bad_padding"] = bytes([0x00, 0x00]) + b"".join(secured_read()[:6]) + \
        rec(SEALED, ODF + b"\x01" * 8 + OK)
    s["odf_6982"] = bytes([0x00, 0x00]) + b"".join(secured_read()[:5]) + rec(PLAIN, h("6982"))
    return s


def seeds_engine():
    s = {}
    # ops: (op, arg); see fuzz_engine.c run_op
    def seed(flags, ops, records):
        return bytes([flags, len(ops)]) + b"".join(bytes(o) for o in ops) + b"".join(records)
    s["get_response"] = seed(0, [(0, 0x40)], [rec(RAW, h("6110")), rec(RAW, b"\x5a" * 16 + OK)])
    s["get_response_rounds"] = seed(0, [(0, 0x41)], [rec(RAW, h("6100")), rec(RAW, b"\x01" * 256 + h("6105")),
                                                     rec(RAW, b"\x02" * 5 + OK)])
    s["wrong_le"] = seed(0, [(0, 0x42)], [rec(RAW, h("6C08")), rec(RAW, b"\x33" * 8 + OK)])
    s["small_buffer"] = seed(4, [(0, 0x01)], [rec(RAW, b"\x44" * 20 + OK)])
    s["extended"] = seed(2, [(0, 0x46), (0, 0x4A)], [rec(RAW, b"\x55" * 600 + OK), rec(RAW, OK)])
    s["read_until_end"] = seed(0, [(2, 0x00)], [rec(RAW, b"\x66" * 256 + OK), rec(RAW, b"\x77" * 10 + h("6282"))])
    s["read_sized_small"] = seed(0, [(2, 0x41)], [rec(RAW, b"\x66" * 37 + OK)])
    s["read_record"] = seed(8, [(3, 0x01), (3, 0x82)], [rec(RAW, EFDIR_REC1 + OK), rec(RAW, h("6A83"))])
    s["selects"] = seed(12, [(4, 0x07), (5, 0x00), (6, 0x02), (6, 0x81)],
                        [rec(RAW, FCP_ADF + OK), rec(RAW, FCP_EFDIR + OK), rec(RAW, FCP_EF + OK),
                         rec(RAW, h("6A82"))])
    s["channels"] = seed(0, [(7, 0), (9, 3), (8, 0), (7, 0), (8, 0)],
                         [rec(RAW, h("01") + OK), rec(RAW, OK), rec(RAW, h("6A81"))])
    s["update_verify"] = seed(0, [(10, 0x90), (11, 0x03), (11, 0x03)],
                              [rec(RAW, OK), rec(RAW, OK), rec(RAW, h("63C2")), rec(RAW, h("6983"))])
    s["t0"] = seed(1, [(0, 0x44), (1, 0x40)], [rec(RAW, h("6104")), rec(RAW, h("01020304") + OK),
                                               rec(RAW, h("6102")), rec(RAW, h("0102") + OK)])
    s["transport_errors"] = seed(0, [(12, 0), (0, 0x40), (0, 0x40), (0, 0x40), (12, 1)],
                                 [rec(ERROR, b"\x00"), rec(ERROR, b"\x01"), rec(OVERLONG)])
    s["no_status_word"] = seed(0, [(0, 0x40), (2, 0x01)], [rec(RAW, b"\x90"), rec(RAW, b"")])
    return s


def seeds_scp03_open():
    s = {}
    get_data = rec(PLAIN, h("66 04 01 02 03 04") + OK)
    s["level33"] = bytes([0x50, 0x10]) + rec(CARD) + rec(CARD) + get_data
    s["level33_pinned_sdaid"] = bytes([0x5C, 0x20]) + rec(CARD) + rec(CARD) + get_data + rec(SEALED, OK)
    s["level13_s16"] = bytes([0x41, 0x10]) + rec(CARD) + rec(CARD) + rec(PLAIN, h("6283"))
    s["level01_kvn0"] = bytes([0x90, 0x10]) + rec(CARD) + rec(CARD) + rec(PLAIN, OK)
    s["kdf3"] = bytes([0x52, 0x00]) + rec(CARD)
    s["no_extauth"] = bytes([0x50, 0x08]) + rec(CARD)  # a key probe (scb_scp03_probe)
    s["rng_fails"] = bytes([0x50, 0x01])
    s["samsung_answer"] = bytes([0x54, 0x00]) + rec(RAW, SAMSUNG_IU) + rec(RAW, OK)
    s["iu_6a88"] = bytes([0x50, 0x00]) + rec(RAW, h("6A88"))
    s["ea_6300"] = bytes([0x50, 0x00]) + rec(CARD) + rec(RAW, h("6300"))
    s["t0"] = bytes([0x50, 0x14]) + rec(CARD) + rec(CARD) + get_data
    return s


def seeds_sm_unwrap():
    s = {}
    pad = lambda b: b + b"\x80" + b"\x00" * ((15 - len(b)) % 16)  # noqa: E731
    s["level33"] = bytes([0x04]) + b"".join([
        bytes([0]) + rec(PLAIN, b"\x11" * 100 + OK),
        bytes([3]) + rec(SEALED, pad(h("66 04 01 02 03 04")) + OK),
        bytes([2]) + rec(PLAIN, FCP_ODF + h("6283")),
        bytes([4]) + rec(PLAIN, OK),
        bytes([5]) + rec(PLAIN, h("6A83")),
        bytes([0]) + rec(RAW, b"\x22" * 24 + OK),
        bytes([0]) + rec(PLAIN, OK)])
    s["level33_overpad"] = bytes([0x04]) + bytes([3]) + \
        rec(SEALED, h("66 02 01 02") + b"\x80" + b"\x00" * 27 + OK)
    s["level33_bad_padding"] = bytes([0x04]) + bytes([3]) + rec(SEALED, b"\x01" * 16 + OK)
    s["level33_small_buffer"] = bytes([0x04]) + bytes([0x80]) + rec(PLAIN, b"\x33" * 40 + OK)
    s["level13_s16"] = bytes([0x0B]) + bytes([0]) + rec(PLAIN, b"\x44" * 30 + OK) + \
        bytes([1]) + rec(PLAIN, h("6282"))
    s["level11_error_with_data"] = bytes([0x02]) + bytes([0]) + rec(PLAIN, b"\x55" * 4 + h("6A82"))
    s["level03"] = bytes([0x01]) + bytes([4]) + rec(PLAIN, OK) + bytes([0]) + rec(PLAIN, b"\x66" * 10 + OK)
    s["level33_extended"] = bytes([0x14]) + bytes([0]) + rec(PLAIN, b"\x77" * 300 + OK)
    s["get_response_in_session"] = bytes([0x24]) + bytes([0]) + rec(RAW, h("6118")) + \
        rec(RAW, b"\x00" * 24 + OK)
    return s


def seeds_fcp():
    return {"odf": FCP_ODF, "dodf": FCP_DODF, "ef": FCP_EF, "efdir_linear": FCP_EFDIR,
            "adf": FCP_ADF, "long_length": h("62 81 08 80 04 00 01 00 00 83 02 6F 01"),
            "cyclic": h("62 0B 82 05 46 21 00 10 05 83 02 6F 3C")}


def seeds_atr():
    return {"sim_t1": h("3B 87 81 31 FE 45 80 31 E0 73 FE 21 1F 6E"),
            "sim_t0": h("3B 07 80 31 E0 73 FE 21 1F"),
            "uicc_status": h("3B 9F 96 80 1F C7 80 31 E0 73 FE 21 1B 63 3A 20 4E 83 00 90 00 31"),
            "extended_caps": h("3B 88 80 01 00 73 C8 40 13 00 90 00 71"),
            "no_historical": h("3B 00")}


def seeds_at():
    def chunks(*texts):
        out = b""
        for t in texts:
            b = t.encode() if isinstance(t, str) else t
            while b:
                out += bytes([min(len(b), 0xFB)]) + b[:0xFB]
                b = b[0xFB:]
        return out
    init = ["\r\nOK\r\n", "ATE0V1\r\r\nOK\r\n", "\r\nOK\r\n"]
    csim = lambda hx: f'\r\n+CSIM: {len(hx)},"{hx}"\r\n\r\nOK\r\n'  # noqa: E731
    s = {}
    s["csim_channel"] = bytes([0x10]) + chunks(*init, csim("9000"), csim("019000"), csim("9000"),
                                               csim("9000"))
    s["read_binary"] = bytes([0x40]) + chunks(*init, csim("9000"), csim("00" * 16 + "9000"))
    s["fcp_on_channel"] = bytes([0x30]) + chunks(*init, csim("9000"), csim("019000"), csim("9000"),
                                                 csim(FCP_ADF.hex().upper() + "9000"), csim("9000"))
    s["cgla_emulated"] = bytes([0x10]) + chunks(*init, csim("9000"), "\r\n+CME ERROR: 4\r\n",
                                                "\r\nOK\r\n", "\r\nOK\r\n", "\r\n+CCHO: 3\r\n\r\nOK\r\n",
                                                "\r\nOK\r\n")
    s["cgla_fcp"] = bytes([0x32]) + chunks(*init, csim("9000"), "\r\n+CCHO: 2\r\n\r\nOK\r\n",
                                           f'\r\n+CGLA: {len(FCP_ADF) * 2 + 4},"{FCP_ADF.hex()}9000"\r\nOK\r\n',
                                           "\r\nOK\r\n")
    # forced +CCHO: the modem finds no such application (+CME ERROR: 22)
    s["ccho_not_found"] = bytes([0x12]) + chunks(*init, csim("9000"), "\r\n+CME ERROR: 22\r\n")
    # a channel without an application: MANAGE CHANNEL, closed at free
    s["csim_open_no_aid"] = bytes([0x80]) + chunks(*init, csim("9000"), csim("029000"), csim("9000"))
    s["unsolicited_and_errors"] = bytes([0x04]) + chunks("\r\nRING\r\n", "\r\nOK\r\n",
                                                         "\r\n+CREG: 1\r\n" + csim("6A82")[2:])
    # SELECT MF times out; READ BINARY first waits for silence, then AT / OK
    s["timeout_resync"] = bytes([0x44]) + chunks("\r\nOK\r\n") + b"\x00" + b"\x00" + \
        chunks("\r\nOK\r\n", csim("00" * 16 + "9000"))
    s["stale_output"] = bytes([0x04]) + chunks("\r\nOK\r\n") + b"\xfc\x08+CSIM: 4" + \
        chunks(csim("9000"))
    s["cme_verbose"] = bytes([0x00]) + chunks("\r\nOK\r\n", "\r\nOK\r\n", "\r\nOK\r\n",
                                              "\r\n+CME ERROR: SIM failure\r\n")
    s["modem_gone"] = bytes([0x00]) + chunks("\r\nOK\r\n") + b"\xff"
    return s


def main():
    sets = {"read_bootstrap": seeds_read_bootstrap(), "engine": seeds_engine(),
            "scp03_open": seeds_scp03_open(), "sm_unwrap": seeds_sm_unwrap(),
            "fcp": seeds_fcp(), "atr": seeds_atr(), "at": seeds_at()}
    for name, seeds in sets.items():
        d = CORPUS / name
        d.mkdir(parents=True, exist_ok=True)
        for seed_name, data in seeds.items():
            (d / seed_name).write_bytes(data)
        print(f"{name}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
