"""Python and Lua with keys in a SoftHSM2 token: Keys.from_pkcs11 /
scboot.keys_pkcs11 for a cold read, a KDF3 read with the master key in the
token (the diversified KCVs are those of tests/vectors/kdf3.json), a write,
a rotation whose new keys the token generates, then a read with them; the
pytest plugin's --scboot-keys URI; key store errors as KeystoreError / nil,
message, code; and several threads, each with its own token key set or all
sharing one.

The library loads SoftHSM2 into this process and SoftHSM2 reads
SOFTHSM2_CONF when it is initialised: each test sets it to its own token
and closes every key set it made (the last close finalises the module)."""
import json
import os
import subprocess
import threading

import pytest
import scboot

from softhsm import GP_KEY, SOURCE_DIR

GP = (GP_KEY, GP_KEY, GP_KEY)
KDF3 = json.loads((SOURCE_DIR / "tests" / "vectors" / "kdf3.json").read_text())["vectors"][0]


@pytest.fixture
def hsm(token, monkeypatch):
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    token.import_scboot("gp", GP)
    return token


def test_cold_read(hsm):
    with scboot.Keys.from_pkcs11(hsm.uri("gp", pin=False), pin=hsm.pin, kvn=0x30) as keys:
        assert keys.in_token and keys.has_dek and keys.key_length == 16
        assert "in a token" in repr(keys) and GP_KEY.lower() not in repr(keys).lower()
        assert keys.kcv("enc") == bytes.fromhex("504A77")
        with scboot.Card.sim() as card:
            bs = card.read_bootstrap(keys)
            assert bs.servers[0]["lifetime"] == 86400
            assert bs.access.apdus == 12 and bs.access.scp_level == 0x33


def test_keys_json_and_pin_source(hsm):
    text = json.dumps({"pkcs11": hsm.uri("gp"), "kvn": 48})
    with scboot.Keys.from_json(text) as keys, scboot.Card.sim() as card:
        assert keys.in_token and keys.kvn == 48
        card.read_bootstrap(keys)


def test_kdf3_read_with_the_master_in_the_token(hsm):
    m = KDF3["master"]
    hsm.import_scboot("master", (m, m, m))
    with scboot.Keys.from_pkcs11(hsm.uri("master"), kvn=0x30) as master:
        # the diversification runs in the token (C_Sign): the card keys are
        # host values whose KCVs are the recorded ones
        with master.diversify_kdf3(bytes.fromhex(KDF3["kdd"])) as card_keys:
            assert not card_keys.in_token
            for t in ("enc", "mac", "dek"):
                assert card_keys.kcv(t).hex().upper() == KDF3["kcv"][t]
        profile = {"scp03": {"keys": [{"kvn": 48, "master": m, "diversify": "kdf3"}],
                             "kdd": KDF3["kdd"]}}
        with scboot.Card.sim(profile) as card:
            assert card.read_bootstrap(master, kdf3=True).servers[0]["lifetime"] == 86400
            with pytest.raises(scboot.CardCryptogramError):
                card.read_bootstrap(master)


def test_write_rotate_read(hsm):
    with scboot.Keys.from_pkcs11(hsm.uri("gp"), kvn=0x30) as keys, \
            scboot.Keys.from_pkcs11(hsm.uri("card"), kvn=0x31, generate=True,
                                    length=32) as fresh, \
            scboot.Card.sim() as card:
        assert fresh.in_token and fresh.key_length == 32
        with pytest.raises(scboot.KeystoreError) as e:
            fresh.kcv("enc")  # nothing exists yet
        assert e.value.name == "SCB_E_P11_OBJECT"
        doc = card.read_bootstrap(keys).to_dict(secrets=True)
        doc["servers"][0]["lifetime"] = 777
        card.write_bootstrap(doc, keys)
        card.rotate_keys(keys, fresh, replace_kvn=0x30)
        kcvs = [fresh.kcv(t) for t in ("enc", "mac", "dek")]
        assert len(set(kcvs)) == 3
        assert card.read_bootstrap(fresh).servers[0]["lifetime"] == 777
        with pytest.raises(scboot.SecureChannelError) as gone:
            card.read_bootstrap(keys)  # the card has no key set 30 any more
        assert "6A88" in str(gone.value)
    for t in ("enc", "mac", "dek"):
        a = hsm.attributes(f"card/{t}")
        assert a["CKA_EXTRACTABLE"] is False and a["CKA_SENSITIVE"] is True
        assert a["CKA_LOCAL"] is True and a["CKA_VALUE"] is None


@pytest.mark.parametrize("uri_of, pin, name", [
    (lambda t: t.uri("gp", pin=False), "0000", "SCB_E_P11_PIN"),
    (lambda t: t.uri("gp", pin=False), None, "SCB_E_P11_PIN_REQUIRED"),
    (lambda t: t.uri("missing"), None, "SCB_E_P11_OBJECT"),
    (lambda t: t.uri("gp", token="elsewhere"), None, "SCB_E_P11_TOKEN"),
    (lambda t: t.uri("gp", module="/no/such/module.so"), None, "SCB_E_P11_MODULE"),
    (lambda t: "pkcs11:token=%GG", None, "SCB_E_P11_URI"),
])
def test_errors(hsm, uri_of, pin, name):
    with pytest.raises(scboot.KeystoreError) as e:
        scboot.Keys.from_pkcs11(uri_of(hsm), pin=pin)
    assert e.value.name == name
    assert hsm.pin not in str(e.value)


def test_threads_own_and_shared_key_sets(hsm):
    errors = []
    shared = scboot.Keys.from_pkcs11(hsm.uri("gp"), kvn=0x30)

    def worker(own):
        try:
            keys = scboot.Keys.from_pkcs11(hsm.uri("gp"), kvn=0x30) if own else shared
            for _ in range(10):
                with scboot.Card.sim() as card:
                    assert card.read_bootstrap(keys).servers[0]["lifetime"] == 86400
            if own:
                keys.close()
        except Exception as e:  # reported below, with the thread's story
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i % 2 == 0,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    shared.close()
    assert errors == []


def test_pytest_plugin_takes_a_uri(hsm, tmp_path):
    test = tmp_path / "test_card.py"
    test.write_text("def test_read(scboot_card, scboot_keys):\n"
                    "    assert scboot_keys.in_token\n"
                    "    assert scboot_card.read_bootstrap(scboot_keys).servers\n")
    env = hsm.env()
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    out = subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-p", "scboot.pytest_plugin", "--scboot-sim",
                          "--scboot-keys", hsm.uri("gp"), str(test)],
                         capture_output=True, timeout=120, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    assert b"1 passed" in out.stdout


LUA = r"""
local scboot = require "scboot"
local uri, pin, master_uri, kdd, new_uri = arg[1], arg[2], arg[3], arg[4], arg[5]
local keys = assert(scboot.keys_pkcs11(uri, pin, {kvn = 0x30}))
assert(keys:in_token() and keys:has_dek())
do
  local card <close> = assert(scboot.sim())
  local bs = assert(card:read_bootstrap{keys = keys})
  assert(bs.servers[1].lifetime == 86400)
  local t = assert(card:read_bootstrap{keys = keys, secrets = true})
  t.servers[1].lifetime = 999
  assert(card:write_bootstrap{data = t, keys = keys})
  local fresh <close> = assert(scboot.keys_pkcs11(new_uri, pin, {kvn = 0x31, generate = true}))
  assert(card:rotate_keys{keys = keys, new_keys = fresh, replace_kvn = 0x30})
  assert(assert(card:read_bootstrap{keys = fresh}).servers[1].lifetime == 999)
  local none, msg = card:read_bootstrap{keys = keys}  -- key set 30 is gone
  assert(none == nil and msg:find("6A88", 1, true), msg)
end
do
  local master <close> = assert(scboot.keys_pkcs11(master_uri, pin, {kvn = 0x30}))
  local card <close> = assert(scboot.sim{scp03 = {keys = {{kvn = 48, master = "404142434445464748494A4B4C4D4E4F",
                                                            diversify = "kdf3"}}, kdd = kdd}})
  assert(card:read_bootstrap{keys = master, kdf3 = true})
end
keys:close()
collectgarbage()
-- no key set of this process is logged in to the token now: the PIN is checked
local none, msg, code = scboot.keys_pkcs11(uri, "0000")
assert(none == nil and code == scboot.E.P11_PIN, msg)
assert(not msg:find(pin, 1, true))
none, msg, code = scboot.keys_pkcs11(uri:gsub("object=gp", "object=nothing"), pin)
assert(none == nil and code == scboot.E.P11_OBJECT, msg)
print("lua ok")
"""


def test_lua(hsm, tmp_path):
    m = KDF3["master"]
    hsm.import_scboot("master", (m, m, m))
    build = os.environ.get("SCB_BUILD_DIR", str(SOURCE_DIR / "build"))
    script = tmp_path / "p11.lua"
    script.write_text(LUA)
    env = hsm.env(LUA_CPATH=f"{build}/lua/?.so;;", LUA_PATH=f"{build}/lua/?.lua;;")
    out = subprocess.run(["lua5.4", str(script), hsm.uri("gp", pin=False), hsm.pin,
                          hsm.uri("master", pin=False), KDF3["kdd"], hsm.uri("lua-new", pin=False)],
                         capture_output=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.strip() == b"lua ok"
