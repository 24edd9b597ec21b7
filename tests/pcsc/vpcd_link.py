"""The card side of the vpcd driver's socket (vsmartcard protocol), for the
small Python card processes of the tests (tests/e2e/minicard.py,
tests/pyhost/vpcd_card.py): frames are a 2-byte big-endian length +
payload; 1-byte payloads are control (00 off, 01 on, 02 reset, 04 ATR,
only the last answered); anything longer is an APDU."""
import socket
import struct


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        # vpcd sends the length and the payload in two writes: without a
        # quick ACK (Linux clears it after each ACK) the second waits for
        # the delayed ACK, ~40 ms per command
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def serve(port, atr, respond):
    """Connect to vpcd on loopback port and answer every APDU with
    respond(apdu) until vpcd closes the connection (or respond raises
    SystemExit: the card is pulled)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            (n,) = struct.unpack(">H", _recv_exact(sock, 2))
            payload = _recv_exact(sock, n)
            if n == 1:
                if payload[0] == 0x04:
                    sock.sendall(struct.pack(">H", len(atr)) + atr)
                continue  # power on/off/reset: no answer
            out = respond(payload)
            sock.sendall(struct.pack(">H", len(out)) + out)
    except EOFError:
        pass
    finally:
        sock.close()
