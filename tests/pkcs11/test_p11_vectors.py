"""Every recorded SCP03 trace (tests/vectors/scp03.json) replayed byte for
byte with its static keys in a SoftHSM2 token: the C replay program
(tests/c/test_scp03_vectors --pkcs11) opens each entry's key set from the
token, reproduces every wire command and unwraps every response, and
derives every recorded session (S-ENC, S-MAC, S-RMAC, both cryptograms,
the pseudo-random card challenge) from the token keys.

The keys go into the token with three clients, and each run exercises one
way the library computes AES-CMAC in the token: C_Sign with CKM_AES_CMAC
(imported by `scboot keys import`), CMAC built on CKM_AES_CBC (imported by
python3-pykcs11 without CKA_SIGN), and CMAC built on CKM_AES_ECB (imported
by OpenSC's pkcs11-tool, with CMAC and CBC hidden by the logging shim
module, as on a token that only has ECB). The shim's log shows which path ran and
that CKA_VALUE was never asked for."""
import json
import os
import pathlib
import subprocess

from softhsm import SOFTHSM, SHIM, SOURCE_DIR, shim_log, value_requested

REPLAY = pathlib.Path(os.environ.get("SCB_REPLAY_BIN", ""))
VECTORS = json.loads((SOURCE_DIR / "tests" / "vectors" / "scp03.json").read_text())
CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CMAC = 0x1081, 0x1082, 0x108A


def keys_of(e):
    return (e["keys"]["enc"], e["keys"]["mac"], e["keys"]["dek"])


def replay(token, module, env):
    base = f"pkcs11:token={token.label}"
    query = f"module-path={module}&pin-source=file:{token.pin_file}"
    out = subprocess.run([str(REPLAY), "--pkcs11", base, query], capture_output=True,
                         timeout=300, env=env)
    text = out.stderr.decode()
    assert out.returncode == 0, text
    assert "0 failed" in text
    # every entry: its session from the token keys; every trace with exchanges replayed
    for e in VECTORS:
        assert f"ok   {e['name']}: session derived from token keys" in text
    return text


def inits(calls, fn):
    return [c[1][0] for c in calls if c[0] == fn]


def test_scboot_import_cmac_by_c_sign(token, tmp_path):
    for e in VECTORS:
        token.import_scboot(e["name"], keys_of(e), e["keys"]["kvn"])
    log = tmp_path / "shim.log"
    replay(token, SHIM, token.env(SCB_P11SHIM_LOG=log))
    calls = shim_log(log)
    assert set(inits(calls, "C_SignInit")) == {CKM_AES_CMAC}
    # encryption only for... nothing: the handshake needs CMAC alone
    assert inits(calls, "C_EncryptInit") == []
    assert value_requested(calls) == []


def test_pykcs11_import_cmac_by_cbc(token, tmp_path):
    # exactly the usages given: may encrypt, may not sign
    for e in VECTORS:
        token.import_pykcs11(e["name"], keys_of(e), sign=False, encrypt=True)
    a = token.attributes(VECTORS[0]["name"] + "/enc")
    assert a["CKA_SENSITIVE"] is True and a["CKA_EXTRACTABLE"] is False
    assert a["CKA_SIGN"] is False and a["CKA_ENCRYPT"] is True
    assert a["CKA_VALUE"] is None  # the token refuses the value of a sensitive key
    log = tmp_path / "shim.log"
    replay(token, SHIM, token.env(SCB_P11SHIM_LOG=log))
    calls = shim_log(log)
    assert inits(calls, "C_SignInit") == []
    assert set(inits(calls, "C_EncryptInit")) == {CKM_AES_CBC}
    assert value_requested(calls) == []


def test_pkcs11_tool_import_cmac_by_ecb(token, tmp_path):
    for e in VECTORS:
        token.import_pkcs11_tool(e["name"], keys_of(e))
    a = token.attributes(VECTORS[0]["name"] + "/enc")
    assert a["CKA_SENSITIVE"] is True and a["CKA_EXTRACTABLE"] is False
    assert a["CKA_PRIVATE"] is True and a["CKA_VALUE"] is None
    # a token that has only AES-ECB
    log = tmp_path / "shim.log"
    replay(token, SHIM, token.env(SCB_P11SHIM_LOG=log,
                                  SCB_P11SHIM_HIDE="CKM_AES_CMAC,CKM_AES_CBC"))
    calls = shim_log(log)
    assert inits(calls, "C_SignInit") == []
    assert set(inits(calls, "C_EncryptInit")) == {CKM_AES_ECB}
    assert value_requested(calls) == []


def test_the_shim_sees_a_request_for_a_key_value(token, tmp_path):
    # the check above can fail: a client that asks for CKA_VALUE through the
    # shim is seen (and SoftHSM refuses it for a sensitive key)
    token.import_scboot("gp", ("00" * 16, "11" * 16, "22" * 16))
    log = tmp_path / "shim.log"
    got = token.pykcs11("""
        o = session.findObjects([(P.CKA_LABEL, "gp/enc")])[0]
        print(json.dumps(session.getAttributeValue(o, [P.CKA_VALUE])[0]))
    """, module=SHIM, env=token.env(SCB_P11SHIM_LOG=log))
    assert got is None
    assert len(value_requested(shim_log(log))) >= 1  # (PyKCS11 asks for the length first)


def test_softhsm_directly(token):
    # without the shim in between: the module as p11-kit loads it
    for e in VECTORS:
        token.import_scboot(e["name"], keys_of(e), e["keys"]["kvn"])
    replay(token, SOFTHSM, token.env())
