"""The virtual card through the real pcscd and its vpcd driver.

The card (sim_vpcd, built from core/sim) connects to 127.0.0.1:35963, the
reader "Virtual PCD 00 00". The host side is Debian's pyscard and the
independent Python SCP03 host of tests/pyhost (written from the spec by
another hand than the card, sharing no code with the library): every level,
S16 with AES-256, AES-192, both MAC CLA choices, both counter modes, KDF3
and PUT KEY, the variants no recorded trace pins. Measures the APDU round
trip.

Run: SCB_SIM_VPCD=build/tests/sim/sim_vpcd SCB_BUILD_DIR=build \
     /usr/bin/python3 -m pytest -q tests/sim/test_sim_pcsc.py
"""

import json
import os
import pathlib
import statistics
import sys
import time

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("SCB_SOURCE_DIR",
                                         pathlib.Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(SOURCE_DIR / "tests" / "e2e"))
sys.path.insert(0, str(SOURCE_DIR / "tests" / "pyhost"))
import pcsc_env  # noqa: E402
import scp03host as h  # noqa: E402

from smartcard.System import readers  # noqa: E402
from smartcard.Exceptions import CardConnectionException, NoCardException  # noqa: E402

READER = "Virtual PCD 00 00"
PORT = pcsc_env.READERS[READER]
SIM = os.environ.get("SCB_SIM_VPCD", str(pcsc_env.BUILD_DIR / "tests" / "sim" / "sim_vpcd"))
AID = bytes.fromhex("A000000063504B43532D3135")
GP_KEY = bytes(range(0x40, 0x50))
DEFAULT_PROFILE = SOURCE_DIR / "tests" / "sim" / "profiles" / "default.json"
BOOTSTRAP = bytes.fromhex(json.loads(DEFAULT_PROFILE.read_text())["bootstrap"]["hex"]
                          .replace(" ", ""))
RESULTS = pcsc_env.BUILD_DIR / "sim_pcsc_results.json"


@pytest.fixture(scope="module", autouse=True)
def pcscd():
    pcsc_env.ensure_pcscd(need=(READER,))
    yield
    pcsc_env.stop_pcscd()


def sim_card(tmp_path, profile=None, name="profile.json"):
    argv = [SIM, "-P", str(PORT)]
    if profile is not None:
        path = tmp_path / name
        path.write_text(json.dumps(profile))
        argv += ["-p", str(path)]
    return pcsc_env.CardProcess(argv, READER)


def connect():
    reader = [r for r in readers() if str(r) == READER][0]
    conn = reader.createConnection()
    conn.connect()
    return conn


def tx(conn, hexstr):
    data, sw1, sw2 = conn.transmit(list(bytes.fromhex(hexstr.replace(" ", ""))))
    return bytes(data), sw1 << 8 | sw2


def tlv(data):
    """BER-TLV with one-byte tags and short lengths (what EF.DIR holds)."""
    out, i = {}, 0
    while i + 2 <= len(data) and data[i] != 0xFF:
        tag, n = data[i], data[i + 1]
        out[tag] = data[i + 2:i + 2 + n]
        i += 2 + n
    return out


def read_ef(transmit, size, sw_ok=0x9000):
    """READ BINARY with Le 00 until size bytes (each chunk as the path allows)."""
    got = b""
    while len(got) < size:
        r = transmit(bytes([0x00, 0xB0, len(got) >> 8, len(got) & 0xFF, 0x00]))
        assert int.from_bytes(r[-2:], "big") == sw_ok, r[-2:].hex()
        assert len(r) > 2
        got += r[:-2]
    return got


def test_efdir_channel_select_and_clear_read(tmp_path):
    with sim_card(tmp_path):
        conn = connect()
        atr = bytes(conn.getATR())
        assert atr.hex().upper() == "3B878131FE458031E073FE211F6E"
        data, sw = tx(conn, "00A4000402 2F00 00")
        assert sw == 0x9000 and data[:2] == b"\x62\x1A"
        rec, sw = tx(conn, "00B2010400")
        assert sw == 0x9000 and len(rec) == 48 and rec[0] == 0x61
        app = tlv(rec[2:2 + rec[1]])
        assert list(app) == [0x4F, 0x50, 0x51]   # PKCS#15 DIRRecord order: AID, label, path
        assert app[0x4F] == AID
        assert app[0x51] == bytes.fromhex("3F005015")
        assert app[0x50] == b"LwM2M PKCS#15"
        data, sw = tx(conn, "0070000001")
        assert (data, sw) == (b"\x01", 0x9000)
        fcp, sw = tx(conn, "01A404040C" + AID.hex() + "00")
        assert sw == 0x9000 and AID in fcp
        _, sw = tx(conn, "01A4000C026432")
        assert sw == 0x9000
        _, sw = tx(conn, "01B0000000")
        assert sw == 0x6982  # the bootstrap EF needs the secure channel
        _, sw = tx(conn, "01A4000C026430")
        dodf, sw = tx(conn, "01B0000000")
        assert sw == 0x9000 and bytes.fromhex("0604672B0901") in dodf
        _, sw = tx(conn, "0070800100")
        assert sw == 0x9000
        _, sw = tx(conn, "01A4000C023F00")
        assert sw == 0x6881
        conn.disconnect()


@pytest.mark.parametrize("level", [0x01, 0x03, 0x11, 0x13, 0x33])
def test_pyhost_scp03_levels(tmp_path, level):
    """The independent Python host opens SCP03 on a logical channel; only at
    0x33 (the default level_required) does the bootstrap EF open."""
    with sim_card(tmp_path):
        transmit, conn = h.pcsc_transmit(READER)
        r = transmit(bytes.fromhex("0070000001"))
        assert r[-2:] == b"\x90\x00"
        ch = r[0]
        cla = h.cla_for_channel(0x00, ch)
        r = transmit(bytes([cla, 0xA4, 0x04, 0x0C, len(AID)]) + AID)
        assert r == b"\x90\x00"
        host = h.SCP03Host(transmit, h.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30), level=level,
                           sd_aid=AID, channel=ch)
        host.open()
        assert host.info["seq"] is not None
        assert host.transmit(bytes.fromhex("00A4000C026432")) == b"\x90\x00"
        if level == 0x33:
            assert read_ef(host.transmit, 1024) == BOOTSTRAP + b"\xFF" * (1024 - len(BOOTSTRAP))
            # a write under the session, read back
            r = host.transmit(bytes.fromhex("00D603F004DEADBEEF"))
            assert r == b"\x90\x00"
            assert host.transmit(bytes.fromhex("00B003F004")) == bytes.fromhex("DEADBEEF9000")
        else:
            assert host.transmit(bytes.fromhex("00B0000010")) == b"\x69\x82"
        conn.disconnect()


def test_pyhost_s16_aes256_channel_7(tmp_path):
    key = bytes(range(32))
    profile = {"scp03": {"s16": True, "keys": {"kvn": 1, "enc": key.hex(), "mac": key.hex(),
                                               "dek": key.hex()}}}
    with sim_card(tmp_path, profile):
        transmit, conn = h.pcsc_transmit(READER)
        assert transmit(bytes.fromhex("0070000700")) == b"\x90\x00"
        cla = h.cla_for_channel(0x00, 7)
        assert transmit(bytes([cla, 0xA4, 0x04, 0x0C, len(AID)]) + AID) == b"\x90\x00"
        host = h.SCP03Host(transmit, h.Keys(key, key, key, kvn=1), level=0x33, s16=True,
                           sd_aid=AID, channel=7)
        host.open()
        assert host.transmit(bytes.fromhex("00A4000C026432")) == b"\x90\x00"
        assert read_ef(host.transmit, 1024)[:len(BOOTSTRAP)] == BOOTSTRAP
        conn.disconnect()


def open_on_channel(transmit, channel):
    """MANAGE CHANNEL open of that channel, then SELECT the ADF on it."""
    assert transmit(bytes([0x00, 0x70, 0x00, channel, 0x00])) == b"\x90\x00"
    cla = h.cla_for_channel(0x00, channel)
    assert transmit(bytes([cla, 0xA4, 0x04, 0x0C, len(AID)]) + AID) == b"\x90\x00"


KEY24 = bytes(range(0x50, 0x68))


@pytest.mark.parametrize("name,profile,keys,host", [
    # AES-192, the CLA MACed as sent, logical channel 2
    ("aes192_cla_as_sent", {"scp03": {"mac_cla": "as_sent", "keys": {
        "kvn": 0x30, "enc": KEY24.hex(), "mac": KEY24.hex(), "dek": KEY24.hex()}}},
     h.Keys(KEY24, KEY24, KEY24, kvn=0x30), dict(mac_cla_as_sent=True, channel=2)),
    # a card counting only commands with data, S16, channel 5
    ("count_data_only_s16", {"scp03": {"counter_data_only": True, "s16": True}},
     h.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30), dict(count_data_only=True, s16=True, channel=5)),
    # KDF3: the card holds keys derived from the master with its KDD
    ("kdf3_master", {"scp03": {"keys": {"master": GP_KEY.hex()}}},
     h.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30), dict(kdf3=True, channel=1)),
])
def test_pyhost_variants(tmp_path, name, profile, keys, host):
    """Secure channel variants no recorded trace pins, between the card and
    the independent host: read the bootstrap EF, write, read back."""
    with sim_card(tmp_path, profile, name + ".json"):
        transmit, conn = h.pcsc_transmit(READER)
        open_on_channel(transmit, host["channel"])
        sess = h.SCP03Host(transmit, keys, level=0x33, sd_aid=AID, **host)
        sess.open()
        assert sess.transmit(bytes.fromhex("00A4000C026432")) == b"\x90\x00"
        assert read_ef(sess.transmit, 1024)[:len(BOOTSTRAP)] == BOOTSTRAP
        assert sess.transmit(bytes.fromhex("00D603F004CAFEF00D")) == b"\x90\x00"
        assert sess.transmit(bytes.fromhex("00B003F004")) == bytes.fromhex("CAFEF00D9000")
        conn.disconnect()


def test_pyhost_put_key(tmp_path):
    """PUT KEY as the independent host builds it (putkey data under the DEK,
    KCVs), then a session with the new key set."""
    new = h.Keys(bytes(range(0x60, 0x70)), bytes(range(0x70, 0x80)), bytes(range(0x80, 0x90)),
                 kvn=0x31)
    with sim_card(tmp_path):
        transmit, conn = h.pcsc_transmit(READER)
        open_on_channel(transmit, 1)
        old = h.SCP03Host(transmit, h.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30), level=0x33,
                          sd_aid=AID, channel=1)
        old.open()
        data = h.put_key_data(GP_KEY, new)
        r = old.transmit(h.Command(0x80, 0xD8, 0x00, 0x81, data, ne=256).encode())
        assert r == bytes([0x31]) + h.kcv(new.enc) + h.kcv(new.mac) + h.kcv(new.dek) + b"\x90\x00"
        cla = h.cla_for_channel(0x00, 1)
        assert transmit(bytes([cla, 0xA4, 0x04, 0x0C, len(AID)]) + AID) == b"\x90\x00"
        fresh = h.SCP03Host(transmit, new, level=0x33, sd_aid=AID, channel=1)
        fresh.open()
        assert fresh.transmit(bytes.fromhex("00A4000C026432")) == b"\x90\x00"
        assert fresh.transmit(bytes.fromhex("00B0000002")) == bytes.fromhex("00029000")
        conn.disconnect()


def test_t0_card(tmp_path):
    """T=0 profile: pcscd negotiates T=0 from the ATR; data after a command
    with data comes as 61xx + GET RESPONSE."""
    with sim_card(tmp_path, {"t0": True}):
        conn = connect()
        assert bytes(conn.getATR())[:2] == b"\x3B\x07"
        data, sw = tx(conn, "00A404040C" + AID.hex())
        assert data == b"" and sw >> 8 == 0x61
        fcp, sw = tx(conn, "00C00000%02X" % (sw & 0xFF))
        assert sw == 0x9000 and fcp[0] == 0x62 and AID in fcp
        conn.disconnect()


def test_rolling_cards_through_pcscd(tmp_path):
    """`scboot sim --rolling` behind pcscd, read by pyscard: each time the
    host starts on a card (SELECT EF.ICCID after other commands) it gets a
    new blank card with the next ICCID, in the same connection; SELECTs of
    other files and the card's own first SELECT do not swap it."""
    profile = tmp_path / "line.json"
    profile.write_text(json.dumps({"iccid": "8988300000000000199"}))
    cli = pcsc_env.BUILD_DIR / "core" / "cli" / "scboot"
    with pcsc_env.CardProcess([cli, "sim", "--vpcd", f"127.0.0.1:{PORT}", "--profile",
                               str(profile), "--rolling"], READER):
        conn = connect()
        seen = []
        for _ in range(3):
            assert tx(conn, "00A4080C022FE2")[1] == 0x9000
            data, sw = tx(conn, "00B000000A")
            assert sw == 0x9000
            seen.append(data.hex().upper())
            # the rest of a station's work on the card: other files, a channel
            assert tx(conn, "00A4000C022F00")[1] == 0x9000
            data, sw = tx(conn, "0070000001")
            assert sw == 0x9000 and data == b"\x01"
        # EF.ICCID BCD, nibbles swapped: ...199, ...200, ...201
        assert seen == ["988803000000000091F9", "988803000000000002F0",
                        "988803000000000002F1"]
        # a new card has its channels closed: the one opened on the last card is gone
        assert tx(conn, "00A4080C022FE2")[1] == 0x9000
        assert tx(conn, "01A4000C022F00")[1] == 0x6881
        conn.disconnect()


def test_disconnect_fault_and_return(tmp_path):
    """disconnect_after: the card leaves the reader after 3 APDUs; sim_vpcd
    reconnects and pcscd sees a fresh card."""
    with sim_card(tmp_path, {"faults": {"disconnect_after": 3}}):
        conn = connect()
        for _ in range(2):  # the ATR poll of pcscd is no APDU
            assert tx(conn, "00A4000C023F00")[1] == 0x9000
        with pytest.raises((CardConnectionException, NoCardException)):
            for _ in range(3):
                tx(conn, "00A4000C023F00")
        try:
            conn.disconnect()  # the handle of the card that left
        except (CardConnectionException, NoCardException):
            pass
        # gone (pcscd may poll too late to see it), then back after a power-on
        pcsc_env.wait_card(READER, present=False, timeout=2)
        assert pcsc_env.wait_card(READER, present=True, timeout=10)
        for attempt in range(20):
            try:
                conn = connect()
                assert tx(conn, "00A4000C023F00")[1] == 0x9000
                break
            except (CardConnectionException, NoCardException):
                time.sleep(0.2)  # pcscd still finishing the power-up
        else:
            pytest.fail("the card did not come back")
        conn.disconnect()


# ---- OpenSC and OpenSSL as independent readers --------------------------

OPENSC_CONF = ("app default {\n    enable_default_driver = true;\n"
               "    force_card_driver = default;\n}\n")


def opensc(tmp_path, tool, *args):
    """An OpenSC tool on the card's reader. OpenSC has no driver of its own
    for a UICC: its generic ISO 7816 driver ("default", off unless enabled)
    is forced, through an opensc.conf of the test's own (OPENSC_CONF)."""
    import shutil
    import subprocess
    exe = shutil.which(tool)
    assert exe, f"{tool} (Debian package opensc) is needed"
    conf = tmp_path / "opensc.conf"
    conf.write_text(OPENSC_CONF)
    out = subprocess.run([exe, "--reader", READER, *args], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "OPENSC_CONF": str(conf)})
    assert out.returncode == 0, out
    return out.stdout


def test_opensc_reads_the_application_template(tmp_path):
    """pkcs15-tool decodes EF.DIR as the PKCS#15 DIRRecord SEQUENCE: the
    label is found only when it comes before the path."""
    with sim_card(tmp_path):
        text = opensc(tmp_path, "pkcs15-tool", "--list-applications")
    assert "Application 'LwM2M PKCS#15':" in text, text
    assert "AID: A000000063504B43532D3135" in text, text


@pytest.mark.parametrize("aodf, want", [
    ({}, ["PIN [PIN1]", "ID             : 01",
          "Flags          : [0x30], initialized, needs-padding",
          "Length         : min_len:4, max_len:8, stored_len:8", "Pad char       : 0xFF",
          "Reference      : 1 (0x01)", "Type           : ascii-numeric"]),
    ({"label": "LwM2M PIN", "auth_id": "0A0B", "min_length": 6, "max_length": 10,
      "stored_length": 12, "pad_char": 0, "pin_type": "utf8", "reference": 0x81,
      "flags": ["local", "initialized", "needs_padding", "case_sensitive"],
      "path": "3F005015"},
     ["PIN [LwM2M PIN]", "ID             : 0a0b",
      "Flags          : [0x33], case-sensitive, local, initialized, needs-padding",
      "Length         : min_len:6, max_len:10, stored_len:12", "Pad char       : 0x00",
      "Reference      : 129 (0x81)", "Type           : UTF-8", "Path           : 3f005015"]),
], ids=["default", "every_attribute"])
def test_opensc_reads_the_pin_object(tmp_path, aodf, want):
    """pkcs15-tool --list-pins reads the virtual card's EF.AODF (through the
    ODF's [8] entry) with OpenSC's own ASN.1 decoder: the attributes the
    profile set are the ones it shows."""
    profile = {"pin": {"ref": aodf.get("reference", 1), "value": "123456"},
               "dodf": {"private": True}, "aodf": aodf}
    with sim_card(tmp_path, profile):
        text = opensc(tmp_path, "pkcs15-tool", "--list-pins")
    lines = [line.strip() for line in text.splitlines()]
    for w in want:
        assert w in lines, text


def test_card_recognition_data_first(tmp_path):
    """GET DATA 00 66 before any session, as GlobalPlatform hosts start:
    OpenSSL's DER parser reads the OIDs (GP Card Specification 2.2 Annex H),
    and the SCP03 i parameter they announce is the one INITIALIZE UPDATE
    then reports, for two profiles."""
    import subprocess
    for i in (0x70, 0x60):
        with sim_card(tmp_path, {"scp03": {"i": i}}):
            transmit, conn = h.pcsc_transmit(READER)
            assert transmit(bytes([0x00, 0xA4, 0x04, 0x0C, len(AID)]) + AID) == b"\x90\x00"
            r = transmit(bytes.fromhex("80CA006600"))
            assert r[-2:] == b"\x90\x00", r.hex()
            crd = r[:-2]
            out = subprocess.run(["openssl", "asn1parse", "-inform", "DER", "-i"], input=crd,
                                 capture_output=True, timeout=30)
            assert out.returncode == 0, out
            lines = out.stdout.decode().splitlines()
            kinds = [line.split(": ", 1)[1].split(":")[0].strip() for line in lines]
            assert kinds[:3] == ["appl [ 6 ]", "appl [ 19 ]", "OBJECT"], lines
            oids = [line.rsplit(":", 1)[1] for line in lines if "OBJECT" in line]
            assert oids == ["1.2.840.114283.1", "1.2.840.114283.2.2.2.1", "1.2.840.114283.3",
                            f"1.2.840.114283.4.3.{i}"], lines
            host = h.SCP03Host(transmit, h.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30),
                               level=0x01, sd_aid=AID)
            host.open()
            assert host.info["i"] == i
            conn.disconnect()


def rtt(n, profile, tmp_path, name):
    with sim_card(tmp_path, profile, name):
        conn = connect()
        apdu = list(bytes.fromhex("00B2010400"))
        tx(conn, "00A4000C022F00")
        times = []
        for _ in range(n):
            t = time.perf_counter()
            data, sw1, sw2 = conn.transmit(apdu)
            times.append(time.perf_counter() - t)
            assert (sw1, sw2) == (0x90, 0x00) and len(data) == 48
        conn.disconnect()
    times.sort()
    return {"apdus": n, "median_ms": round(statistics.median(times) * 1e3, 3),
            "p90_ms": round(times[int(n * 0.9)] * 1e3, 3), "max_ms": round(times[-1] * 1e3, 3)}


def test_round_trip_time(tmp_path):
    """READ RECORD (48 bytes) through pyscard -> pcscd -> vpcd -> card, 500
    times with the card's socket settings; 40 times with TCP_QUICKACK off
    to show what it is for (vpcd writes length and payload separately)."""
    fast = rtt(500, None, tmp_path, "fast.json")
    slow = rtt(40, {"vpcd": {"tcp_quickack": False}}, tmp_path, "slow.json")
    results = {"quickack_nodelay": fast, "nodelay_only": slow}
    RESULTS.write_text(json.dumps(results, indent=1))
    print(json.dumps(results))
    assert fast["median_ms"] < 5.0
    assert slow["median_ms"] > fast["median_ms"]
