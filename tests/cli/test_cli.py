"""The scboot command, end to end: the in-process virtual
card, and `scboot sim --vpcd` behind a real pcscd read by `scboot read
--reader`, with the faults a user meets. Every failure must be one clear
line on stderr, a documented exit code, nothing on stdout, and no hang."""
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
import pcsc_env  # noqa: E402

SCBOOT = pcsc_env.BUILD_DIR / "core" / "cli" / "scboot"
READER = "Virtual PCD 00 00"
PORT = pcsc_env.READERS[READER]
GP_KEY = "404142434445464748494A4B4C4D4E4F"
SECRETS = [GP_KEY.lower(), "00112233445566778899aabbccddeeff"]  # card keys, written PSK


def run(*args, env=None, timeout=60, input=None):
    full_env = dict(os.environ)
    for k in ("SCBOOT_KEY_ENC", "SCBOOT_KEY_MAC", "SCBOOT_KEY_DEK", "SCBOOT_KEY_KVN", "SCBOOT_PIN"):
        full_env.pop(k, None)
    full_env.update(env or {})
    return subprocess.run([str(SCBOOT), *map(str, args)], capture_output=True, timeout=timeout,
                          env=full_env, input=input)


@pytest.fixture
def keys_file(tmp_path):
    p = tmp_path / "keys.json"
    p.write_text(json.dumps({"enc": GP_KEY, "mac": GP_KEY, "dek": GP_KEY, "kvn": 48}))
    return p


def sim_process(*extra, reader=READER):
    return pcsc_env.CardProcess([SCBOOT, "sim", "--vpcd", f"127.0.0.1:{pcsc_env.READERS[reader]}",
                                 *extra], reader)


def no_secret_in(data):
    text = data.decode("utf-8", "replace").lower().replace(" ", "")
    for s in SECRETS:
        assert s not in text


# ---- in process ------------------------------------------------------------

def test_read_sim_table():
    out = run("read", "--sim")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "coaps://bs.example.com:5684" in text
    assert "Security accounts (object 0): 2" in text
    assert "Server accounts (object 1): 1" in text
    assert "86400" in text and "<redacted" in text
    assert "security level 0x33" in text
    no_secret_in(out.stdout + out.stderr)


def test_read_sim_json_and_secrets():
    out = run("read", "--sim", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["security"][0]["server_uri"] == "coaps://bs.example.com:5684"
    assert doc["security"][0]["secret_key"] == "<redacted>"
    assert doc["servers"][0]["lifetime"] == 86400
    assert doc["read"]["apdus"] <= 12 and doc["read"]["scp_level"] == "0x33"
    assert doc["read"]["scp_protection"] == ["C-MAC", "C-DEC", "R-MAC", "R-ENC"]
    shown = json.loads(run("read", "--sim", "--json", "--show-secrets").stdout)
    assert len(bytes.fromhex(shown["security"][0]["secret_key"])) == 16


def test_read_raw_to_file(tmp_path):
    f = tmp_path / "bs.bin"
    out = run("read", "--sim", "--raw", "-o", f)
    assert out.returncode == 0 and out.stdout == b""
    raw = f.read_bytes()
    assert raw[:2] == b"\x00\x02" and len(raw) == 4 + (raw[2] << 8 | raw[3])  # objects 0 and 1


def test_debug_trace_masks_secrets():
    out = run("read", "--sim", "-d", "--show-secrets")
    assert out.returncode == 0
    trace = out.stderr.decode()
    assert "A>> 00 B2 01 F4 00" in trace and "S>> 00 B0 00 00" in trace
    assert "bytes masked" in trace
    no_secret_in(out.stderr)


def test_warm_read_with_remembered_path():
    doc = json.loads(run("read", "--sim", "--json").stdout)
    out = run("read", "--sim", "--json", "--path", doc["read"]["path"], "--aid", doc["read"]["aid"])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["read"]["apdus"] <= 8


def test_usage_errors_and_help():
    for cmd in ("read", "write", "put-key", "readers", "apdu", "sim"):
        h = run(cmd, "--help")
        assert h.returncode == 0 and f"usage: scboot {cmd}" in h.stdout.decode()
    assert run().returncode == 2
    assert run("frobnicate").returncode == 2
    bad = run("read", "--sim", "--level", "lots")
    assert bad.returncode == 2 and b"--level" in bad.stderr and bad.stdout == b""
    assert run("read", "--sim", "--reader", "x").returncode == 2
    assert run("read", "--json", "--raw", "--sim").returncode == 2


def test_wrong_keys_exit_code(tmp_path):
    k = tmp_path / "wrong.json"
    k.write_text(json.dumps({"enc": "11" * 16, "mac": "11" * 16, "dek": "11" * 16, "kvn": 48}))
    out = run("read", "--sim", "--keys", k, "--json")
    assert out.returncode == 5
    assert out.stdout == b""
    line = out.stderr.decode().strip()
    assert line.count("\n") == 0
    assert "cryptogram" in line and "wrong keys" in line
    no_secret_in(out.stderr)


def test_keys_from_environment_and_stdin_never_argv(keys_file):
    env = {"SCBOOT_KEY_ENC": GP_KEY, "SCBOOT_KEY_MAC": GP_KEY, "SCBOOT_KEY_KVN": "48"}
    assert run("read", "--sim", "--json", env=env).returncode == 0
    out = run("read", "--sim", "--json", "--keys", "-", input=keys_file.read_bytes())
    assert out.returncode == 0 and json.loads(out.stdout)["servers"], out.stderr
    # keys as arguments are refused, and the refusal does not echo them
    for argv in (["--key-enc", GP_KEY, "--key-mac", GP_KEY], ["--key-enc=" + GP_KEY]):
        out = run("read", "--sim", *argv)
        assert out.returncode == 2 and b"process list" in out.stderr, out.stderr
        assert GP_KEY.encode() not in out.stderr + out.stdout
    out = run("read", "--sim", "--frobnicate=" + GP_KEY)
    assert out.returncode == 2 and b"'--frobnicate'" in out.stderr
    assert GP_KEY.encode() not in out.stderr
    bad = run("read", "--sim", "--keys", keys_file.parent / "missing.json")
    assert bad.returncode == 2 and b"missing.json" in bad.stderr


def test_no_secure_channel_is_refused_by_the_card():
    out = run("read", "--sim", "--no-secure-channel")
    assert out.returncode == 4
    assert b"6982" in out.stderr and out.stdout == b""


def pin_card(tmp_path, **pin):
    """A profile whose bootstrap entry is private, its PIN described in EF.AODF."""
    p = tmp_path / "pin.json"
    p.write_text(json.dumps({"pin": {"ref": 1, "value": "4711", "tries": 3, **pin},
                             "dodf": {"private": True}, "bootstrap": {"read": "pin"}}))
    return f"--sim={p}"


def verify_commands(trace):
    """The VERIFY commands (INS 20) of a -d trace, wire and plaintext lines."""
    return [line for line in trace.splitlines() if ">> " in line and line.split()[2:3] == ["20"]]


@pytest.mark.parametrize("pin", ["12", "123456789"])
def test_a_pin_outside_the_card_bounds_is_refused_before_verify(tmp_path, pin):
    out = run("read", pin_card(tmp_path), "-d", env={"SCBOOT_PIN": pin})
    assert out.returncode == 2, out.stderr
    assert out.stdout == b""
    trace = out.stderr.decode()
    assert verify_commands(trace) == [], trace
    assert "S>> 00 B0" in trace                     # the AODF was read
    last = trace.strip().splitlines()[-1]
    assert last.startswith("scboot: reading the bootstrap data: the PIN has ")
    assert "the card's PIN 'PIN1' (EF.AODF, authId 01) takes 4 to 8" in last
    assert "the card's tries are untouched" in last and pin not in last
    # the right PIN still reads: no try was spent
    assert run("read", pin_card(tmp_path), env={"SCBOOT_PIN": "4711"}).returncode == 0


def test_the_last_try_says_the_pin_is_blocked(tmp_path):
    out = run("read", pin_card(tmp_path, tries=2), "-d", env={"SCBOOT_PIN": "1234"})
    assert out.returncode == 4
    assert len(verify_commands(out.stderr.decode())) == 2      # wire and plaintext line
    assert out.stderr.decode().strip().endswith("VERIFY: PIN rejected, 1 try left")
    out = run("read", pin_card(tmp_path, tries=1), env={"SCBOOT_PIN": "1234"})
    assert out.returncode == 4 and out.stdout == b""
    assert out.stderr.decode().strip() == ("scboot: reading the bootstrap data: VERIFY: the PIN "
                                           "is blocked (no tries left): unblock it with the PUK")


def test_write_read_roundtrip_in_process(tmp_path):
    # read -> edit -> write works on the JSON read prints (with secrets)
    doc = json.loads(run("read", "--sim", "--json", "--show-secrets").stdout)
    doc["servers"][0]["lifetime"] = 3600
    f = tmp_path / "edit.json"
    f.write_text(json.dumps(doc))
    out = run("write", "--sim", f)  # a fresh in-process card each run: just the write path
    assert out.returncode == 0, out.stderr
    assert b"verified" in out.stdout
    # a redacted file is refused before the card is touched
    red = json.loads(run("read", "--sim", "--json").stdout)
    g = tmp_path / "redacted.json"
    g.write_text(json.dumps(red))
    out = run("write", "--sim", g)
    assert out.returncode == 2 and b"redacted" in out.stderr


# ---- library options: kvn, sd-aid; unknown options ------------------------

K2 = "202122232425262728292A2B2C2D2E2F"
PKCS15_AID = "A000000063504B43532D3135"   # the virtual card's Security Domain AID
OTHER_AID = "A000000151000000"


@pytest.fixture
def two_sets(tmp_path):
    """A card with key sets 30 (the GP key) and 31 (K2); keys for the second
    set that name no version, so only --kvn 0x31 reaches it."""
    profile = tmp_path / "two_sets.json"
    profile.write_text(json.dumps({"scp03": {"keys": [
        {"kvn": 0x30, "enc": GP_KEY, "mac": GP_KEY, "dek": GP_KEY},
        {"kvn": 0x31, "enc": K2, "mac": K2, "dek": K2}]}}))
    keys = tmp_path / "k2.json"
    keys.write_text(json.dumps({"enc": K2, "mac": K2, "dek": K2}))
    new = tmp_path / "new.json"
    new.write_text(json.dumps({"enc": "A0" * 16, "mac": "B1" * 16, "dek": "C2" * 16, "kvn": 50}))
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps({"security": [{"server_uri": "coaps://kvn.example.com",
                                             "bootstrap_server": True, "security_mode": 3}]}))
    return {"sim": f"--sim={profile}", "keys": keys, "new": new, "doc": doc}


def jobs(t):
    """read, write and put-key on the two-set card, as argument lists."""
    return {"read": ["read", t["sim"], "--keys", t["keys"], "--json"],
            "write": ["write", t["sim"], "--keys", t["keys"], t["doc"]],
            "put-key": ["put-key", t["sim"], "--keys", t["keys"], "--new-keys", t["new"]]}


def initialize_update_kvns(trace):
    """P1 of every INITIALIZE UPDATE on the wire (-d trace: "A>> 8x 50 P1 ...")."""
    return [int(line.split()[3], 16) for line in trace.decode().splitlines()
            if line.startswith("A>> ") and line.split()[2] == "50"]


@pytest.mark.parametrize("job", ["read", "write", "put-key"])
def test_kvn_reaches_read_write_and_put_key(two_sets, job):
    argv = jobs(two_sets)[job]
    out = run(*argv)
    assert out.returncode == 5 and b"cryptogram" in out.stderr, out.stderr   # 00: set 30
    out = run(*argv, "--kvn", "0x31", "-d")
    assert out.returncode == 0, out.stderr
    kvns = initialize_update_kvns(out.stderr)
    assert kvns[0] == 0x31 and kvns == ([0x31, 0x32] if job == "put-key" else [0x31])
    no_secret_in(out.stderr)


@pytest.mark.parametrize("job", ["read", "write", "put-key"])
def test_sd_aid_reaches_read_write_and_put_key(two_sets, job):
    """The card's challenge is pseudo-random (i = 70): --sd-aid is what it
    is checked against; another AID is a secure-channel failure."""
    argv = jobs(two_sets)[job] + ["--kvn", "0x31"]
    out = run(*argv, "--sd-aid", OTHER_AID)
    assert out.returncode == 5 and b"challenge" in out.stderr, out.stderr
    assert out.stdout == b""
    out = run(*argv, "--sd-aid", PKCS15_AID)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("argv", [
    ["read", "--sim", "--frobnicate"],
    ["read", "--sim", "--pad"],                         # a write's option
    ["read", "--sim", "--replace", "0x30"],             # a key rotation's
    ["write", "--sim", "--frobnicate=1", "x.json"],
    ["write", "--sim", "--replace", "0x30", "x.json"],
    ["put-key", "--sim", "--frobnicate", "--new-keys", "x.json"],
    ["put-key", "--sim", "--pad", "--new-keys", "x.json"],
    ["apdu", "--sim", "--path", "6432", "00A4000C023F00"],   # the EF's, not apdu's
])
def test_an_unknown_option_is_an_error(argv):
    out = run(*argv)
    assert out.returncode == 2, out.stderr
    name = next(a for a in argv if a.startswith("--") and a != "--sim").split("=")[0]
    assert f"unknown option '{name}'".encode() in out.stderr, out.stderr
    assert out.stdout == b""


def test_an_option_value_out_of_range_is_an_error():
    for flag, value in (("--kvn", "256"), ("--sd-aid", "A000"), ("--level", "0x22")):
        out = run("read", "--sim", flag, value)
        assert out.returncode == 2 and flag.encode() in out.stderr, out.stderr


def test_write_json_input_checks(tmp_path):
    # a second "security" would silently replace the first (json-c keeps the
    # last): refused before the card is touched, naming the key and both places
    dup = tmp_path / "dup.json"
    dup.write_text('{"security": [{"server_uri": "coaps://a", "short_server_id": 1}],\n'
                   ' "servers": [{"short_server_id": 1}],\n'
                   ' "security": []}\n')
    out = run("write", "--sim", dup)
    assert out.returncode == 2 and out.stdout == b""
    assert out.stderr.decode() == (f"scboot write: {dup}: security: key appears twice "
                                   "(line 3, column 2; first at line 1, column 2)\n")
    # values outside the object definitions, with their path; syntax errors
    # with line and column
    for text, message in (
            ('{"servers": [{"short_server_id": 1, "lifetime": -5}]}',
             "servers[0].lifetime: expected a non-negative integer"),
            ('{"servers": [{"short_server_id": 65535}]}',
             "servers[0].short_server_id: expected integer 1..65534"),
            ('{"servers": [{"short_server_id": 1, "binding": "UX"}]}',
             "servers[0].binding: expected transport binding letters"),
            ('{\n  "servers": [\n    {"short_server_id": 1,, "lifetime": 5}\n  ]\n}\n',
             "JSON text: quoted object property name expected (line 3, column 27)")):
        f = tmp_path / "bad.json"
        f.write_text(text)
        out = run("write", "--sim", f)
        assert out.returncode == 2 and out.stdout == b"", out.stderr
        assert message in out.stderr.decode() and out.stderr.count(b"\n") == 1, out.stderr
    # a byte order mark (Windows editors write one) is no error
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"servers": [{"short_server_id": 1}]}).encode())
    out = run("write", "--sim", bom)
    assert out.returncode == 0 and b"verified" in out.stdout, out.stderr
    assert b"JSON" not in out.stderr and b"warning" not in out.stderr, out.stderr


def test_write_warns_about_accounts_without_ids(tmp_path):
    doc = {"security": [{"server_uri": "coaps://a", "short_server_id": 1},
                        {"security_mode": 3, "short_server_id": 2}],
           "servers": [{"lifetime": 60}]}
    f = tmp_path / "partial.json"
    f.write_text(json.dumps(doc))
    out = run("write", "--sim", f)
    assert out.returncode == 0, out.stderr
    assert b"verified" in out.stdout
    warnings = [line for line in out.stderr.decode().splitlines() if "warning" in line]
    assert warnings == ["scboot write: warning: security[1]: no server_uri",
                        "scboot write: warning: servers[0]: no short_server_id"], out.stderr


def test_keys_file_messages(tmp_path):
    bare = tmp_path / "bare.keys"
    bare.write_text(GP_KEY + "\n")
    out = run("read", "--sim", "--keys", bare)
    assert out.returncode == 2 and out.stdout == b""
    assert b'expected a JSON object {"enc": hex, ...}, got bare hex' in out.stderr, out.stderr
    bad = tmp_path / "bad.keys"
    bad.write_text(json.dumps({"enc": GP_KEY, "mac": GP_KEY[:16] + "z" + GP_KEY[17:]}))
    out = run("read", "--sim", "--keys", bad)
    assert out.returncode == 2 and b"mac: not hex (character 17)" in out.stderr, out.stderr
    no_secret_in(out.stderr)
    assert GP_KEY[:16].encode() not in out.stderr


# ---- through pcscd + vpcd ---------------------------------------------------

def test_read_through_pcscd(pcscd, keys_file):
    with sim_process():
        times, apdus = [], []
        for _ in range(5):
            t0 = time.monotonic()
            out = run("read", "--reader", READER, "--keys", keys_file, "--json")
            times.append(time.monotonic() - t0)
            assert out.returncode == 0, out.stderr
            doc = json.loads(out.stdout)
            apdus.append(doc["read"]["apdus"])
        assert doc["read"]["card"] == READER
        assert doc["security"][1]["short_server_id"] == 101
        best = min(times)
        print(f"bootstrap_read_ms_pcsc: {best * 1000:.1f} ms (process start included), "
              f"apdus {apdus[0]}")
        assert best < 1.0
        assert max(apdus) <= 12
        # readers lists the card
        r = run("readers")
        assert r.returncode == 0 and f"{READER}  [card]" in r.stdout.decode()


def test_write_read_roundtrip_through_pcscd(pcscd, keys_file, tmp_path):
    """A write/read round trip of the JSON is byte-identical in the card."""
    with sim_process():
        first = json.loads(run("read", "--reader", READER, "--keys", keys_file, "--json",
                               "--show-secrets").stdout)
        first["security"][0]["secret_key"] = SECRETS[1]
        first["servers"][0]["lifetime"] = 1234
        f = tmp_path / "accounts.json"
        f.write_text(json.dumps(first))
        out = run("write", "--reader", READER, "--keys", keys_file, f)
        assert out.returncode == 0, out.stderr
        raw1 = tmp_path / "one.bin"
        assert run("read", "--reader", READER, "--keys", keys_file, "--raw", "-o", raw1).returncode == 0
        again = json.loads(run("read", "--reader", READER, "--keys", keys_file, "--json",
                               "--show-secrets").stdout)
        assert again["servers"][0]["lifetime"] == 1234
        g = tmp_path / "again.json"
        g.write_text(json.dumps(again))
        assert run("write", "--reader", READER, "--keys", keys_file, g).returncode == 0
        raw2 = tmp_path / "two.bin"
        assert run("read", "--reader", READER, "--keys", keys_file, "--raw", "-o", raw2).returncode == 0
        assert raw1.read_bytes() == raw2.read_bytes()


def test_put_key_through_pcscd(pcscd, keys_file, tmp_path):
    new = tmp_path / "new.json"
    new.write_text(json.dumps({"enc": "A0" * 16, "mac": "B1" * 16, "dek": "C2" * 16, "kvn": 49}))
    with sim_process():
        out = run("put-key", "--reader", READER, "--keys", keys_file, "--new-keys", new)
        assert out.returncode == 0, out.stderr
        assert b"key set 0x31 added" in out.stdout and b"verified" in out.stdout
        assert run("read", "--reader", READER, "--keys", new, "--json").returncode == 0
        no_secret_in(out.stdout + out.stderr)


def test_card_process_disconnects_mid_read(pcscd, keys_file, tmp_path):
    profile = tmp_path / "flaky.json"
    profile.write_text(json.dumps({"faults": {"disconnect_after": 8}}))
    with sim_process("--profile", profile):
        t0 = time.monotonic()
        out = run("read", "--reader", READER, "--keys", keys_file, "--json", timeout=30)
        assert time.monotonic() - t0 < 15
        assert out.returncode == 3, out.stderr
        assert out.stdout == b""
        assert b"removed" in out.stderr


def test_no_reader_no_card_no_daemon(pcscd, keys_file):
    out = run("read", "--reader", "No Such Reader", "--keys", keys_file)
    assert out.returncode == 3 and b"no reader matches" in out.stderr
    out = run("read", "--reader", "Virtual PCD B 00 01", "--keys", keys_file)
    assert out.returncode == 3 and b"No smart card" in out.stderr
    out = run("read", "--reader", READER, "--keys", keys_file,
              env={"PCSCLITE_CSOCK_NAME": "/nonexistent/pcscd.comm"}, timeout=30)
    assert out.returncode == 3 and b"pcscd" in out.stderr and out.stdout == b""


def test_independent_python_host_reads_the_cli_card(pcscd):
    """pyscard + python3-cryptography SCP03 host (tests/pyhost, written from
    the spec by another hand) against `scboot sim`."""
    sys.path.insert(0, str(HERE.parent / "pyhost"))
    import scp03host  # noqa: E402
    from smartcard.System import readers

    with sim_process():
        reader = next(r for r in readers() if str(r) == READER)
        conn = reader.createConnection()
        conn.connect()
        try:
            def tx(apdu):
                data, sw1, sw2 = conn.transmit(list(apdu))
                return bytes(data) + bytes([sw1, sw2])
            assert tx(bytes.fromhex("0070000001")) == bytes.fromhex("019000")
            aid = bytes.fromhex("A000000063504B43532D3135")
            assert tx(bytes.fromhex("01A4040C0C") + aid)[-2:] == b"\x90\x00"
            key = bytes.fromhex(GP_KEY)
            host = scp03host.SCP03Host(tx, scp03host.Keys(key, key, key, 0x30), level=0x33,
                                       channel=1)
            host.open()
            resp = host.transmit(bytes.fromhex("00A4000C026432"))
            assert resp[-2:] == b"\x90\x00"
            resp = host.transmit(bytes.fromhex("00B0000004"))
            assert resp[-2:] == b"\x90\x00" and resp[:2] == b"\x00\x02"
        finally:
            conn.disconnect()


def test_opensc_tool_is_a_peer_of_the_cli_card(pcscd):
    """Debian's OpenSC (opensc-tool) as an independent PC/SC host of `scboot
    sim`: the ATR, EF.DIR through SFI 1E, a logical channel, the ADF, and
    the bootstrap EF refused in clear (6982: SCP03 at 0x33 required)."""
    import shutil
    tool = shutil.which("opensc-tool")
    assert tool, "opensc-tool (Debian package opensc) is needed"
    with sim_process():
        atr = subprocess.run([tool, "-r", READER, "-a"], capture_output=True, text=True, timeout=30)
        assert atr.returncode == 0 and atr.stdout.strip().startswith("3b:"), atr
        apdus = ["00 B2 01 F4 00", "00 70 00 00 01",
                 "01 A4 04 0C 0C A0 00 00 00 63 50 4B 43 53 2D 31 35",
                 "01 A4 00 0C 02 64 32", "01 B0 00 00 10", "00 70 80 01"]
        args = [tool, "-r", READER]
        for a in apdus:
            args += ["-s", a]
        out = subprocess.run(args, capture_output=True, text=True, timeout=30)
        text = out.stdout
        assert "61 23 4F 0C A0 00 00 00 63 50 4B 43 53 2D 31 35" in text  # the PKCS#15 template
        sws = [line.split("(")[1][:18] for line in text.splitlines() if line.startswith("Received")]
        assert sws == ["SW1=0x90, SW2=0x00"] * 4 + ["SW1=0x69, SW2=0x82", "SW1=0x90, SW2=0x00"], text
