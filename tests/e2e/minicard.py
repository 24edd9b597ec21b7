#!/usr/bin/python3
"""A minimal card process for the vpcd driver (vsmartcard protocol), used by
the foundation's PC/SC test. It is deliberately tiny and independent of the
C code: frames are a 2-byte big-endian length + payload; 1-byte payloads
are control (00 off, 01 on, 02 reset, 04 ATR); anything longer is an APDU.

APDUs it knows:
  00 A4 04 0C 05 A0 00 00 00 01   -> 90 00
  00 B0 hi lo Le                  -> Le bytes (offset + i) & 0xFF, 90 00
  00 70 00 00 01                  -> 01 90 00 (MANAGE CHANNEL open)
  00 70 80 xx                     -> 90 00 (close)
  (channel bits of CLA 0x-3x are ignored)
  00 C0 00 00 Le                  -> pending data (after 61xx)
  80 CA 00 FE 00                  -> 61 04, then GET RESPONSE gives DE AD BE EF
  FF EE 00 00                     -> the card process exits (card removed)
  anything else                   -> 6D 00
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "pcsc"))
from vpcd_link import serve  # noqa: E402

# T=1; historical bytes 80 73 C8 21 40: card capabilities with extended Lc/Le; TCK 5E
ATR = bytes.fromhex("3B85800180 73C82140 5E".replace(" ", ""))


def respond(apdu, state):
    if apdu[0] != 0xFF and apdu[0] & 0x40 == 0:
        apdu = bytes([apdu[0] & 0xFC]) + apdu[1:]  # channels 0-3: ignore the channel bits
    if apdu[:5] == bytes.fromhex("00A4040C05") and apdu[5:10] == bytes.fromhex("A000000001"):
        return bytes.fromhex("9000")
    if apdu[:2] == b"\x00\xB0" and len(apdu) == 5:
        off = apdu[2] << 8 | apdu[3]
        le = apdu[4] or 256
        return bytes((off + i) & 0xFF for i in range(le)) + b"\x90\x00"
    if apdu == bytes.fromhex("0070000001"):
        return bytes.fromhex("019000")
    if apdu[:3] == bytes.fromhex("007080") and len(apdu) == 4:
        return bytes.fromhex("9000")
    if apdu == bytes.fromhex("80CA00FE00"):
        state["pending"] = bytes.fromhex("DEADBEEF")
        return bytes.fromhex("6104")
    if apdu[:4] == bytes.fromhex("00C00000") and state.get("pending"):
        data, state["pending"] = state["pending"], None
        return data + b"\x90\x00"
    if apdu[:4] == bytes.fromhex("FFEE0000"):
        raise SystemExit(0)
    return bytes.fromhex("6D00")


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 35963
    state = {}
    serve(port, ATR, lambda apdu: respond(apdu, state))


if __name__ == "__main__":
    main()
