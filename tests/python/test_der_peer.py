"""OpenSSL's DER parser (`openssl asn1parse`, Debian's openssl) as an
independent reader of the PKCS#15 structures: the recorded Nordic files
(tests/vectors/lwm2m.json) and every variant the virtual card serves
(EF.DIR, ODF, TokenInfo, DODF, AODF).

The virtual card and the host parsers were written by one hand and could
agree on a mistake; OpenSSL was not. For each file OpenSSL must accept the
DER, and what it shows (tags, nesting, values sliced at the offsets it
reports) must be what scboot.pkcs15 finds in the same bytes."""
import shutil
import subprocess

import pytest

import scboot
from scboot import pkcs15
from scboot.sim import VirtualCard
from conftest import load_vectors

OPENSSL = shutil.which("openssl")
VECTORS = {e["name"]: e for e in load_vectors("lwm2m.json")["entries"]}
BOOTSTRAP_OID = "2.23.43.9.1"
MISENCODED_OID = "0.6.4.103.43.9.1"   # 06 06 {06 04 67 2B 09 01} read as one OID


class Node:
    """One line of `openssl asn1parse -i`: where the TLV is, its tag and value."""

    def __init__(self, data, line):
        head, _, rest = line.partition(":d=")
        self.offset = int(head)
        fields = rest.split()
        self.depth = int(fields[0])
        self.header_len = int(fields[1].split("=")[1])
        self.length = int(fields[2].split("=")[1]) if fields[2] != "l=" else int(fields[3])
        self.constructed = " cons: " in line
        kind = line.split(": ", 1)[1].split(":")[0] if ": " in line else ""
        self.kind = kind.replace("[HEX DUMP]", "").strip()
        start = self.offset + self.header_len
        self.value = data[start:start + self.length]
        self.text = line.rsplit(":", 1)[1] if self.kind in ("OBJECT", "UTF8STRING") else None

    def __repr__(self):
        return f"<{self.kind} d={self.depth} {self.value.hex()}>"


def asn1parse(data, length=None):
    """OpenSSL's view of data (trailing FF padding stripped, as cards pad
    EFs, or the first `length` bytes where the data may end in an FF of its
    own): the TLVs in file order. Fails the test when OpenSSL rejects it."""
    assert OPENSSL, "openssl (Debian package openssl) is needed"
    der = data.rstrip(b"\xff") if length is None else data[:length]
    out = subprocess.run([OPENSSL, "asn1parse", "-inform", "DER", "-i"], input=der,
                         capture_output=True, timeout=30)
    assert out.returncode == 0, f"OpenSSL rejects {der.hex()}: {out.stderr.decode()}"
    lines = [line for line in out.stdout.decode("latin-1").splitlines() if ":d=" in line]
    nodes = [Node(der, line) for line in lines]
    end = max(n.offset + n.header_len + n.length for n in nodes)
    assert end == len(der), f"OpenSSL stops at {end} of {len(der)} bytes"
    return nodes


def children(nodes, parent):
    """The direct children of parent, in order."""
    i = nodes.index(parent)
    out = []
    for n in nodes[i + 1:]:
        if n.depth <= parent.depth:
            break
        if n.depth == parent.depth + 1:
            out.append(n)
    return out


def odf_entries(nodes):
    """(tag, path) of every top-level [n] { SEQUENCE { OCTET STRING } } entry."""
    out = []
    for top in (n for n in nodes if n.depth == 0):
        assert top.kind.startswith("cont [") and top.constructed, top
        tag = 0xA0 + int(top.kind.split("[")[1].rstrip("] "))
        (seq,) = children(nodes, top)
        path = children(nodes, seq)[0]
        assert seq.kind == "SEQUENCE" and path.kind == "OCTET STRING", nodes
        out.append((tag, path.value))
    return out


def dodf_view(nodes):
    """What OpenSSL shows of the first DODF entry: its label (a UTF8STRING in
    CommonObjectAttributes or CommonDataObjectAttributes), its OID and the
    path OCTET STRING that follows the OID."""
    top = nodes[0]
    assert top.depth == 0 and top.constructed
    labels = [n.text for n in nodes if n.kind == "UTF8STRING"]
    oids = [n for n in nodes if n.kind == "OBJECT"]
    assert len(oids) == 1, nodes
    after = nodes[nodes.index(oids[0]) + 1:]
    paths = [n for n in after if n.kind == "OCTET STRING"]
    return top.kind, labels, oids[0], paths[0].value


def check_dodf(raw, want_oid):
    kind, labels, oid, path = dodf_view(asn1parse(raw))
    entry = pkcs15.find_bootstrap(raw)
    assert oid.text == want_oid
    assert entry.oid_value == oid.value            # the OID TLV's content as the card has it
    assert entry.oid_form.misencoded == (want_oid == MISENCODED_OID)
    assert entry.path.path == path
    assert entry.label in labels
    return kind


# ---- the recorded files ----------------------------------------------------

@pytest.mark.parametrize("name", ["nordic_odf", "nordic_odf_bootstrap_not_found"])
def test_recorded_odf(name):
    raw = bytes.fromhex(VECTORS[name]["raw"])
    entries = [(tag, p.path) for tag, p in pkcs15.parse_odf_entries(raw)]
    assert entries == odf_entries(asn1parse(raw))


def test_recorded_dodf_with_the_misencoded_oid():
    raw = bytes.fromhex(VECTORS["nordic_dodf_misencoded_oid"]["raw"])
    assert check_dodf(raw, MISENCODED_OID) == "cont [ 1 ]"   # oidDO


# ---- what the virtual card serves -------------------------------------------

def test_virtual_card_ef_dir():
    with VirtualCard() as sim:
        record = sim.read_file(bytes.fromhex("3F002F00"))[:48]
    nodes = asn1parse(record)
    assert nodes[0].kind == "appl [ 1 ]" and nodes[0].constructed     # 61: application template
    fields = {n.kind: n.value for n in children(nodes, nodes[0])}
    app = pkcs15.parse_dir(record)
    assert fields["appl [ 15 ]"] == app.aid == pkcs15.DEFAULT_AID       # 4F
    assert fields["appl [ 17 ]"] == app.path.path                      # 51
    assert fields["appl [ 16 ]"].decode() == app.label                 # 50


def test_virtual_card_odf_and_token_info():
    with VirtualCard() as sim:
        odf = sim.read_file(bytes.fromhex("3F0050155031"))
        token = sim.read_file(bytes.fromhex("3F0050155032"))
        iccid = sim.read_file(bytes.fromhex("3F002FE2"))
    assert [(t, p.path) for t, p in pkcs15.parse_odf_entries(odf)] == odf_entries(asn1parse(odf))
    nodes = asn1parse(token)
    fields = children(nodes, nodes[0])
    assert nodes[0].kind == "SEQUENCE"
    assert [f.kind for f in fields[:3]] == ["INTEGER", "OCTET STRING", "UTF8STRING"]
    assert fields[1].value == iccid                                   # serialNumber


@pytest.mark.parametrize("form, want_oid, want_kind", [
    ("oid_do", BOOTSTRAP_OID, "cont [ 1 ]"),
    ("oid_do_misencoded", MISENCODED_OID, "cont [ 1 ]"),
    ("application_oid", BOOTSTRAP_OID, "SEQUENCE"),
    ("application_oid_misencoded", MISENCODED_OID, "SEQUENCE"),
])
def test_virtual_card_dodf_forms(form, want_oid, want_kind):
    with VirtualCard({"dodf": {"oid_form": form}}) as sim:
        raw = sim.read_file(bytes.fromhex("3F0050156430"))
    assert check_dodf(raw, want_oid) == want_kind


def test_virtual_card_dodf_attributes():
    """Label, application name, private flag and authId as OpenSSL reads them."""
    profile = {"dodf": {"label": "Boot", "application_name": "LwM2M", "private": True,
                        "auth_id": "01", "path": "3F0050156432"}}
    with VirtualCard(profile) as sim:
        raw = sim.read_file(bytes.fromhex("3F0050156430"))
    nodes = asn1parse(raw)
    entry = pkcs15.find_bootstrap(raw)
    _, labels, _, path = dodf_view(nodes)
    assert labels == ["Boot", "LwM2M"] and entry.label == "Boot"
    assert entry.path.path == path == bytes.fromhex("3F0050156432")
    # CommonObjectAttributes.flags: BIT STRING, bit 0 private, bit 1 modifiable
    (flags,) = [n for n in nodes if n.kind == "BIT STRING"]
    assert entry.private and flags.value[1] & 0x80
    assert not entry.modifiable and not flags.value[1] & 0x40
    auth = [n for n in nodes if n.kind == "OCTET STRING" and n.depth == 2]
    assert auth and auth[0].value == entry.auth_id == b"\x01"


# ---- EF.AODF ----------------------------------------------------------------

def integer(node):
    return int.from_bytes(node.value, "big", signed=False)


def pin_view(nodes):
    """What OpenSSL shows of the first AODF entry: its label, its authId
    (the OCTET STRING of the second SEQUENCE) and the PinAttributes fields."""
    top = nodes[0]
    assert top.depth == 0 and top.kind == "SEQUENCE", nodes   # pin: a PKCS15Object
    common, klass, type_attr = children(nodes, top)
    labels = [n.text for n in children(nodes, common) if n.kind == "UTF8STRING"]
    (auth_id,) = children(nodes, klass)
    (attrs,) = children(nodes, type_attr)
    assert type_attr.kind == "cont [ 1 ]" and attrs.kind == "SEQUENCE"
    return labels, auth_id, children(nodes, attrs)


@pytest.mark.parametrize("aodf", [
    {},
    {"label": "LwM2M PIN", "auth_id": "0A0B", "min_length": 6, "max_length": 10,
     "stored_length": 12, "pad_char": 0, "reference": 0x81, "pin_type": "utf8",
     "flags": ["local", "initialized", "needs_padding", "unblock_disabled", "so_pin"],
     "path": "3F005015"},
    {"max_length": None, "pad_char": None, "flags": [], "label": ""},
], ids=["default", "every_field", "left_out"])
def test_virtual_card_aodf(aodf):
    """The PIN object of the virtual card's EF.AODF: OpenSSL accepts the DER
    and reads the same values as the library's parser."""
    profile = {"pin": {"ref": aodf.get("reference", 1), "value": "123456"},
               "dodf": {"private": True}, "aodf": aodf}
    with VirtualCard(profile) as sim:
        odf = sim.read_file(bytes.fromhex("3F0050155031"))
        raw = sim.read_file(bytes.fromhex("3F0050154401"))
        dodf = sim.read_file(bytes.fromhex("3F0050156430"))
    # the ODF names the AODF in its [8] authObjects entry
    assert (0xA8, bytes.fromhex("4401")) in odf_entries(asn1parse(odf))
    # one entry with a short length; its padChar may be FF like the padding
    assert raw[0] == 0x30 and raw[1] < 0x80 and raw[2 + raw[1]] == 0xFF
    der = raw[:2 + raw[1]]
    nodes = asn1parse(der, len(der))
    labels, auth_id, fields = pin_view(nodes)
    # the private entry's authId is the PIN object's
    assert pkcs15.find_bootstrap(dodf).auth_id == auth_id.value
    obj = pkcs15.find_pin(raw, auth_id.value)
    assert obj.auth_id == auth_id.value
    assert (obj.label or None) == (labels[0] if labels else None)
    kinds = [f.kind for f in fields]
    flags, ptype, minimum, stored = fields[:4]
    assert kinds[:4] == ["BIT STRING", "ENUMERATED", "INTEGER", "INTEGER"], fields
    # pinFlags: first byte the unused bits, named bit n counted from the top
    bits = [n for n in range(8 * (len(flags.value) - 1))
            if flags.value[1 + n // 8] & (0x80 >> n % 8)]
    assert obj.flags == sum(1 << n for n in bits)
    assert (obj.pin_type, obj.min_length, obj.stored_length) == \
        (integer(ptype), integer(minimum), integer(stored))
    rest = {f.kind: f for f in fields[4:]}
    assert (obj.max_length is not None) == ("INTEGER" in rest)
    if obj.max_length is not None:
        assert obj.max_length == integer(rest["INTEGER"])
    assert obj.reference == integer(rest["cont [ 0 ]"])
    assert (obj.pad_char is not None) == ("OCTET STRING" in rest)
    if obj.pad_char is not None:
        assert bytes([obj.pad_char]) == rest["OCTET STRING"].value
    assert (obj.path is not None) == ("SEQUENCE" in rest)
    if "SEQUENCE" in rest:
        (path,) = children(nodes, rest["SEQUENCE"])
        assert obj.path.path == path.value
    if "flags" in aodf:
        assert set(obj.flag_names) == set(aodf["flags"])


def test_the_check_can_fail():
    """A DER length that runs past the data: OpenSSL and the library both refuse."""
    too_long = bytes.fromhex("A708300404026430")
    with pytest.raises(AssertionError, match="OpenSSL rejects"):
        asn1parse(too_long)
    with pytest.raises(scboot.ParseError):
        pkcs15.parse_odf(too_long)
    # and a path that differs is noticed
    nodes = asn1parse(bytes.fromhex("A706300404026431"))
    assert odf_entries(nodes) != [(0xA7, bytes.fromhex("6430"))]
