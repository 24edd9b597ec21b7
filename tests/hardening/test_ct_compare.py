"""Constant-time comparisons in the core library (core/src).

MACs, cryptograms, card challenges, key check values and read-back data
are compared with scb__ct_equal (CRYPTO_memcmp), whose time does not depend
on where the first difference is. A plain memcmp/strcmp there would let a
card (or anyone on the wire) learn a MAC byte by byte from timing. This
source scan fails when:

 - a byte/string comparison function appears in a file of the secret path,
 - one appears anywhere else in core/src beyond the reviewed, public-data
   uses listed in ALLOWED (a new one needs a look and an entry here),
 - a known secret comparison site stops using scb__ct_equal, or
   scb__ct_equal stops being CRYPTO_memcmp.
"""
import pathlib
import re

SRC = pathlib.Path(__file__).resolve().parents[2] / "core" / "src"

COMPARE = re.compile(r"(?<![A-Za-z0-9_])(memcmp|bcmp|strcmp|strncmp|strcasecmp|strncasecmp|"
                     r"wcscmp|timingsafe_bcmp)\s*\(")

# Files where keys, session state, MACs, cryptograms or KCVs are handled:
# no plain comparison at all.
SECRET_PATH = ["scp03.c", "scp03_sm.c", "scp03_kdf.c", "putkey.c", "keys.c", "crypto.c",
               "card.c", "bootstrap_access.c", "iso7816.c", "apdu.c"]

# Reviewed uses on public data: (file, function) -> count.
ALLOWED = {
    ("at.c", "strncmp"): 1,   # AT response prefixes from the modem
    ("at.c", "strcmp"): 5,    # final result codes (OK, ERROR, 0, 4)
    ("modem.c", "strncmp"): 1,  # "+CCHO:" prefix
    ("pcsc.c", "strcmp"): 1,  # reader names
    ("lwm2m_objects.c", "strcmp"): 1,  # resource keys (JSON names)
    ("pkcs15.c", "memcmp"): 4,  # PKCS#15 AID, the bootstrap OID (public constants), an
                                # authId (a public identifier naming a PIN object)
    ("opts.c", "strcmp"): 3,  # option text: booleans (yes/no ...) and enum names; bytes
                              # options (the PIN) are parsed as hex, never compared
    # PKCS#11 module names and files, token labels and serials, URI and
    # pin-source prefixes (keys stay in the token: nothing secret to compare)
    ("keys_pkcs11.c", "strcmp"): 7,
    ("keys_pkcs11.c", "strncmp"): 6,
}

# Secret comparison sites: file -> minimum number of scb__ct_equal calls.
CT_SITES = {
    "scp03.c": 2,             # pseudo-random card challenge, card cryptogram
    "scp03_sm.c": 1,          # R-MAC
    "putkey.c": 1,            # KCVs returned by the card (PUT KEY data is parsed
                              # by the card's side, the virtual card's)
    "bootstrap_access.c": 1,  # read-back after write
}


def strip(code: str) -> str:
    """C source without comments, string and character literals."""
    code = re.sub(r"/\*.*?\*/", " ", code, flags=re.S)
    code = re.sub(r"//[^\n]*", " ", code)
    code = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', code)
    return re.sub(r"'(?:\\.|[^'\\\n])*'", "''", code)


def scan(sources: dict[str, str]) -> list[str]:
    """Problems found in {file name: source text}; [] when all is well."""
    problems = []
    counts: dict[tuple[str, str], int] = {}
    for name, text in sorted(sources.items()):
        for m in COMPARE.finditer(strip(text)):
            counts[(name, m.group(1))] = counts.get((name, m.group(1)), 0) + 1
    for (name, fn), n in sorted(counts.items()):
        if name in SECRET_PATH:
            problems.append(f"{name}: {n} x {fn}() on the secret path: use scb__ct_equal")
        elif n > ALLOWED.get((name, fn), 0):
            problems.append(f"{name}: {n} x {fn}() (reviewed: {ALLOWED.get((name, fn), 0)}); "
                            "if it compares secret or MAC bytes use scb__ct_equal, otherwise "
                            "review it and update ALLOWED in tests/hardening/test_ct_compare.py")
    for name, want in CT_SITES.items():
        have = len(re.findall(r"\bscb__ct_equal\s*\(", strip(sources.get(name, ""))))
        if have < want:
            problems.append(f"{name}: {have} scb__ct_equal call(s), expected at least {want}")
    impl = strip(sources.get("crypto.c", ""))
    m = re.search(r"bool\s+scb__ct_equal\s*\([^)]*\)\s*\{(.*?)\}", impl, re.S)
    if m is None or "CRYPTO_memcmp" not in m.group(1):
        problems.append("crypto.c: scb__ct_equal is not CRYPTO_memcmp")
    return problems


def sources():
    return {p.name: p.read_text() for p in SRC.glob("*.c")}


def test_core_compares_in_constant_time():
    assert scan(sources()) == []


def test_scan_catches_a_plain_memcmp():
    """The check can fail: a plain memcmp slipped into the R-MAC check, a
    strcmp into key handling, a new memcmp elsewhere, a site gone plain."""
    src = sources()
    bad = dict(src, **{"scp03_sm.c": src["scp03_sm.c"].replace(
        "!scb__ct_equal(mac, rdata + dlen, sess->mac_len)",
        "memcmp(mac, rdata + dlen, sess->mac_len) != 0")})
    problems = scan(bad)
    assert any("scp03_sm.c: 1 x memcmp()" in p for p in problems), problems
    assert any("scp03_sm.c: 0 scb__ct_equal" in p for p in problems), problems
    assert any("keys.c" in p for p in scan(dict(src, **{"keys.c": src["keys.c"] + "\nint f(void) { return strcmp(a, b); }\n"})))
    assert any("pkcs15.c: 5 x memcmp" in p for p in scan(dict(src, **{"pkcs15.c": src["pkcs15.c"] + "\nint g(void) { return memcmp (a, b, 3); }\n"})))
    # comments and strings do not count
    assert scan(dict(src, **{"keys.c": src["keys.c"] + '\n/* memcmp(a, b) */ static const char *s = "strcmp(";\n'})) == []
    assert any("CRYPTO_memcmp" in p for p in scan(dict(src, **{"crypto.c": src["crypto.c"].replace("return CRYPTO_memcmp(a, b, len) == 0;", "return a == b;")})))
