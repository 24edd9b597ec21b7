"""Secret hygiene of the scboot command: everything it prints - the -d
trace, error messages, table and JSON output without --show-secrets - is
free of the static keys, the session keys (derived from the handshakes the
trace shows), PUT KEY's new keys, the PIN and the bootstrap file's secret
keys; in good runs and in failing ones (wrong keys, bad R-MAC, bad padding,
status words, the card going away). The virtual card runs in process
(--sim=PROFILE) with keys and secrets of its own.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from secrets_scan import Keys, Secrets  # noqa: E402

BUILD_DIR = pathlib.Path(os.environ.get("SCB_BUILD_DIR", pathlib.Path(__file__).resolve().parents[2] / "build"))
SCBOOT = BUILD_DIR / "core" / "cli" / "scboot"

ENC = bytes.fromhex("8D1F5A3C97E2046BB4D06E19C7285FA3")
MAC = bytes.fromhex("2C97E4B1680FD35A1E8C47B29063DA5E")
DEK = bytes.fromhex("F04A6B1D93C8257E0AB6E3419D52C77F")
WRONG = bytes.fromhex("6E21D8A4F7093BC5529AE01784D36BF0")
NEW = Keys(bytes.fromhex("A37C19E650D284BF0F6B9A2317E85DC4"),
           bytes.fromhex("5B08E2C7913FA46D27D1B85E0C9A63F2"),
           bytes.fromhex("C6E53A08F41D9B72AE0F65D3827B1C49"), 0x31)
PSK = [bytes.fromhex("D3A8175EC2409BF66E1C83A7F5092B4D"),
       bytes.fromhex("1B9E64F0A73D28C5E086B14FD9726A3E")]
SMS_KEYS = bytes.fromhex("47C2E98B1D05A63F7E90B4D21C685AF3")
PIN = "4711"

BOOTSTRAP_JSON = {
    "security": [
        {"instance": 0, "server_uri": "coaps://bs.example.net:5684", "bootstrap_server": True,
         "security_mode": 0, "public_key_or_identity": b"device-7".hex(),
         "secret_key": PSK[0].hex(), "sms_binding_secret_keys": SMS_KEYS.hex()},
        {"instance": 1, "server_uri": "coaps://dm.example.net:5684", "bootstrap_server": False,
         "security_mode": 0, "public_key_or_identity": b"device-7".hex(),
         "secret_key": PSK[1].hex(), "short_server_id": 9},
    ],
    "servers": [{"instance": 0, "short_server_id": 9, "lifetime": 3600, "binding": "U"}],
}


def secrets():
    s = Secrets()
    s.add_keys("static", Keys(ENC, MAC, DEK, 0x30))
    s.add_keys("wrong", Keys(WRONG, WRONG, WRONG, 0x30))
    s.add_keys("new", NEW)
    for i, k in enumerate(PSK):
        s.add(f"bootstrap secret_key /0/{i}", k)
    s.add("bootstrap sms_binding_secret_keys /0/0", SMS_KEYS)
    s.add("PIN block", PIN.encode() + b"\xff" * (8 - len(PIN)))
    return s


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("secrets")

    def profile(name, extra=None):
        p = {"scp03": {"keys": {"kvn": 48, "enc": ENC.hex(), "mac": MAC.hex(), "dek": DEK.hex()}},
             "bootstrap": {"json": BOOTSTRAP_JSON}}
        p.update(extra or {})
        path = d / f"{name}.json"
        path.write_text(json.dumps(p))
        return path

    def keyfile(name, k):
        path = d / f"{name}.json"
        path.write_text(json.dumps({"enc": k.enc.hex(), "mac": k.mac.hex(),
                                    "dek": k.dek.hex() if k.dek else None, "kvn": k.kvn}))
        return path

    (d / "write.json").write_text(json.dumps(BOOTSTRAP_JSON))
    return {
        "card": profile("card"),
        "private": profile("private", {"dodf": {"private": True},
                                       "pin": {"ref": 1, "value": PIN, "tries": 3}}),
        "low_level": profile("low_level", {"scp03": {"keys": {"kvn": 48, "enc": ENC.hex(),
                                                                "mac": MAC.hex(), "dek": DEK.hex()},
                                                       "level_required": "0x01"}}),
        "clear": profile("clear", {"bootstrap": {"json": BOOTSTRAP_JSON, "read": "always"}}),
        "keys": keyfile("keys", Keys(ENC, MAC, DEK, 0x30)),
        "wrong": keyfile("wrong", Keys(WRONG, WRONG, WRONG, 0x30)),
        "new": keyfile("new", NEW),
        "write": d / "write.json",
        "profile": profile,
    }


def run(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([str(SCBOOT), *[str(a) for a in args]], capture_output=True, timeout=30,
                       env=e)
    return p.returncode, p.stdout.decode("latin-1") + p.stderr.decode("latin-1")


def check_clean(args, files, env=None, want_rc=None):
    rc, out = run(args, env)
    if want_rc is not None:
        assert rc == want_rc, out
    s = secrets()
    s.add_sessions_from_trace(out, Keys(ENC, MAC, DEK, 0x30))
    s.add_sessions_from_trace(out, NEW)
    hits = s.find(out)
    assert hits == [], f"scboot {' '.join(map(str, args))} printed {hits}:\n{out}"
    return rc, out


def test_scanner_sees_secrets(files):
    """The check can fail: --show-secrets prints the bootstrap keys, and the
    handshake's session keys are derived from the trace."""
    rc, out = run(["read", f"--sim={files['card']}", "--keys", files["keys"], "--json",
                   "--show-secrets", "-d"])
    assert rc == 0, out
    s = secrets()
    assert s.add_sessions_from_trace(out, Keys(ENC, MAC, DEK, 0x30)) == 1
    hits = s.find(out)
    assert any("bootstrap secret_key /0/0" in h for h in hits), hits
    assert any("sms_binding_secret_keys" in h for h in hits), hits
    # and a session key, were it printed, would be found
    probe = Secrets()
    probe.add_sessions_from_trace(out, Keys(ENC, MAC, DEK, 0x30))
    assert probe.find(probe.items[0][1].hex(" ").upper())


@pytest.mark.parametrize("output", [[], ["--json"]])
def test_read(files, output):
    rc, out = check_clean(["read", f"--sim={files['card']}", "--keys", files["keys"], "-d", *output],
                          files, want_rc=0)
    assert "A>> " in out and "redacted" in out


@pytest.mark.parametrize("level", ["0x01", "0x03", "0x11", "0x13", "0x33"])
def test_read_each_level(files, level):
    check_clean(["read", f"--sim={files['low_level']}", "--keys", files["keys"], "--level", level,
                 "-d", "--json"], files, want_rc=0)


def test_read_in_clear(files):
    """Without a secure channel the secrets cross the wire in clear: the
    trace masks the bootstrap EF's data."""
    rc, out = check_clean(["read", f"--sim={files['clear']}", "--no-secure-channel", "-d"], files,
                          want_rc=0)
    assert "masked" in out


def test_read_private_with_pin(files):
    check_clean(["read", f"--sim={files['private']}", "--keys", files["keys"], "-d", "--json"],
                files, env={"SCBOOT_PIN": PIN}, want_rc=0)
    check_clean(["read", f"--sim={files['private']}", "--keys", files["keys"], "-d"], files,
                env={"SCBOOT_PIN": "9999"})


def test_write_and_put_key(files):
    check_clean(["write", f"--sim={files['card']}", "--keys", files["keys"], "-d", files["write"]],
                files, want_rc=0)
    check_clean(["put-key", f"--sim={files['card']}", "--keys", files["keys"], "-d", "--new-keys",
                 files["new"]], files, want_rc=0)


def test_apdu_secure(files):
    check_clean(["apdu", f"--sim={files['card']}", "--keys", files["keys"], "--secure", "-d",
                 "00A4000C026432", "00B0000010"], files, want_rc=0)


def test_wrong_keys(files):
    rc, out = check_clean(["read", f"--sim={files['card']}", "--keys", files["wrong"], "-d"], files)
    assert rc == 5, out
    rc, out = check_clean(["read", f"--sim={files['card']}", "--kvn", "48"], files,
                          env={"SCBOOT_KEY_ENC": WRONG.hex(), "SCBOOT_KEY_MAC": WRONG.hex(),
                               "SCBOOT_KEY_DEK": WRONG.hex()})
    assert rc == 5, out


FAULTS = [
    {"corrupt_rmac_at": 7}, {"corrupt_rmac_at": 11}, {"bad_padding_at": 11},
    {"disconnect_after": 6}, {"bad_card_cryptogram": True}, {"kvn_mismatch": True},
    {"bad_challenge": True}, {"rmac_on_error": True, "sw_at": 9, "sw": "0x6982"},
] + [{"sw_at": n, "sw": sw} for n in (4, 5, 8, 11) for sw in ("0x6982", "0x6A82", "0x6F00")]


@pytest.mark.parametrize("faults", FAULTS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
def test_faults(files, faults):
    profile = files["profile"]("fault", {"faults": faults})
    rc, _ = check_clean(["read", f"--sim={profile}", "--keys", files["keys"], "--sd-aid",
                         "A000000063504B43532D3135", "-d"], files)
    assert rc != 0
