"""The scboot command with keys in a SoftHSM2 token: `scboot keys import /
generate / list`, --keys URI for read, write and put-key (the virtual card
in process, and `scboot sim --vpcd` behind a real pcscd), a KDF3 read with
the master key in the token, a rotation whose new keys are generated in the
token, the PIN sources, and every key store failure with its exit code (8)
and message. What the token holds is read back with python3-pykcs11; what
the library asked of the token is read from the logging shim module."""
import json
import os
import pty
import select
import subprocess
import time

import pytest

from softhsm import GP_KEY, SCBOOT, SHIM, SOURCE_DIR, shim_log, value_requested

GP = (GP_KEY, GP_KEY, GP_KEY)
KDF3 = json.loads((SOURCE_DIR / "tests" / "vectors" / "kdf3.json").read_text())["vectors"][0]
READER = "Virtual PCD 00 01"
EXIT_KEYSTORE = 8
CKM_AES_KEY_GEN, CKM_AES_CBC = 0x1080, 0x1082
CKA_EXTRACTABLE = 0x162


def ok(out):
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode()


def no_key_in(token, out, keys=(GP_KEY,)):
    text = (out.stdout + out.stderr).decode().upper().replace(" ", "")
    for k in keys:
        assert k.upper() not in text
    assert token.pin not in (out.stdout + out.stderr).decode()


def fails(out, code_name, text):
    err = out.stderr.decode()
    assert out.returncode == EXIT_KEYSTORE, err
    assert out.stdout == b""
    assert text in err, err
    assert len(err.strip().splitlines()) == 1, err  # one line
    return err


# ---- keys import / generate / list ----------------------------------------

def test_import_makes_sensitive_non_extractable_objects(token):
    out = token.import_scboot("gp", GP)
    text = out.stdout.decode()
    for t in ("enc", "mac", "dek"):
        assert f"gp/{t}" in text
    assert text.count("KCV 504A77") == 3  # KCV(40..4F), docs/scp03.md
    no_key_in(token, out)
    for t in ("enc", "mac", "dek"):
        a = token.attributes(f"gp/{t}")
        assert a["CKA_SENSITIVE"] is True
        assert a["CKA_EXTRACTABLE"] is False
        assert a["CKA_VALUE"] is None  # SoftHSM refuses it
        assert a["CKA_PRIVATE"] is True and a["CKA_TOKEN"] is True
        assert a["CKA_MODIFIABLE"] is False
        assert a["CKA_VALUE_LEN"] == 16
        # exactly what the library needs
        assert a["CKA_SIGN"] is True and a["CKA_ENCRYPT"] is True
        assert a["CKA_WRAP"] is (t == "dek")
        for never in ("CKA_DECRYPT", "CKA_VERIFY", "CKA_UNWRAP", "CKA_DERIVE"):
            assert a[never] is False, never
    # the labels are what an independent client sees
    assert token.labels() == ["gp/dek", "gp/enc", "gp/mac"]
    # twice: refused, nothing changed
    again = token.scboot("keys", "import", "--keys", token.keys_file(GP), "--to",
                         token.uri("gp"))
    fails(again, "SCB_E_P11_OBJECT", "object 'gp/enc' exists already")
    assert token.labels() == ["gp/dek", "gp/enc", "gp/mac"]


def test_import_from_stdin_and_without_dek(token):
    doc = json.dumps({"enc": GP_KEY, "mac": GP_KEY}).encode()
    out = token.scboot("keys", "import", "--keys", "-", "--to", token.uri("nodek"), input=doc)
    ok(out)
    assert token.labels() == ["nodek/enc", "nodek/mac"]


@pytest.mark.parametrize("length", [16, 24, 32])
def test_generate(token, length):
    out = token.scboot("keys", "generate", "--to", token.uri("fleet"), "--length", length)
    text = ok(out)
    assert text.count(f"AES-{length * 8}") == 3
    assert "never-extractable" in text and "generated-in-token" in text
    for t in ("enc", "mac", "dek"):
        a = token.attributes(f"fleet/{t}")
        assert a["CKA_VALUE_LEN"] == length
        assert a["CKA_SENSITIVE"] is True and a["CKA_ALWAYS_SENSITIVE"] is True
        assert a["CKA_EXTRACTABLE"] is False and a["CKA_NEVER_EXTRACTABLE"] is True
        assert a["CKA_LOCAL"] is True and a["CKA_VALUE"] is None


def test_list_every_key_and_one_set(token):
    token.import_scboot("gp", GP)
    token.import_pykcs11("other", ("00" * 16, "11" * 16, None), sign=False)
    everything = ok(token.scboot("keys", "list", token.uri()))
    for label in ("gp/enc", "gp/mac", "gp/dek", "other/enc", "other/mac"):
        assert label in everything
    one = ok(token.scboot("keys", "list", token.uri("other")))
    assert "gp/" not in one and "other/enc" in one
    # KCV of 00..00: 0x?? computed in the token; no sign usage shown
    assert " sign " not in one
    assert "00" * 16 not in one.replace(" ", "")


# ---- reading, writing, rotating with token keys (in process) ----------------

def test_cold_read_in_process_asks_the_token_for_no_value(token, tmp_path):
    token.import_scboot("gp", GP)
    log = tmp_path / "shim.log"
    out = token.scboot("read", "--sim", "--keys", token.shim_uri("gp"), "--json",
                       env=token.env(SCB_P11SHIM_LOG=log))
    doc = json.loads(ok(out))
    assert doc["read"]["scp_level"] == "0x33" and doc["read"]["apdus"] == 12
    assert doc["servers"][0]["lifetime"] == 86400
    no_key_in(token, out)
    calls = shim_log(log)
    assert value_requested(calls) == []
    # the session keys: S-ENC, S-MAC, S-RMAC (one CMAC block each, AES-128)
    assert len([c for c in calls if c[0] == "C_SignInit"]) == 3


def test_keys_json_names_the_token(token, tmp_path):
    token.import_scboot("gp", GP)
    f = tmp_path / "token-keys.json"
    f.write_text(json.dumps({"pkcs11": token.uri("gp"), "kvn": 48}))
    ok(token.scboot("read", "--sim", "--keys", f))
    # a keys file may hold pin-value (it is not a command line)
    g = tmp_path / "pin-in-file.json"
    g.write_text(json.dumps({"pkcs11": token.uri("gp", pin=False) + f"&pin-value={token.pin}",
                             "kvn": 48}))
    ok(token.scboot("read", "--sim", "--keys", g))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"pkcs11": token.uri("gp"), "enc": GP_KEY}))
    out = token.scboot("read", "--sim", "--keys", bad)
    assert out.returncode == 2 and b"unknown key 'enc'" in out.stderr


def test_kdf3_read_with_the_master_key_in_the_token(token, tmp_path):
    master = KDF3["master"]
    token.import_scboot("master", (master, master, master))
    profile = tmp_path / "kdf3-card.json"
    profile.write_text(json.dumps({"scp03": {
        "keys": [{"kvn": 48, "master": master, "diversify": "kdf3"}], "kdd": KDF3["kdd"]}}))
    out = token.scboot("read", "--sim", profile, "--keys", token.uri("master"), "--kdf3")
    assert "security level 0x33" in ok(out)
    # without --kdf3 the master keys are the wrong keys
    out = token.scboot("read", "--sim", profile, "--keys", token.uri("master"))
    assert out.returncode == 5 and b"card cryptogram" in out.stderr


def test_write_in_process(token, tmp_path):
    token.import_scboot("gp", GP)
    doc = json.loads(ok(token.scboot("read", "--sim", "--keys", token.uri("gp"), "--json",
                                     "--show-secrets")))
    doc["servers"][0]["lifetime"] = 4321
    f = tmp_path / "bs.json"
    f.write_text(json.dumps(doc))
    out = ok(token.scboot("write", "--sim", f, "--keys", token.uri("gp")))
    assert "read back and verified" in out


def test_rotation_generates_the_new_keys_in_the_token(token, tmp_path):
    token.import_scboot("gp", GP)
    log = tmp_path / "shim.log"
    env = token.env(SCB_P11SHIM_LOG=log)
    out = token.scboot("put-key", "--sim", "--keys", token.shim_uri("gp"), "--new-keys",
                       token.shim_uri("card1"), "--new-kvn", "0x31", env=env)
    text = ok(out)
    assert "key set 0x31 added" in text and "verified with a new session" in text
    assert "never left it in clear" in text
    calls = shim_log(log)
    assert value_requested(calls) == []
    gens = [c for c in calls if c[0] == "C_GenerateKey"]
    assert len(gens) == 3
    wraps = [c for c in calls if c[0] == "C_WrapKey"]
    assert len(wraps) == 3 and all(w[1][0] == CKM_AES_CBC for w in wraps)
    seals = [c for c in calls if c[0] == "C_SetAttributeValue" and c[1][1:] == [CKA_EXTRACTABLE]]
    assert len(seals) == 3
    # the seal comes after every wrap
    order = [c[0] for c in calls]
    assert max(i for i, f in enumerate(order) if f == "C_WrapKey") < \
        min(i for i, f in enumerate(order) if f == "C_SetAttributeValue")
    for t in ("enc", "mac", "dek"):
        a = token.attributes(f"card1/{t}")
        assert a["CKA_SENSITIVE"] is True and a["CKA_ALWAYS_SENSITIVE"] is True
        assert a["CKA_EXTRACTABLE"] is False and a["CKA_LOCAL"] is True
        assert a["CKA_VALUE"] is None
    # the KCVs printed are the token's
    listed = ok(token.scboot("keys", "list", token.uri("card1")))
    for kcv in text.split("KCV ENC ")[1].split(")")[0].replace("MAC ", "").replace(
            "DEK ", "").split():
        assert f"KCV {kcv}" in listed
    # a generated set goes to one card only: a second PUT KEY cannot wrap it
    again = token.scboot("put-key", "--sim", "--keys", token.uri("gp"), "--new-keys",
                         token.uri("card1"), "--new-kvn", "0x31")
    fails(again, "SCB_E_P11_USAGE", "may not leave the token (CKA_EXTRACTABLE false)")


def test_rotation_under_a_host_dek(token):
    # current keys from a file (the DEK is a host value): imported into the
    # token as a session object for the wrap, then gone
    out = token.scboot("put-key", "--sim", "--keys", token.keys_file(GP), "--new-keys",
                       token.uri("card2"), "--new-kvn", "0x31", "--length", "32")
    ok(out)
    assert token.labels() == ["card2/dek", "card2/enc", "card2/mac"]
    assert token.attributes("card2/enc")["CKA_VALUE_LEN"] == 32


def test_rotation_to_aes192_is_refused_before_anything_is_made(token):
    token.import_scboot("gp", GP)
    out = token.scboot("put-key", "--sim", "--keys", token.uri("gp"), "--new-keys",
                       token.uri("c24"), "--new-kvn", "0x31", "--length", "24")
    fails(out, "SCB_E_P11_MECHANISM", "not whole AES blocks")
    assert token.labels() == ["gp/dek", "gp/enc", "gp/mac"]


@pytest.mark.parametrize("name", ["softhsm2", "libsofthsm2"])
def test_module_name_from_p11_kits_configuration(token, name):
    # Debian's softhsm2 registers itself with p11-kit as "softhsm2"
    # (/usr/share/p11-kit/modules/softhsm2.module); the library file's name
    # without "lib" and ".so" names it too
    token.import_scboot("gp", GP)
    uri = token.uri("gp", module=None) + f"&module-name={name}"
    assert "Security accounts" in ok(token.scboot("read", "--sim", "--keys", uri))


def test_no_module_named_uses_p11_kits_configuration(token, tmp_path):
    """Without module-path / module-name, the modules p11-kit is configured
    with are searched. The test gives p11-kit a configuration of its own
    holding one module, the logging shim in front of SoftHSM2: p11-kit's
    user configuration (~/.config/pkcs11/modules) for a normal user, a
    private mount over the system's module directories for root (p11-kit
    reads no user configuration as root)."""
    token.import_scboot("gp", GP)
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "scb-shim.module").write_text(f"module: {SHIM}\n")
    log = tmp_path / "shim.log"
    env = token.env(SCB_P11SHIM_LOG=log)
    argv = [str(SCBOOT), "read", "--sim", "--keys", token.uri("gp", module=None)]
    if os.geteuid() != 0:
        home = tmp_path / "home"
        (home / ".config" / "pkcs11").mkdir(parents=True)
        (home / ".config" / "pkcs11" / "modules").symlink_to(modules)
        (home / ".config" / "pkcs11" / "pkcs11.conf").write_text("user-config: only\n")
        env["HOME"] = str(home)
    else:
        empty = tmp_path / "empty"
        empty.mkdir()
        mounts = [f"mount --bind {modules} /usr/share/p11-kit/modules"]
        if os.path.isdir("/etc/pkcs11/modules"):
            mounts.append(f"mount --bind {empty} /etc/pkcs11/modules")
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                " && ".join(mounts) + ' && exec "$@"', "sh", *argv]
    out = subprocess.run(argv, capture_output=True, timeout=60, env=env, start_new_session=True)
    assert "Security accounts" in ok(out)
    calls = shim_log(log)
    assert any(c[0] == "C_SignInit" for c in calls)  # through the configured module
    assert value_requested(calls) == []


# ---- the PIN ----------------------------------------------------------------

def test_pin_from_environment(token):
    token.import_scboot("gp", GP)
    uri = token.uri("gp", pin=False)
    ok(token.scboot("read", "--sim", "--keys", uri, env=token.env(SCBOOT_PIN11=token.pin)))


def test_pin_prompt_on_a_terminal(token):
    token.import_scboot("gp", GP)
    master, slave = pty.openpty()
    name = os.ttyname(slave)

    def become_tty_owner():
        os.setsid()
        fd = os.open(name, os.O_RDWR)  # the session's controlling terminal now
        os.close(fd)

    proc = subprocess.Popen([str(SCBOOT), "read", "--sim", "--keys", token.uri("gp", pin=False)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=token.env(), preexec_fn=become_tty_owner)
    os.close(slave)
    def read_master(timeout):
        r, _, _ = select.select([master], [], [], timeout)
        try:
            return os.read(master, 1024) if r else b""
        except OSError:  # EIO: the terminal's last user is gone
            return b""

    seen = b""
    deadline = time.monotonic() + 20
    while b"PIN" not in seen and time.monotonic() < deadline:
        seen += read_master(0.5)
    assert b"user PIN of the PKCS#11 token" in seen
    os.write(master, (token.pin + "\n").encode())
    out, err = proc.communicate(timeout=30)
    echoed = read_master(0.2)
    os.close(master)
    assert proc.returncode == 0, err.decode()
    assert token.pin.encode() not in seen + echoed  # echo was off
    assert b"Security accounts" in out


def test_pin_required_without_a_terminal(token):
    token.import_scboot("gp", GP)
    out = token.scboot("read", "--sim", "--keys", token.uri("gp", pin=False))
    err = fails(out, "SCB_E_P11_PIN_REQUIRED", "needs its user PIN")
    assert "SCBOOT_PIN11" in err and "pin-source" in err


def test_pin_value_is_never_taken_from_the_command_line(token):
    token.import_scboot("gp", GP)
    uri = token.uri("gp", pin=False) + f"&pin-value={token.pin}"
    err = fails(token.scboot("read", "--sim", "--keys", uri), "SCB_E_P11_URI",
                "pin-value= is refused here")
    assert token.pin not in err


def test_pin_file_readable_by_others_is_refused(token):
    token.import_scboot("gp", GP)
    os.chmod(token.pin_file, 0o644)
    fails(token.scboot("read", "--sim", "--keys", token.uri("gp")), "SCB_E_P11_URI",
          "readable by group or others")


# ---- every key store failure: exit 8, one line, what went wrong -------------

def test_errors(token, tmp_path):
    token.import_scboot("gp", GP)
    token.import_pykcs11("useless", GP, sign=False, encrypt=False)
    token.import_pykcs11("nowrap", GP, sign=True, encrypt=True, wrap=False)
    read = ("read", "--sim", "--keys")
    wrong_pin = tmp_path / "wrong.pin"
    wrong_pin.write_text("0000\n")
    wrong_pin.chmod(0o600)
    cases = [
        # no such module
        (token.uri("gp", module="/nonexistent/libnothing.so"), {},
         "cannot load the PKCS#11 module /nonexistent/libnothing.so"),
        (token.uri("gp", module=None) + "&module-name=nothing-here", {},
         "no PKCS#11 module named 'nothing-here'"),
        # bad URI
        ("pkcs11:token=scb-test;object=gp;bogus=1", {}, "attribute p11-kit does not know"),
        ("pkcs11:token=%ZZ", {}, "bad PKCS#11 URI"),
        (token.uri(None), {}, "names no key set"),
        (token.uri("gp").replace("object=gp", "object=gp;id=%01"), {},
         "selects objects by an attribute other than object="),
        # token absent
        (token.uri("gp", token="no-such-token"), {},
         "no token matches the URI (tokens present: 'scb-test')"),
        # wrong PIN
        (token.uri("gp", pin=False) + f"&pin-source=file:{wrong_pin}", {},
         "token 'scb-test' rejected the PIN"),
        # PIN locked (SoftHSM2 never locks its user PIN: the shim reports it)
        (token.shim_uri("gp"), {"SCB_P11SHIM_PIN_LOCKED": "1"}, "is locked"),
        # object missing
        (token.uri("nothing"), {}, "object 'nothing/enc' not found in token 'scb-test'"),
        # object without the usage needed
        (token.uri("useless"), {}, "'useless/enc' has neither CKA_SIGN nor CKA_ENCRYPT"),
        # mechanism the token lacks
        (token.shim_uri("gp"), {"SCB_P11SHIM_HIDE": "CKM_AES_CMAC,CKM_AES_CBC,CKM_AES_ECB"},
         "no mechanism for AES-CMAC"),
    ]
    for uri, env, text in cases:
        out = token.scboot(*read, uri, env=token.env(**env))
        err = fails(out, None, text)
        assert token.pin not in err and GP_KEY not in err.upper()
    # a DEK that may not wrap cannot wrap token-generated keys
    out = token.scboot("put-key", "--sim", "--keys", token.uri("nowrap"), "--new-keys",
                       token.uri("new"), "--new-kvn", "0x31")
    fails(out, "SCB_E_P11_USAGE", "'nowrap/dek' lacks CKA_WRAP")
    # a token that cannot generate
    out = token.scboot("put-key", "--sim", "--keys", token.uri("gp"), "--new-keys",
                       token.shim_uri("new"), "--new-kvn", "0x31",
                       env=token.env(SCB_P11SHIM_HIDE="CKM_AES_KEY_GEN"))
    fails(out, "SCB_E_P11_MECHANISM", "lacks CKM_AES_KEY_GEN")
    assert "new/enc" not in token.labels()
    # keys generate into a token that cannot generate, list of a token that is absent
    out = token.scboot("keys", "generate", "--to", token.shim_uri("g"),
                       env=token.env(SCB_P11SHIM_HIDE="CKM_AES_KEY_GEN"))
    fails(out, "SCB_E_P11_MECHANISM", "lacks CKM_AES_KEY_GEN")
    out = token.scboot("keys", "list", token.uri(token="absent"))
    fails(out, "SCB_E_P11_TOKEN", "no token matches")
    # usage errors of the commands themselves
    assert token.scboot("keys", "import", "--to", token.uri("x")).returncode == 2
    assert token.scboot("keys", "generate", "--to", token.uri("x"), "--length", "20").returncode == 2
    assert token.scboot("put-key", "--sim", "--keys", token.uri("gp"), "--new-keys",
                        token.uri("y")).returncode == 2  # no --new-kvn


def test_help_texts():
    out = subprocess.run([str(SCBOOT), "help", "keys"], capture_output=True, timeout=10)
    text = out.stdout.decode()
    assert out.returncode == 0
    for word in ("import", "generate", "list", "pin-source", "SCBOOT_PIN11", "NAME/enc"):
        assert word in text, word
    assert "pkcs11:" in subprocess.run([str(SCBOOT), "help", "read"], capture_output=True,
                                       timeout=10).stdout.decode()


# ---- through pcscd + vpcd ---------------------------------------------------

def sim_process(token, *extra):
    import pcsc_env
    return pcsc_env.CardProcess([SCBOOT, "sim", "--vpcd",
                                 f"127.0.0.1:{pcsc_env.READERS[READER]}", *extra], READER)


@pytest.mark.pcscd
def test_through_pcscd_read_rotate_read(pcscd, token):
    token.import_scboot("gp", GP)
    with sim_process(token):
        out = token.scboot("read", "--reader", READER, "--keys", token.uri("gp"), "--json")
        doc = json.loads(ok(out))
        assert doc["read"]["card"] == READER and doc["read"]["apdus"] == 12
        assert doc["read"]["scp_level"] == "0x33"
        # rotation: the card's DEK is in the token, the new set is made there
        out = token.scboot("put-key", "--reader", READER, "--keys", token.uri("gp"),
                           "--new-keys", token.uri("card"), "--new-kvn", "0x31",
                           "--replace", "0x30")
        assert "key set 0x31 replaced" in ok(out)
        # the card now answers only the new keys
        doc = json.loads(ok(token.scboot("read", "--reader", READER, "--keys",
                                         token.uri("card"), "--kvn", "0x31", "--json")))
        assert doc["servers"][0]["lifetime"] == 86400
        old = token.scboot("read", "--reader", READER, "--keys", token.uri("gp"))
        assert old.returncode == 5
        # write with the new keys, through pcscd
        doc = json.loads(ok(token.scboot("read", "--reader", READER, "--keys", token.uri("card"),
                                         "--kvn", "0x31", "--json", "--show-secrets")))
        doc["servers"][0]["lifetime"] = 600
        f = token.root / "bs.json"
        f.write_text(json.dumps(doc))
        ok(token.scboot("write", "--reader", READER, "--keys", token.uri("card"), "--kvn",
                        "0x31", f))
        doc = json.loads(ok(token.scboot("read", "--reader", READER, "--keys", token.uri("card"),
                                         "--kvn", "0x31", "--json")))
        assert doc["servers"][0]["lifetime"] == 600
