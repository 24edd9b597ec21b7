"""An independent SCP03 host (GlobalPlatform Card Spec 2.2 Amendment D).

Written from GlobalPlatform Amendment D and NIST SP 800-108/38B, not
from the C library, so the two can check each other. Uses Debian's
python3-cryptography (run with /usr/bin/python3).

    host = SCP03Host(transmit, Keys(enc, mac, dek, kvn), level=0x33)
    host.open()                      # INITIALIZE UPDATE + EXTERNAL AUTHENTICATE
    resp = host.transmit(apdu)       # wrap, send, verify/decrypt; data + SW

`transmit` is any callable bytes -> bytes (command APDU -> response data +
SW); pcsc_transmit() makes one over pyscard for a PC/SC reader.

Also here: KDF, session keys, cryptograms, pseudo-random card challenge,
KCV, DEK key encryption, KDF3 diversification, PUT KEY data, and the card
side of secure messaging (CardSession) for building test traces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

# ---------------------------------------------------------------- errors


class SCP03Error(Exception):
    """Base class; `code` names the matching scboot error (SCB_E_*)."""

    code = "SCB_E_SCP_PROTOCOL"


class ProtocolError(SCP03Error):
    code = "SCB_E_SCP_PROTOCOL"


class CardCryptogramError(SCP03Error):
    code = "SCB_E_SCP_CARD_CRYPTOGRAM"


class RMACError(SCP03Error):
    code = "SCB_E_SCP_RMAC"


class PaddingError(SCP03Error):
    code = "SCB_E_SCP_PADDING"


class KVNError(SCP03Error):
    code = "SCB_E_SCP_KVN"


class LevelError(SCP03Error):
    code = "SCB_E_SCP_LEVEL"


class ModeError(SCP03Error):
    code = "SCB_E_SCP_MODE"


class ChallengeError(SCP03Error):
    code = "SCB_E_SCP_CHALLENGE"


class NoSessionError(SCP03Error):
    code = "SCB_E_SCP_NO_SESSION"


class AuthRejectedError(SCP03Error):
    code = "SCB_E_SCP_AUTH_REJECTED"


class TooLongError(SCP03Error):
    code = "SCB_E_SCP_TOO_LONG"


class CMACError(SCP03Error):
    """Card side: a command's C-MAC does not verify."""

    code = "C-MAC"


# ---------------------------------------------------------------- primitives

SL_CMAC, SL_CDEC, SL_RMAC, SL_RENC = 0x01, 0x02, 0x10, 0x20
LEVELS = (0x00, 0x01, 0x03, 0x11, 0x13, 0x33)

# derivation constants (Amd D 4.1.5)
DC_CARD_CRYPTOGRAM, DC_HOST_CRYPTOGRAM, DC_CARD_CHALLENGE = 0x00, 0x01, 0x02
DC_S_ENC, DC_S_MAC, DC_S_RMAC = 0x04, 0x06, 0x07

# "i" parameter bits
I_S16, I_PSEUDO_RANDOM, I_RMAC, I_RENC = 0x01, 0x10, 0x20, 0x60


def cmac(key: bytes, data: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def aes_block(key: bytes, block: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()


def cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    assert len(data) % 16 == 0
    e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return e.update(data) + e.finalize()


def cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    assert len(data) % 16 == 0
    d = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return d.update(data) + d.finalize()


def kdf(key: bytes, constant: int, context: bytes, bits: int) -> bytes:
    """SP 800-108 counter mode, PRF = AES-CMAC; derivation data is
    label (11 x 00) || constant || 00 || L (16-bit) || i || context."""
    out = b""
    i = 1
    while len(out) * 8 < bits:
        data = bytes(11) + bytes([constant, 0]) + bits.to_bytes(2, "big") + bytes([i]) + context
        out += cmac(key, data)
        i += 1
    return out[: bits // 8]


def kcv(key: bytes) -> bytes:
    return aes_block(key, b"\x01" * 16)[:3]


def dek_encrypt(dek: bytes, key: bytes) -> bytes:
    """AES-CBC, zero IV; a 24-byte key is zero-padded to 32 (our choice)."""
    padded = key + bytes(-len(key) % 16)
    return cbc_encrypt(dek, bytes(16), padded)


def kdf3(master: bytes, kdd: bytes, key_type: int) -> bytes:
    """KDF3 (GlobalPlatformPro): block i = CMAC(master, i||000000||t||00||KDD)."""
    out = b""
    i = 1
    while len(out) < len(master):
        out += cmac(master, bytes([i, 0, 0, 0, key_type, 0]) + kdd)
        i += 1
    return out[: len(master)]


@dataclass
class Keys:
    enc: bytes
    mac: bytes
    dek: bytes | None = None
    kvn: int = 0

    def diversify_kdf3(self, kdd: bytes) -> "Keys":
        return Keys(
            kdf3(self.enc, kdd, 1),
            kdf3(self.mac, kdd, 2),
            kdf3(self.dek, kdd, 3) if self.dek else None,
            self.kvn,
        )


@dataclass
class SessionKeys:
    s_enc: bytes
    s_mac: bytes
    s_rmac: bytes
    card_cryptogram: bytes
    host_cryptogram: bytes


def session_keys(keys: Keys, host_challenge: bytes, card_challenge: bytes) -> SessionKeys:
    assert len(host_challenge) == len(card_challenge) in (8, 16)
    ctx = host_challenge + card_challenge
    bits = len(keys.enc) * 8
    s_enc = kdf(keys.enc, DC_S_ENC, ctx, bits)
    s_mac = kdf(keys.mac, DC_S_MAC, ctx, bits)
    s_rmac = kdf(keys.mac, DC_S_RMAC, ctx, bits)
    cg_bits = len(host_challenge) * 8
    return SessionKeys(
        s_enc,
        s_mac,
        s_rmac,
        kdf(s_mac, DC_CARD_CRYPTOGRAM, ctx, cg_bits),
        kdf(s_mac, DC_HOST_CRYPTOGRAM, ctx, cg_bits),
    )


def card_challenge(enc: bytes, seq: bytes, sd_aid: bytes, s16: bool) -> bytes:
    return kdf(enc, DC_CARD_CHALLENGE, seq + sd_aid, 128 if s16 else 64)


def put_key_data(dek: bytes, new: Keys) -> bytes:
    """PUT KEY data (P2 = 81): new KVN || per key 88 L+1 L <enc> 03 <KCV>."""
    out = bytes([new.kvn])
    for key in (new.enc, new.mac, new.dek):
        enc = dek_encrypt(dek, key)
        out += bytes([0x88, len(enc) + 1, len(key)]) + enc + b"\x03" + kcv(key)
    return out


# ---------------------------------------------------------------- APDUs


@dataclass
class Command:
    """An ISO 7816-4 command APDU; ne is None when there is no Le."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None
    extended: bool = False

    @classmethod
    def parse(cls, b: bytes) -> "Command":
        if len(b) < 4:
            raise ValueError("command shorter than a header")
        h, body = b[:4], b[4:]
        c = cls(h[0], h[1], h[2], h[3])
        if not body:
            return c
        if len(body) == 1:  # case 2S
            c.ne = body[0] or 256
            return c
        if body[0] != 0:  # short Lc
            n = body[0]
            if len(body) == 1 + n:
                c.data = body[1:]
            elif len(body) == 2 + n:
                c.data, c.ne = body[1:-1], body[-1] or 256
            else:
                raise ValueError("short Lc does not match the length")
            return c
        c.extended = True
        if len(body) == 3:  # case 2E
            c.ne = int.from_bytes(body[1:3], "big") or 65536
            return c
        n = int.from_bytes(body[1:3], "big")
        if n == 0:
            raise ValueError("extended Lc 0")
        if len(body) == 3 + n:
            c.data = body[3:]
        elif len(body) == 5 + n:
            c.data, c.ne = body[3:-2], int.from_bytes(body[-2:], "big") or 65536
        else:
            raise ValueError("extended Lc does not match the length")
        return c

    def needs_extended(self) -> bool:
        return self.extended or len(self.data) > 255 or (self.ne or 0) > 256

    def encode(self) -> bytes:
        out = bytes([self.cla, self.ins, self.p1, self.p2])
        ext = self.needs_extended()
        if self.data:
            out += (b"\x00" + len(self.data).to_bytes(2, "big")) if ext else bytes([len(self.data)])
            out += self.data
        if self.ne is not None:
            if ext:
                out += (b"\x00" if not self.data else b"") + (self.ne % 65536).to_bytes(2, "big")
            else:
                out += bytes([self.ne % 256])
        return out


def cla_for_channel(cla: int, channel: int) -> int:
    """ISO 7816-4 5.4.1: channels 0-3 in b2-b1 (SM in b4-b3, GP uses b3);
    channels 4-19 in b4-b1 as channel-4 with b7 set, SM in b6. `cla` is
    given in the first interindustry form without channel."""
    sm = bool(cla & 0x0C)
    if channel < 4:
        return (cla & 0xFC) | channel
    return (cla & 0x80) | 0x40 | (0x20 if sm else 0) | (cla & 0x10) | (channel - 4)


def cla_has_sm(cla: int) -> bool:
    """SM indication: b4-b3 (first interindustry) or b6 (further)."""
    return bool(cla & 0x20) if cla & 0x40 else bool(cla & 0x0C)


def mac_cla(wire_cla: int, as_sent: bool) -> int:
    """CLA in the C-MAC: GlobalPlatform clears the logical channel number
    (b2-b1 first interindustry, b4-b1 further interindustry); as_sent: the
    wire CLA unchanged (what several hosts do)."""
    if as_sent:
        return wire_cla
    return wire_cla & (0xF0 if wire_cla & 0x40 else 0xFC)


def sw_has_rmac(sw: int) -> bool:
    return sw == 0x9000 or (sw >> 8) in (0x62, 0x63)


def pad80(data: bytes) -> bytes:
    return data + b"\x80" + bytes(-(len(data) + 1) % 16)


def unpad80(data: bytes) -> bytes:
    """Lenient: strip trailing zeros down to the 80 marker (possibly over
    more than one block); no marker is an error."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise PaddingError("no 80 padding marker in the decrypted response")
    return stripped[:-1]


# ---------------------------------------------------------------- secure messaging


@dataclass
class Session:
    """The state both ends keep: session keys, MAC chaining value, counter."""

    keys: SessionKeys
    level: int
    s16: bool
    count_data_only: bool = False
    mac_cla_as_sent: bool = False
    mcv: bytes = bytes(16)
    counter: int = 0

    @property
    def mac_len(self) -> int:
        return 16 if self.s16 else 8

    def icv(self, response: bool) -> bytes:
        block = bytearray(self.counter.to_bytes(16, "big"))
        if response:
            block[0] = 0x80
        return aes_block(self.keys.s_enc, bytes(block))

    def c_mac(self, cla: int, c: Command, body: bytes, extended: bool) -> bytes:
        lc = len(body) + self.mac_len
        lc_field = (b"\x00" + lc.to_bytes(2, "big")) if extended else bytes([lc])
        hdr = bytes([cla, c.ins, c.p1, c.p2]) + lc_field
        return cmac(self.keys.s_mac, self.mcv + hdr + body)

    def r_mac(self, data: bytes, sw: int) -> bytes:
        return cmac(self.keys.s_rmac, self.mcv + data + sw.to_bytes(2, "big"))[: self.mac_len]


class SCP03Host:
    """Host side: handshake, then wrap/unwrap every command."""

    def __init__(
        self,
        transmit,
        keys: Keys,
        *,
        level: int = 0x33,
        s16: bool = False,
        kvn: int | None = None,
        host_challenge: bytes | None = None,
        sd_aid: bytes | None = None,
        kdf3: bool = False,
        count_data_only: bool = False,
        mac_cla_as_sent: bool = False,
        channel: int = 0,
        extended_ok: bool = False,
    ):
        if level not in LEVELS:
            raise ValueError(f"level {level:02X} not one of {LEVELS}")
        self._transmit = transmit
        self.static = keys
        self.level = level
        self.s16 = s16
        self.kvn = keys.kvn if kvn is None else kvn
        self.host_challenge = host_challenge
        self.sd_aid = sd_aid
        self.kdf3 = kdf3
        self.count_data_only = count_data_only
        self.mac_cla_as_sent = mac_cla_as_sent
        self.channel = channel
        self.extended_ok = extended_ok
        self.session: Session | None = None
        self.info: dict = {}
        self.trace: list[tuple[bytes, bytes]] = []  # wire (command, response)

    # -- plumbing
    def _send(self, cmd: bytes) -> bytes:
        resp = self._transmit(cmd)
        self.trace.append((cmd, resp))
        if len(resp) < 2:
            raise ProtocolError("response without status word")
        return resp

    # -- handshake
    def open(self, no_extauth: bool = False) -> None:
        self.session = None
        n = 16 if self.s16 else 8
        hc = self.host_challenge if self.host_challenge is not None else os.urandom(n)
        if len(hc) != n:
            raise ValueError("host challenge length does not match the mode")
        iu = Command(cla_for_channel(0x80, self.channel), 0x50, self.kvn, 0x00, hc, ne=256)
        r = self._send(iu.encode())
        data, sw = r[:-2], int.from_bytes(r[-2:], "big")
        if sw != 0x9000:
            raise ProtocolError(f"INITIALIZE UPDATE answered {sw:04X}")
        if len(data) < 13:
            raise ProtocolError(f"INITIALIZE UPDATE response of {len(data)} bytes")
        kdd, kvn, scp, i = data[:10], data[10], data[11], data[12]
        self.info = {"kdd": kdd, "kvn": kvn, "i": i}
        if scp != 0x03:
            raise ProtocolError(f"SCP {scp:02X} is not 03")
        if bool(i & I_S16) != self.s16:
            raise ModeError(f"card i={i:02X}, host {'S16' if self.s16 else 'S8'}")
        has_seq = bool(i & I_PSEUDO_RANDOM)
        if len(data) != 13 + 2 * n + (3 if has_seq else 0):
            raise ProtocolError(f"INITIALIZE UPDATE response of {len(data)} bytes for i={i:02X}")
        if self.kvn and kvn != self.kvn:
            raise KVNError(f"asked key version {self.kvn:02X}, got {kvn:02X}")
        cc, card_cg = data[13 : 13 + n], data[13 + n : 13 + 2 * n]
        seq = data[13 + 2 * n :] if has_seq else None
        self.info["seq"] = seq
        static = self.static.diversify_kdf3(kdd) if self.kdf3 else self.static
        if seq is not None and self.sd_aid is not None:
            if card_challenge(static.enc, seq, self.sd_aid, self.s16) != cc:
                raise ChallengeError("pseudo-random card challenge does not match")
        sk = session_keys(static, hc, cc)
        if sk.card_cryptogram != card_cg:
            raise CardCryptogramError("card cryptogram does not verify")
        self.derived = sk
        if no_extauth:
            return
        if (self.level & SL_RMAC) and not i & I_RMAC:
            raise LevelError(f"level {self.level:02X} needs R-MAC; card i={i:02X}")
        if (self.level & SL_RENC) and (i & I_RENC) != I_RENC:
            raise LevelError(f"level {self.level:02X} needs R-ENC; card i={i:02X}")
        sess = Session(sk, self.level, self.s16, self.count_data_only, self.mac_cla_as_sent)
        ea = Command(0x80, 0x82, self.level, 0x00, sk.host_cryptogram)
        wire = self._wrap(sess, ea, handshake=True)
        r = self._send(wire)
        if r[-2:] != b"\x90\x00":
            raise AuthRejectedError(f"EXTERNAL AUTHENTICATE answered {r[-2:].hex().upper()}")
        if len(r) != 2:
            raise ProtocolError("EXTERNAL AUTHENTICATE answered with data")
        self.session = sess

    # -- secure messaging
    def _wrap(self, sess: Session, c: Command, handshake: bool = False) -> bytes:
        level = SL_CMAC if handshake else sess.level
        if not level & SL_CMAC:
            c = Command(c.cla, c.ins, c.p1, c.p2, c.data, c.ne, c.extended)
            c.cla = cla_for_channel(c.cla, self.channel)
            return c.encode()
        if not handshake and (not sess.count_data_only or c.data):
            sess.counter += 1
        body = c.data
        if level & SL_CDEC and body:
            body = cbc_encrypt(sess.keys.s_enc, sess.icv(False), pad80(body))
        wire_cla = cla_for_channel(c.cla | 0x04, self.channel)
        lc = len(body) + sess.mac_len
        extended = c.extended or lc > 255 or (c.ne or 0) > 256
        if extended and not c.extended and not self.extended_ok:
            raise TooLongError(f"wrapped Lc {lc} needs extended length")
        full = sess.c_mac(mac_cla(wire_cla, sess.mac_cla_as_sent), c, body, extended)
        sess.mcv = full
        out = Command(wire_cla, c.ins, c.p1, c.p2, body + full[: sess.mac_len], c.ne, extended)
        return out.encode()

    def wrap(self, apdu: bytes) -> bytes:
        if self.session is None:
            raise NoSessionError("no secure channel session")
        return self._wrap(self.session, Command.parse(apdu))

    def unwrap(self, resp: bytes) -> bytes:
        sess = self.session
        if sess is None:
            raise NoSessionError("no secure channel session")
        data, sw = resp[:-2], int.from_bytes(resp[-2:], "big")
        try:
            if sess.level & SL_RMAC:
                if not sw_has_rmac(sw):
                    if data:
                        raise RMACError(f"status {sw:04X} carries no R-MAC but has data")
                    return resp
                if len(data) < sess.mac_len:
                    raise RMACError("response too short for an R-MAC")
                data, mac = data[: -sess.mac_len], data[-sess.mac_len :]
                if sess.r_mac(data, sw) != mac:
                    raise RMACError("R-MAC does not verify")
                if sess.level & SL_RENC and data:
                    if len(data) % 16:
                        raise PaddingError("encrypted data not a whole number of blocks")
                    data = unpad80(cbc_decrypt(sess.keys.s_enc, sess.icv(True), data))
            return data + resp[-2:]
        except SCP03Error:
            self.session = None  # never go on in clear or with a broken chain
            raise

    def transmit(self, apdu: bytes) -> bytes:
        wire = self.wrap(apdu)
        return self.unwrap(self._send(wire))


# ---------------------------------------------------------------- card side


@dataclass
class CardSession:
    """The card end of a session, for building traces and testing hosts:
    checks C-MAC, decrypts commands, MACs and encrypts responses."""

    session: Session

    @classmethod
    def after_handshake(cls, sk: SessionKeys, level: int, s16: bool, **kw) -> "CardSession":
        return cls(Session(sk, level, s16, **kw))

    def verify_external_authenticate(self, wire: bytes) -> None:
        c = Command.parse(wire)
        s = self.session
        body, mac = c.data[: -s.mac_len], c.data[-s.mac_len :]
        if body != s.keys.host_cryptogram:
            raise CardCryptogramError("host cryptogram")
        full = s.c_mac(mac_cla(c.cla, s.mac_cla_as_sent), c, body, c.extended)
        if full[: s.mac_len] != mac:
            raise CMACError("EXTERNAL AUTHENTICATE C-MAC")
        s.mcv = full

    def unwrap_command(self, wire: bytes) -> Command:
        """The plain command (CLA 0x80/0x00 style, no channel, no SM bit)."""
        c = Command.parse(wire)
        s = self.session
        if not s.level & SL_CMAC:
            return c
        if not s.count_data_only or len(c.data) > s.mac_len:
            s.counter += 1
        body, mac = c.data[: -s.mac_len], c.data[-s.mac_len :]
        full = s.c_mac(mac_cla(c.cla, s.mac_cla_as_sent), c, body, c.extended)
        if full[: s.mac_len] != mac:
            raise CMACError("C-MAC does not verify")
        s.mcv = full
        if s.level & SL_CDEC and body:
            body = unpad80(cbc_decrypt(s.keys.s_enc, s.icv(False), body))
        plain_cla = (c.cla & 0x80) if c.cla & 0x40 else (c.cla & 0xF0)
        return Command(plain_cla, c.ins, c.p1, c.p2, body, c.ne)

    def wrap_response(self, data: bytes, sw: int, pad_to: int | None = None) -> bytes:
        s = self.session
        swb = sw.to_bytes(2, "big")
        if not s.level & SL_RMAC or not sw_has_rmac(sw):
            assert s.level & SL_RMAC == 0 or not data, "error status carries no data"
            return data + swb
        if s.level & SL_RENC and data:
            padded = pad80(data)
            if pad_to is not None:
                padded += bytes(pad_to - len(padded))
            data = cbc_encrypt(s.keys.s_enc, s.icv(True), padded)
        return data + s.r_mac(data, sw) + swb


def iu_response(
    keys: Keys,
    host_challenge: bytes,
    *,
    i: int,
    kvn: int,
    kdd: bytes,
    card_chal: bytes | None = None,
    seq: bytes | None = None,
    sd_aid: bytes | None = None,
    kdf3_master: bool = False,
) -> tuple[bytes, SessionKeys]:
    """Card side of INITIALIZE UPDATE: the response data (without SW) and
    the session keys. The card challenge is card_chal, or else (i & 0x10)
    derived from seq and the SD AID; seq is appended when i has 0x10."""
    s16 = bool(i & I_S16)
    static = keys.diversify_kdf3(kdd) if kdf3_master else keys
    if card_chal is None:
        assert i & I_PSEUDO_RANDOM and seq is not None and sd_aid is not None
        card_chal = card_challenge(static.enc, seq, sd_aid, s16)
    assert len(card_chal) == len(host_challenge)
    assert bool(i & I_PSEUDO_RANDOM) == (seq is not None)
    sk = session_keys(static, host_challenge, card_chal)
    data = kdd + bytes([kvn, 0x03, i]) + card_chal + sk.card_cryptogram
    if i & I_PSEUDO_RANDOM:
        data += seq
    return data, sk


class EmulatedCard:
    """A card end for tests, callable like a transmit (command bytes ->
    response bytes): INITIALIZE UPDATE and EXTERNAL AUTHENTICATE as the spec
    says, then every command is unwrapped and handed to answer(Command) ->
    (data, sw), whose result is wrapped at the session's level. Without a
    session: 6985; a command that fails to verify ends the session: 6982.
    rng(n) supplies the KDD and random card challenges."""

    def __init__(self, keys: Keys, *, i: int, kvn: int | None = None, answer=None,
                 sd_aid: bytes = bytes.fromhex("A000000151000000"), kdf3: bool = False,
                 count_data_only: bool = False, mac_cla_as_sent: bool = False, rng=os.urandom):
        self.keys, self.i = keys, i
        self.kvn = keys.kvn if kvn is None else kvn
        self.answer = answer or (lambda c: (c.data[::-1], 0x9000))
        self.sd_aid, self.kdf3 = sd_aid, kdf3
        self.count_data_only, self.mac_cla_as_sent = count_data_only, mac_cla_as_sent
        self.rng = rng
        self.s16 = bool(i & I_S16)
        self.kdd = rng(10)
        self.seq = 0
        self.sk: SessionKeys | None = None
        self.session: CardSession | None = None

    def initialize_update(self, c: Command) -> bytes:
        n = 16 if self.s16 else 8
        # a host in the other mode sends the other length; answer in ours
        hc = c.data.ljust(n, b"\x00")[:n]
        seq = None
        if self.i & I_PSEUDO_RANDOM:
            self.seq += 1
            seq = self.seq.to_bytes(3, "big")
        data, self.sk = iu_response(
            self.keys, hc, i=self.i, kvn=self.kvn, kdd=self.kdd,
            card_chal=None if seq else self.rng(n), seq=seq, sd_aid=self.sd_aid,
            kdf3_master=self.kdf3)
        return data + b"\x90\x00"

    def respond(self, plain: Command) -> bytes:
        data, sw, *pad_to = self.answer(plain)
        return self.session.wrap_response(data, sw, pad_to[0] if pad_to else None)

    def __call__(self, wire: bytes) -> bytes:
        c = Command.parse(wire)
        if c.ins == 0x50 and not cla_has_sm(c.cla):
            self.session = None
            return self.initialize_update(c)
        if c.ins == 0x82 and self.sk is not None:
            s = CardSession(Session(self.sk, c.p1, self.s16, self.count_data_only,
                                    self.mac_cla_as_sent))
            self.sk = None
            try:
                s.verify_external_authenticate(wire)
            except SCP03Error:
                return bytes.fromhex("6300")
            self.session = s
            return b"\x90\x00"
        if self.session is None:
            return bytes.fromhex("6985")
        try:
            plain = self.session.unwrap_command(wire)
        except (SCP03Error, ValueError):
            self.session = None
            return bytes.fromhex("6982")
        return self.respond(plain)


def pcsc_transmit(reader_name: str | None = None):
    """A transmit callable over pyscard (python3-pyscard) for a PC/SC reader
    whose name contains reader_name (first reader with a card if None).
    Returns (transmit, connection); disconnect the connection when done."""
    from smartcard.System import readers

    candidates = [r for r in readers() if reader_name is None or reader_name in str(r)]
    if not candidates:
        raise ProtocolError(f"no PC/SC reader matches {reader_name!r}")
    conn = candidates[0].createConnection()
    conn.connect()

    def transmit(apdu: bytes) -> bytes:
        data, sw1, sw2 = conn.transmit(list(apdu))
        return bytes(data) + bytes([sw1, sw2])

    return transmit, conn
