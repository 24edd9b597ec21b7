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
import socket
import struct
import sys

import scp03host as h

ATR = bytes.fromhex("3B85800180 73C82140 5E".replace(" ", ""))


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def main():
    port, enc, mac, kvn, i = sys.argv[1:6]
    keys = h.Keys(bytes.fromhex(enc), bytes.fromhex(mac), None, int(kvn, 16))
    card = h.EmulatedCard(keys, i=int(i, 16))  # answers each command's data reversed
    sock = socket.create_connection(("127.0.0.1", int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            (n,) = struct.unpack(">H", recv_exact(sock, 2))
            payload = recv_exact(sock, n)
            if n == 1:
                if payload[0] == 0x04:
                    sock.sendall(struct.pack(">H", len(ATR)) + ATR)
                continue
            out = card(payload)
            sock.sendall(struct.pack(">H", len(out)) + out)
    except EOFError:
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    main()
