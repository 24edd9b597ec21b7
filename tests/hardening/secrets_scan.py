"""Find key material in text: the shared check of the secret-hygiene tests.

Any text the project shows a person or a log - trace lines (-d), error
messages, exception texts, JSON and table output - is searched for every
secret the test knows, in every rendering a leak could take: hex (upper or
lower case, with or without spaces or colons), base64, the raw bytes, or
Python's repr of a bytes object.
A secret counts as found when any 8 consecutive bytes of it appear (a
truncated line leaking half a key is still a leak).

    s = Secrets()
    s.add("static ENC", enc_bytes)
    s.add_sessions_from_trace(trace_text, Keys(enc, mac, dek, kvn))
    assert s.find(text) == []

The bindings' tests use the same module for their exception and log texts
(see README.md "Secret hygiene: hooks").
"""
from __future__ import annotations

import base64
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pyhost"))
from scp03host import Keys, session_keys  # noqa: E402  (independent SCP03 host)

WINDOW = 8


def _escaped(chunk: bytes, quote: str) -> str:
    """chunk as it appears inside Python's repr of a bytes object quoted
    with `quote`: printable ASCII as it is, a backslash before a backslash
    or the quote, the escapes of tab, newline and CR, else backslash-x NN."""
    out = []
    for b in chunk:
        c = chr(b)
        if c in ("\\", quote):
            out.append("\\" + c)
        elif c in "\t\n\r":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r"}[c])
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _renderings(chunk: bytes) -> list[str]:
    hx = chunk.hex()
    forms = [hx, hx.upper()]
    for sep in (" ", ":", "-"):
        forms.append(sep.join(f"{b:02x}" for b in chunk))
        forms.append(sep.join(f"{b:02X}" for b in chunk))
    forms.append(chunk.decode("latin-1"))
    forms += [_escaped(chunk, "'"), _escaped(chunk, '"')]   # repr(bytes) of a Python object
    return forms


class Secrets:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []

    def add(self, name: str, value: bytes) -> None:
        if len(value) < WINDOW:
            raise ValueError(f"{name}: secrets shorter than {WINDOW} bytes cannot be searched")
        self.items.append((name, bytes(value)))

    def add_keys(self, prefix: str, keys: Keys) -> None:
        self.add(f"{prefix} ENC", keys.enc)
        self.add(f"{prefix} MAC", keys.mac)
        if keys.dek:
            self.add(f"{prefix} DEK", keys.dek)

    def add_sessions_from_trace(self, trace: str, keys: Keys) -> int:
        """Every handshake a -d trace shows (INITIALIZE UPDATE command and
        answer): its session keys, derived independently. Returns how many."""
        found = 0
        lines = trace.splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"A>> ([89A-F][0-9A-F]) 50 ([0-9A-F]{2}) 00 (08|10) ((?:[0-9A-F]{2} ?)+)", line)
            if not m:
                continue
            n = int(m.group(3), 16)
            host = bytes.fromhex(m.group(4))[:n]
            for resp in lines[i + 1:i + 3]:
                r = re.match(r"A<< ((?:[0-9A-F]{2} ?)+)\(9000\)", resp)
                if r:
                    data = bytes.fromhex(r.group(1))
                    if len(data) >= 13 + 2 * n:
                        sk = session_keys(keys, host, data[13:13 + n])
                        self.add(f"session {found} S-ENC", sk.s_enc)
                        self.add(f"session {found} S-MAC", sk.s_mac)
                        self.add(f"session {found} S-RMAC", sk.s_rmac)
                        found += 1
                    break
        return found

    def find(self, text: str | bytes) -> list[str]:
        """Names of the secrets (and how) found in text; [] when clean."""
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        flat = re.sub(r"\s+", " ", text)
        b64_text = re.sub(r"\s+", "", text)
        hits = []
        for name, value in self.items:
            for off in range(0, len(value) - WINDOW + 1):
                chunk = value[off:off + WINDOW]
                if any(f in text or f in flat for f in _renderings(chunk)):
                    hits.append(f"{name} (bytes {off}..{off + WINDOW - 1})")
                    break
            else:
                b64 = base64.b64encode(value).decode()
                if b64[:12] in b64_text:
                    hits.append(f"{name} (base64)")
        return hits


def main(argv: list[str]) -> int:
    """Command line, for tests in other languages (the Lua binding's):

        secrets_scan.py [--secret NAME=HEX]... [--session-keys ENC:MAC]... FILE...

    Searches the files (trace, log, error texts: anything shown) for the
    secrets; --session-keys adds the session keys of every handshake a -d
    trace in the files shows, derived with those static keys. Prints what
    was found; exit status 1 when anything was, 0 when clean."""
    import argparse
    ap = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    ap.add_argument("--secret", action="append", default=[], metavar="NAME=HEX")
    ap.add_argument("--session-keys", action="append", default=[], metavar="ENC:MAC")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args(argv)
    text = "".join(pathlib.Path(f).read_bytes().decode("latin-1") for f in a.files)
    s = Secrets()
    for item in a.secret:
        name, _, hx = item.rpartition("=")
        s.add(name or hx, bytes.fromhex(hx))
    for pair in a.session_keys:
        enc, mac = (bytes.fromhex(x) for x in pair.split(":"))
        s.add_sessions_from_trace(text, Keys(enc, mac))
    hits = s.find(text)
    for h in hits:
        print(f"secret shown: {h}")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
