#!/usr/bin/python3
"""A small SCP03 card for the vpcd driver (vsmartcard protocol: frames of a
2-byte big-endian length + payload; 1-byte payloads are control: 00 off,
01 on, 02 reset, 04 ATR). Built on the card side of scp03host, so it checks
hosts (the Python one through pyscard, or any other) over a real pcscd.

    vpcd_card.py PORT ENC MAC KVN I      (keys in hex, KVN and i in hex)

The card is scp03host.EmulatedCard: INITIALIZE UPDATE and EXTERNAL
AUTHENTICATE as the spec says; afterwards every command is unwrapped and
answered with its data reversed + 9000, wrapped at the session's level.
Without a session: 6985.
"""
import pathlib
import sys

import scp03host as h

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pcsc"))
from vpcd_link import serve  # noqa: E402

ATR = bytes.fromhex("3B85800180 73C82140 5E".replace(" ", ""))


def main():
    port, enc, mac, kvn, i = sys.argv[1:6]
    keys = h.Keys(bytes.fromhex(enc), bytes.fromhex(mac), None, int(kvn, 16))
    card = h.EmulatedCard(keys, i=int(i, 16))  # answers each command's data reversed
    serve(int(port), ATR, card)


if __name__ == "__main__":
    main()
