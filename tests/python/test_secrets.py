"""No secret byte in what the package shows: the text of every exception a
bad input raises, and repr / str of every object a user prints (the
bootstrap model and its objects, instances and resources, the Security and
Server views, the access report, key sets, the card). Searched with the
hardening tests' scanner (tests/hardening/secrets_scan.py): every
rendering of every 8-byte window of each secret."""
import json
import os
import sys

import pytest

import scboot
import scboot.sim
from conftest import SOURCE_DIR

sys.path.insert(0, str(SOURCE_DIR / "tests" / "hardening"))
from secrets_scan import Secrets  # noqa: E402

PSK = os.urandom(16)
ENC, MAC, DEK = os.urandom(16), os.urandom(16), os.urandom(16)
DOC = {"security": [{"server_uri": "coaps://bs.example.com:5684", "bootstrap_server": True,
                     "security_mode": 0, "public_key_or_identity": b"device-7".hex(),
                     "secret_key": PSK.hex()}],
       "servers": []}
CARD = {"scp03": {"keys": [{"kvn": 0x30, "enc": ENC.hex(), "mac": MAC.hex(), "dek": DEK.hex()}]},
        "bootstrap": {"json": DOC}}


@pytest.fixture(scope="module")
def secrets():
    s = Secrets()
    s.add("PSK", PSK)
    for name, key in (("ENC", ENC), ("MAC", MAC), ("DEK", DEK)):
        s.add(name, key)
    return s


def keys():
    return scboot.Keys(ENC, MAC, DEK, kvn=0x30)


def shown(obj):
    return f"{obj!r}\n{obj!s}"


def test_the_scanner_finds_what_a_leak_would_show(secrets):
    # the check below can fail: the raw model does hold the PSK
    with scboot.Bootstrap(DOC) as bs:
        assert secrets.find(repr(bs.to_dict(secrets=True)))
        assert secrets.find(repr(bs.objects[0].instances[0].resource(5).value))
    assert secrets.find(f"key {ENC.hex(':')}") == ["ENC (bytes 0..7)"]


def test_reprs_of_the_model_and_what_a_read_returns(secrets):
    with scboot.Card.sim(CARD) as card, keys() as k:
        bs = card.read_bootstrap(k)
        texts = [shown(bs), shown(bs.objects), shown(bs.security), shown(bs.servers),
                 shown(bs.access), shown(k), shown(card), shown(card.scp03_info),
                 shown(bs.to_dict()), bs.to_json()]
        for obj in bs.objects:
            texts.append(shown(obj))
            for inst in obj.instances:
                texts.append(shown(inst))
                texts += [shown(r) for r in inst.resources]
        psk = bs.objects[0].instances[0].resource(5)
        assert psk.value == PSK and psk.secret
        assert repr(psk) == "Resource(object_id=0, id=5, name='Secret Key', " \
                            "value=<secret, 16 bytes>)"
        # a multiple-instance secret is shown by size too
        multi = scboot.Resource(0, 5, instances={0: PSK, 1: PSK[:8]})
        assert repr(multi).endswith("instances={0: <secret, 16 bytes>, 1: <secret, 8 bytes>})")
        texts.append(repr(multi))
        # not a secret: shown as it is
        assert "coaps://bs.example.com:5684" in repr(bs.objects)
        bs.close()
    assert secrets.find("\n".join(texts)) == []


def raised(fn):
    with pytest.raises(Exception) as info:
        fn()
    e = info.value
    return e, f"{type(e).__name__}: {e}\n{e!r}\n{getattr(e, 'detail', '')}"


def bad_inputs():
    """Calls with bad values that hold the secrets (hex of the file, keys
    with a stray character, a key where a key set belongs)."""
    with scboot.Bootstrap(DOC) as bs:
        raw = bs.encode().hex()
    assert PSK.hex() in raw
    key = ENC.hex()
    card = scboot.Card.sim(CARD)
    k = keys()
    yield "Bootstrap.parse(hex + 'z')", lambda: scboot.Bootstrap.parse(raw + "z"), ValueError
    yield "Bootstrap.parse(odd hex)", lambda: scboot.Bootstrap.parse(raw[:-1]), ValueError
    yield "write_bootstrap(hex + 'z')", lambda: card.write_bootstrap(raw + "z", k), ValueError
    yield "write_bootstrap(dict, bad secret)", lambda: card.write_bootstrap(
        {"security": [dict(DOC["security"][0], secret_key=PSK.hex() + "zz")]}, k), ValueError
    yield "Bootstrap(dict, odd secret)", lambda: scboot.Bootstrap(
        {"security": [dict(DOC["security"][0], secret_key=PSK.hex() + "0")]}), ValueError
    yield "Keys(enc=hex + 'z')", lambda: scboot.Keys(enc=key + "z", mac=key), ValueError
    yield "Keys(short enc)", lambda: scboot.Keys(enc=key[:-2], mac=key), ValueError
    yield "kcv(hex + 'zz')", lambda: scboot.kcv(key + "zz"), ValueError
    yield "Keys.from_json(bare hex)", lambda: scboot.Keys.from_json(key), ValueError
    yield "Keys.from_json(cut)", lambda: scboot.Keys.from_json(
        json.dumps({"enc": key, "mac": key})[:-3]), ValueError
    yield "read_bootstrap(hex key)", lambda: card.read_bootstrap(key), TypeError
    yield "write_bootstrap(keys=hex)", lambda: card.write_bootstrap(raw, key), TypeError
    yield "rotate_keys(new_keys=hex)", lambda: card.rotate_keys(k, key), TypeError
    yield "open_scp03(hex key)", lambda: card.open_scp03(key), TypeError
    yield "verify_pin(non-ASCII)", lambda: card.verify_pin(1, key + "\u00e9"), ValueError
    yield "option sd_aid=hex + 'z'", lambda: card.read_bootstrap(k, sd_aid=key + "z"), ValueError
    yield "Card.sim(profile, bad key)", lambda: scboot.Card.sim(
        {"scp03": {"keys": [{"kvn": 1, "enc": key + "z", "mac": key}]}}), ValueError
    yield "Card.sim(profile, bad PSK)", lambda: scboot.Card.sim(
        {"bootstrap": {"json": {"security": [dict(DOC["security"][0],
                                                  secret_key=PSK.hex() + "0")]}}}), ValueError


def test_no_secret_in_an_exception(secrets):
    texts = []
    for name, call, cls in bad_inputs():
        e, text = raised(call)
        assert isinstance(e, cls), f"{name}: {text}"
        assert len(str(e)) < 160, f"{name}: {len(str(e))} characters: {e}"
        texts.append(f"{name}: {text}")
    found = secrets.find("\n".join(texts))
    assert found == [], "\n".join(texts)


def test_a_bad_hex_value_is_named_and_sized():
    with scboot.Bootstrap(DOC) as bs:
        raw = bs.encode().hex()
    e, _ = raised(lambda: scboot.Bootstrap.parse(raw + "z"))
    n = len(raw) + 1
    assert str(e) == f"raw is not valid hex: character {n} of {n} is not a hex digit"
    e, _ = raised(lambda: scboot.Bootstrap.parse(raw[:-1]))
    assert str(e) == f"raw is not valid hex: {len(raw) - 1} hex digits, an odd number"
    e, _ = raised(lambda: scboot.Keys(enc="00 11 2x", mac="00"))
    assert str(e) == "enc is not valid hex: character 8 of 8 is not a hex digit"


def test_read_bootstrap_names_the_argument_a_key_set_belongs_in():
    with scboot.Card.sim() as card:
        e, _ = raised(lambda: card.read_bootstrap("404142434445464748494A4B4C4D4E4F"))
        assert isinstance(e, TypeError)
        assert str(e).startswith("keys must be a scboot.Keys, not str: make one with")
        assert card.apdu_count == 0   # refused before the card was touched
        with scboot.sim.VirtualCard() as vc, vc.host_keys() as k:
            e, _ = raised(lambda: card.rotate_keys(k, {"enc": "00"}))
            assert str(e).startswith("new_keys must be a scboot.Keys, not dict")
