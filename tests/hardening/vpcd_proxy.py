#!/usr/bin/python3
"""A hostile wire between pcscd's vpcd driver and a card process.

The card process (scboot sim --vpcd 127.0.0.1:LISTEN) connects here as if
this were vpcd; once it has, the proxy connects to the real vpcd port as
the card and passes frames both ways (vsmartcard framing: 2-byte length +
payload; 1-byte payloads are control codes). At APDU number AT (counting
from 1) it spoils the card's answer:

  truncate:K   the answer cut to its first K bytes (K >= 1; K 1: no status
               word. An empty answer makes vpcd wait for the card for ever.)
  sw61         61 10 instead, and 61 10 to every GET RESPONSE after it
  sw6c         6C 10 instead, and 6C 10 to the command resent after it
  mute         no answer at all: the card stops answering (vpcd then waits
               for ever; the host's own bound must end the wait)

    vpcd_proxy.py VPCD_PORT LISTEN_PORT AT MODE

Printed on stdout: "listening" once the card process may connect.
"""
import socket
import struct
import sys


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        # vpcd writes length and payload separately: ACK at once, or Linux
        # delays the payload ~40 ms (core/sim/PROFILE.md "vpcd")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        buf += chunk
    return buf


def recv_frame(sock):
    (n,) = struct.unpack(">H", recv_exact(sock, 2))
    return recv_exact(sock, n)


def send_frame(sock, payload):
    sock.sendall(struct.pack(">H", len(payload)) + payload)


def main():
    vpcd_port, listen_port, at, mode = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(1)
    print("listening", flush=True)
    card, _ = srv.accept()
    reader = socket.create_connection(("127.0.0.1", vpcd_port))
    for s in (card, reader):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    apdus = 0
    hostile = False  # after AT: every answer is the hostile one
    try:
        while True:
            frame = recv_frame(reader)
            if len(frame) == 1:
                send_frame(card, frame)
                if frame[0] == 0x04:  # ATR request: the card answers
                    send_frame(reader, recv_frame(card))
                continue
            apdus += 1
            if hostile and mode in ("sw61", "sw6c"):
                send_frame(reader, bytes.fromhex("6110" if mode == "sw61" else "6C10"))
                continue
            if apdus >= at and mode == "mute":
                continue  # swallowed: the card is mute from here on
            send_frame(card, frame)
            answer = recv_frame(card)
            if apdus == at:
                if mode.startswith("truncate:"):
                    answer = answer[:int(mode.split(":")[1])]
                elif mode in ("sw61", "sw6c"):
                    answer = bytes.fromhex("6110" if mode == "sw61" else "6C10")
                    hostile = True
            send_frame(reader, answer)
    except (EOFError, ConnectionError, OSError):
        pass
    finally:
        card.close()
        reader.close()
        srv.close()


if __name__ == "__main__":
    main()
