#!/usr/bin/python3
"""A small SCP03 card for the vpcd driver (vsmartcard protocol: frames of a
2-byte big-endian length + payload; 1-byte payloads are control: 00 off,
01 on, 02 reset, 04 ATR). Built on the card side of scp03host, so it checks
hosts (the Python one through pyscard, or any other) over a real pcscd.

    vpcd_card.py PORT ENC MAC KVN I      (keys in hex, KVN and i in hex)

INITIALIZE UPDATE and EXTERNAL AUTHENTICATE as the spec says; afterwards
every command is unwrapped and answered with its data reversed + 9000,
wrapped at the session's level. Without a session: 6985.
"""
import os
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


class Card:
    def __init__(self, keys, i):
        self.keys, self.i = keys, i
        self.sk = None
        self.session = None
        self.seq = 0

    def respond(self, apdu):
        c = h.Command.parse(apdu)
        if c.ins == 0x50 and c.cla & 0xFC == 0x80:  # INITIALIZE UPDATE, any channel 0-3
            self.session = None
            self.seq += 1
            s16 = bool(self.i & h.I_S16)
            if len(c.data) != (16 if s16 else 8):
                return bytes.fromhex("6700")
            seq = self.seq.to_bytes(3, "big") if self.i & h.I_PSEUDO_RANDOM else None
            data, self.sk = h.iu_response(
                self.keys, c.data, i=self.i, kvn=self.keys.kvn, kdd=bytes(10),
                card_chal=None if seq else os.urandom(len(c.data)), seq=seq,
                sd_aid=bytes.fromhex("A000000151000000"))
            return data + b"\x90\x00"
        if c.ins == 0x82 and self.sk is not None:  # EXTERNAL AUTHENTICATE
            s = h.CardSession.after_handshake(self.sk, c.p1, bool(self.i & h.I_S16))
            self.sk = None
            try:
                s.verify_external_authenticate(apdu)
            except h.SCP03Error:
                return bytes.fromhex("6300")
            self.session = s
            return b"\x90\x00"
        if self.session is None:
            return bytes.fromhex("6985")
        try:
            plain = self.session.unwrap_command(apdu)
        except h.SCP03Error:
            self.session = None
            return bytes.fromhex("6982")
        return self.session.wrap_response(plain.data[::-1], 0x9000)


def main():
    port, enc, mac, kvn, i = sys.argv[1:6]
    keys = h.Keys(bytes.fromhex(enc), bytes.fromhex(mac), None, int(kvn, 16))
    card = Card(keys, int(i, 16))
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
            out = card.respond(payload)
            sock.sendall(struct.pack(">H", len(out)) + out)
    except EOFError:
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    main()
