"""Keys, KCV and KDF3 against the recorded vectors; key material never in
reprs or error messages."""
import json

import pytest

import scboot
from conftest import load_vectors

PUTKEY = load_vectors("putkey.json")["vectors"]
KDF3 = load_vectors("kdf3.json")["vectors"]
GP_KEY = "404142434445464748494A4B4C4D4E4F"


@pytest.mark.parametrize("v", PUTKEY, ids=lambda v: v["name"])
def test_kcv_vectors(v):
    assert scboot.kcv(v["key"]) == bytes.fromhex(v["kcv"])
    assert scboot.kcv(bytes.fromhex(v["key"])) == bytes.fromhex(v["kcv"])
    with scboot.Keys(v["key"], v["key"], v["key"]) as keys:
        assert keys.kcv("enc") == keys.kcv("mac") == keys.kcv("dek") == bytes.fromhex(v["kcv"])


@pytest.mark.parametrize("v", KDF3, ids=lambda v: v["name"])
def test_kdf3_vectors(v):
    with scboot.Keys(v["master"], v["master"], v["master"], kvn=0x30) as master:
        card_keys = master.diversify_kdf3(v["kdd"])
    for which in ("enc", "mac", "dek"):
        assert card_keys.kcv(which) == bytes.fromhex(v["kcv"][which])
        assert card_keys.kcv(which) == scboot.kcv(v["derived"][which])
    assert card_keys.kvn == 0x30
    card_keys.close()


def test_properties_and_repr():
    keys = scboot.Keys(GP_KEY, GP_KEY, kvn=0x30)
    assert keys.kvn == 0x30 and keys.key_length == 16 and not keys.has_dek
    text = repr(keys)
    assert "0x30" in text and "AES-128" in text
    assert GP_KEY.lower() not in text.lower() and "4041" not in text
    with pytest.raises(scboot.Error):
        keys.kcv("dek")
    with pytest.raises(ValueError):
        keys.kcv("nope")
    keys.close()
    keys.close()
    assert "closed" in repr(keys)
    with pytest.raises(scboot.StateError):
        keys.kcv()


@pytest.mark.parametrize("length", [24, 32])
def test_longer_keys(length):
    key = bytes(range(length))
    with scboot.Keys(key, key, key, 1) as keys:
        assert keys.key_length == length
        assert keys.kcv() == scboot.kcv(key)


SECRET = "00112233445566778899AABBCCDDEEFF"


@pytest.mark.parametrize("enc,mac,dek", [
    (SECRET, SECRET[:30], None),             # lengths differ
    (SECRET[:20], SECRET[:20], None),        # 10 bytes: not AES
    (SECRET, SECRET, SECRET + "00"),         # DEK longer
])
def test_bad_key_sets_never_show_the_keys(enc, mac, dek):
    with pytest.raises(scboot.InvalidArgumentError) as info:
        scboot.Keys(enc, mac, dek)
    text = str(info.value) + repr(info.value) + info.value.detail
    assert "00112233" not in text.upper() and "AABBCC" not in text.upper()


def test_bad_hex_key_message_never_quotes_it():
    with pytest.raises(ValueError) as info:
        scboot.Keys(SECRET[:-1] + "Z", SECRET)
    assert "enc is not valid hex" in str(info.value)
    assert "00112233" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_kvn_range():
    with pytest.raises(ValueError):
        scboot.Keys(GP_KEY, GP_KEY, kvn=256)


def test_keys_from_json(tmp_path):
    doc = {"enc": GP_KEY, "mac": GP_KEY, "dek": GP_KEY, "kvn": 48}
    with scboot.Keys.from_json(json.dumps(doc)) as keys:
        assert keys.kvn == 48 and keys.has_dek and keys.kcv() == bytes.fromhex("504A77")
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(doc))
    with scboot.Keys.load(str(path)) as keys:
        assert keys.kvn == 48


def test_keys_json_errors_name_the_field_not_the_value():
    doc = {"enc": SECRET, "mac": SECRET[:-2], "kvn": 1}
    with pytest.raises(scboot.ValidationError) as info:
        scboot.Keys.from_json(json.dumps(doc))
    assert "mac" in str(info.value)
    assert "00112233" not in str(info.value)
