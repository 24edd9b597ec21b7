"""Bootstrap (decode, views, JSON model, encode) and the PKCS#15 parsers
against the recorded LwM2M vectors (tests/vectors/lwm2m.json)."""
import hashlib

import pytest

import scboot
from scboot import pkcs15
from conftest import load_vectors

ENTRIES = {e["name"]: e for e in load_vectors("lwm2m.json")["entries"]}
NORDIC = ENTRIES["nordic_bootstrap"]


def raw(name):
    return bytes.fromhex(ENTRIES[name]["raw"])


def fact_value(value):
    return bytes.fromhex(value["hex"]) if isinstance(value, dict) else value


def test_parse_nordic_bootstrap():
    data = raw("nordic_bootstrap")
    bs = scboot.Bootstrap.parse(data)
    expect = NORDIC["expect"]
    objects = bs.objects
    assert len(objects) == expect["objects"]
    assert objects[0].id == 0 and objects[0].version is None
    assert objects[0].name
    for obj_id, inst_id, res_id, value in expect["facts"]:
        obj = next(o for o in objects if o.id == obj_id)
        inst = next(i for i in obj.instances if i.id == inst_id)
        assert inst.resource(res_id).decoded == fact_value(value)
    assert bs.raw == data                       # what was parsed, padding included
    size = 4 + expect["size"]
    assert bs.digest == hashlib.sha256(data[:size]).digest()
    assert bs.encode() == data[:size]


def test_views_and_dict():
    bs = scboot.Bootstrap.parse(raw("nordic_bootstrap"))
    d = bs.to_dict()
    assert d["security"][0]["server_uri"] == "coap://leshan.eclipseprojects.io:5783"
    assert d["security"][0]["bootstrap_server"] is True
    assert d["security"][0]["security_mode"] == 3
    assert d["servers"] == [] and d["objects"] == []
    assert d["digest"] == bs.digest.hex()
    assert bs.security == d["security"]
    assert bs.servers == []
    assert bs.access is None
    assert "digest=" in repr(bs)


SECRET_PSK = "0123456789abcdef0123456789abcdef"
MODEL = {
    "security": [
        {"instance": 0, "server_uri": "coaps://bs.example.com:5684", "bootstrap_server": True,
         "security_mode": 0, "public_key_or_identity": "6964656e74697479",
         "secret_key": SECRET_PSK},
        {"instance": 1, "server_uri": "coaps://dm.example.com:5684", "bootstrap_server": False,
         "security_mode": 0, "public_key_or_identity": "6964", "secret_key": SECRET_PSK,
         "short_server_id": 1},
    ],
    "servers": [{"instance": 0, "short_server_id": 1, "lifetime": 86400, "binding": "U"}],
}


def test_from_dict_round_trip_and_secrets():
    bs = scboot.Bootstrap(MODEL)
    redacted = bs.to_dict()
    assert redacted["security"][0]["secret_key"] == "<redacted>"
    assert SECRET_PSK not in bs.to_json() and SECRET_PSK not in repr(bs)
    full = bs.to_dict(secrets=True)
    assert full["security"][0]["secret_key"] == SECRET_PSK
    again = scboot.Bootstrap.parse(bs.encode())
    assert again == bs
    assert again.to_dict(secrets=True) == full
    assert scboot.Bootstrap.from_json(bs.to_json(secrets=True)) == bs
    assert bs.servers[0]["lifetime"] == 86400
    assert [o.id for o in bs.objects] == [0, 1]
    psk = bs.objects[0].instances[0].resource(5)
    assert psk.value == bytes.fromhex(SECRET_PSK) and psk.info["secret"]


def test_cli_json_output_is_accepted_as_input():
    """`scboot read --json --show-secrets` adds "digest" and "read" (about the
    read itself): both are output only and ignored on input, so the CLI's
    output can be handed to write_bootstrap as it is; other unknown keys are
    still refused."""
    full = scboot.Bootstrap(MODEL).to_dict(secrets=True)
    cli = dict(full, read={"card": "built-in virtual card", "apdus": 12})
    assert scboot.Bootstrap(cli) == scboot.Bootstrap(MODEL)
    with pytest.raises(scboot.ValidationError, match="unknown key 'reed'"):
        scboot.Bootstrap(dict(full, reed={}))


def test_redacted_dict_cannot_be_written_back():
    redacted = scboot.Bootstrap(MODEL).to_dict()
    with pytest.raises(scboot.ValidationError, match="secret_key"):
        scboot.Bootstrap(redacted)


def test_validation_error_names_the_field():
    with pytest.raises(scboot.ValidationError) as info:
        scboot.Bootstrap({"security": [{"security_mode": 9}]})
    assert "security[0].security_mode" in str(info.value)


def test_json_input_checks_reach_python():
    # the C layer's checks, one definition: duplicate keys, object ranges
    with pytest.raises(scboot.ValidationError, match=r"security: key appears twice \(line 1"):
        scboot.Bootstrap.from_json('{"security": [{"server_uri": "coaps://a"}], "security": []}')
    with pytest.raises(scboot.ValidationError, match="servers\\[0\\].lifetime: expected a non-neg"):
        scboot.Bootstrap({"servers": [{"short_server_id": 1, "lifetime": -5}]})
    assert scboot.Bootstrap.from_json('\ufeff{"servers": []}').encode() == bytes(4)
    # accepted, but warned about
    bs = scboot.Bootstrap({"security": [{"security_mode": 3, "short_server_id": 2}],
                           "servers": [{"lifetime": 60}]})
    assert bs.warnings == ["security[0]: no server_uri", "servers[0]: no short_server_id"]
    assert scboot.Bootstrap.parse(raw("nordic_bootstrap")).warnings == []


def test_empty_model():
    bs = scboot.Bootstrap()
    assert bs.encode() == bytes(4)
    assert bs.objects == [] and bs.raw is None


@pytest.mark.parametrize("cut", [1, 3, 5, 20, 57])
def test_truncated_file_is_a_parse_error_naming_where(cut):
    data = raw("nordic_bootstrap")[:cut]
    with pytest.raises(scboot.ParseError) as info:
        scboot.Bootstrap.parse(data)
    assert info.value.detail


def test_closed_bootstrap():
    bs = scboot.Bootstrap.parse(raw("nordic_bootstrap"))
    bs.close()
    bs.close()
    assert "closed" in repr(bs)


def test_pkcs15_odf():
    for name in ("nordic_odf", "nordic_odf_bootstrap_not_found"):
        expect = ENTRIES[name]["expect"]
        entries = pkcs15.parse_odf_entries(raw(name))
        assert [(f"{t:02X}", p.path.hex().upper()) for t, p in entries] == \
            [tuple(e) for e in expect["entries"]]
        assert pkcs15.parse_odf(raw(name))[0].path.hex().upper() == expect["dodf_path"]


def test_pkcs15_dodf():
    entry = pkcs15.find_bootstrap(raw("nordic_dodf_misencoded_oid"))
    expect = ENTRIES["nordic_dodf_misencoded_oid"]["expect"]
    assert entry.label == expect["label"]
    assert entry.oid_value == bytes.fromhex(expect["oid_value"])
    assert entry.oid_form.misencoded and entry.oid_form == scboot.OidForm.DO_ID_MISENCODED
    assert entry.path.path.hex() == expect["bootstrap_path"]
    with pytest.raises(scboot.NoBootstrapError):
        pkcs15.find_bootstrap(raw("nordic_dodf_empty"))


def test_pkcs15_aodf():
    """A PIN object encoded by hand from the PKCS#15 v1.1 ASN.1 (6.8: pin
    PKCS15Object {CommonAuthenticationObjectAttributes, PinAttributes})."""
    attrs = (bytes.fromhex("03020348")        # pinFlags: local (1), initialized (4)
             + bytes.fromhex("0A0101")        # pinType ascii-numeric
             + bytes.fromhex("020104")        # minLength 4
             + bytes.fromhex("020108")        # storedLength 8
             + bytes.fromhex("02010C")        # maxLength 12
             + bytes.fromhex("800181")        # pinReference [0] 0x81
             + bytes.fromhex("0401FF")        # padChar FF
             + bytes.fromhex("300604043F005015"))  # path 3F00 5015
    body = (bytes.fromhex("30050C03") + b"PIN"          # label
            + bytes.fromhex("3003040101")               # authId 01
            + bytes([0xA1, len(attrs) + 2, 0x30, len(attrs)]) + attrs)
    aodf = bytes([0x30, len(body)]) + body + b"\xff" * 8
    pin = pkcs15.find_pin(aodf, b"\x01")
    assert pin == pkcs15.find_pin(aodf)   # the first PIN object
    assert (pin.label, pin.auth_id, pin.pin_type) == ("PIN", b"\x01", scboot.PinType.ASCII_NUMERIC)
    assert pin.flag_names == ("local", "initialized") and pin.flags == 0x12
    assert (pin.min_length, pin.stored_length, pin.max_length) == (4, 8, 12)
    assert (pin.reference, pin.pad_char) == (0x81, 0xFF)
    assert pin.path.path == bytes.fromhex("3F005015")
    assert "reference=0x81" in repr(pin)
    with pytest.raises(scboot.NotFoundError):
        pkcs15.find_pin(aodf, b"\x02")
    with pytest.raises(scboot.ParseError) as info:
        pkcs15.find_pin(aodf[:20], b"\x01")
    assert info.value.detail


def test_pkcs15_dir_and_errors():
    aid = pkcs15.DEFAULT_AID
    assert aid == bytes.fromhex("A000000063504B43532D3135")
    record = bytes([0x61, 2 + len(aid) + 4, 0x4F, len(aid)]) + aid + bytes.fromhex("51027F50")
    app = pkcs15.parse_dir(record)
    assert app.aid == aid and app.path.path == bytes.fromhex("7F50") and app.label == ""
    with pytest.raises(scboot.ParseError) as info:
        pkcs15.parse_dir(record[:-3])
    assert "EF.DIR" in info.value.detail
    with pytest.raises(scboot.ParseError) as info:
        pkcs15.parse_odf(raw("nordic_odf")[:-2])
    assert "ODF" in info.value.detail


def test_resource_info():
    info = scboot.resource_info(0, 0)
    assert info["key"] == "server_uri" and not info["secret"]
    assert scboot.resource_info(0, 5)["secret"]
    assert scboot.resource_info(0, 4242) is None


# Values the library's JSON does not type (FORMAT.md "Values": not a valid
# value of the resource's type or range, or another multiplicity than the
# object definition's) next to ones it does.
ODD = {
    "security": [{
        "server_uri": {"hex": "fffe"},                   # not UTF-8
        "bootstrap_server": {"hex": "02"},               # not a boolean
        "security_mode": {"hex": "07"},                  # Security Mode is 0..4
        "short_server_id": {"hex": "0000"},              # SSID is 1..65534
        "sms_server_number": {"hex": "61006263"},        # a NUL inside a string
        "sni": {"hex": "3c72656461637465643e"},          # reads "<redacted>"
        "client_hold_off_time": {"hex": "000001"},       # a 3-byte integer
        "matching_type": {"hex": "05"},                  # unsigned 0..3
        "oscore_security_mode": "21:3",                  # an object link
        "dtls_tls_ciphersuite": {"0": 49320, "1": {"hex": "ffffffffff"}},
        "secret_key": "00112233",
        "1000": {"hex": "aa"},                           # unknown to the table
    }],
    "servers": [{"short_server_id": 1, "lifetime": 86400, "binding": "U"}],
    "objects": [{"id": 2, "instances": [{"id": 0, "resources": {
        "object_id": 1, "acl": {"hex": "0f"}}}]}],       # a single ACL (the table: multiple)
}
ODD_DECODED = {
    (0, 0): b"\xff\xfe", (0, 1): b"\x02", (0, 2): b"\x07", (0, 10): b"\x00\x00",
    (0, 9): b"a\x00bc", (0, 14): b"<redacted>", (0, 11): b"\x00\x00\x01", (0, 13): b"\x05",
    (0, 17): (21, 3), (0, 16): {0: 49320, 1: b"\xff" * 5}, (0, 5): bytes.fromhex("00112233"),
    (0, 1000): b"\xaa",
    (1, 0): 1, (1, 1): 86400, (1, 7): "U",
    (2, 0): 1, (2, 2): b"\x0f",
}


def json_form(decoded):
    """A typed value written as the JSON model writes it (FORMAT.md: an
    object link is "object:instance")."""
    return f"{decoded[0]}:{decoded[1]}" if isinstance(decoded, tuple) else decoded


def test_decoded_is_what_to_dict_shows():
    with scboot.Bootstrap(ODD) as built:
        bs = scboot.Bootstrap.parse(built.encode())
    seen = {}
    for obj in bs.objects:
        for inst in obj.instances:
            for r in inst.resources:
                seen[(obj.id, r.id)] = r.decoded
    assert seen == ODD_DECODED
    d = bs.to_dict(secrets=True)
    shown = dict(d["security"][0], **{"servers." + k: v for k, v in d["servers"][0].items()})
    shown.update({"acl." + k: v for k, v in d["objects"][0]["instances"][0]["resources"].items()})
    for (obj_id, res_id), decoded in seen.items():
        info = scboot.resource_info(obj_id, res_id)
        key = info["key"] if info else str(res_id)
        key = {1: "servers.", 2: "acl."}.get(obj_id, "") + key
        value = shown[key]
        if isinstance(value, dict) and set(value) == {"hex"}:
            assert decoded == bytes.fromhex(value["hex"]), key
        elif isinstance(decoded, bytes):          # opaque: hex text in the JSON
            assert value == decoded.hex() and info["type"] == scboot._scboot.SCB_T_OPAQUE, key
        elif isinstance(decoded, dict):
            for k, v in decoded.items():
                w = value[str(k)]
                assert (v == bytes.fromhex(w["hex"])) if isinstance(v, bytes) else v == w, key
        else:
            assert json_form(decoded) == value and type(json_form(decoded)) is type(value), key


def test_decoded_of_a_resource_built_in_python():
    assert scboot.Resource(0, 2, value=b"\x03").decoded == 3
    assert scboot.Resource(0, 2, value=b"\x09").decoded == b"\x09"     # out of 0..4
    assert scboot.Resource(0, 0, value="ü".encode()).decoded == "ü"
    assert scboot.Resource(0, 16, instances={0: b"\x01", 1: b"\x01\x02\x03"}).decoded == {
        0: 1, 1: b"\x01\x02\x03"}
    assert scboot.Resource(0, 16, value=b"\x01").decoded == b"\x01"    # single: not the table's


K = "404142434445464748494A4B4C4D4E4F"   # the virtual card's test key


def test_access_info_shows_path_and_aid_as_hex_and_the_mode():
    keys = scboot.Keys(enc=K, mac=K, dek=K, kvn=0x30)
    with scboot.Card.sim() as card:
        access = card.read_bootstrap(keys).access
    assert access.s16 is False and access.scp_level == 0x33
    assert repr(access) == ("AccessInfo(used_efdir=True, aid=A000000063504B43532D3135, "
                            "channel=1, oid_form=<OidForm.DO_ID: 1>, path=6432, ef_size=1024, "
                            "scp_level=0x33, s16=False, apdus=12, label='LwM2M Bootstrap')")
    with scboot.Card.sim({"scp03": {"i": "0x71", "s16": True}}) as card:
        assert card.read_bootstrap(keys).access.s16 is True   # detected: no option given
    with scboot.Card.sim({"bootstrap": {"read": "always"}}) as card:
        access = card.read_bootstrap()
        assert access.access.s16 is None and access.access.scp_level is None
    keys.close()
