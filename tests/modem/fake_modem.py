#!/usr/bin/python3
"""fake_modem: a cellular modem that speaks AT on a pseudo-terminal, for the
tests of scboot's modem transport. Independent of the C code on purpose.

It answers AT, ATE<n>/ATV<n> (also combined), AT+CMEE=<n>, AT+CSIM
(27.007 8.17) and, unless told otherwise, AT+CCHO / AT+CGLA / AT+CCHC
(8.45, 8.43, 8.46), forwarding APDUs to a card: the small scripted UICC below, or
a process that reads one hex APDU per line and writes one hex response per
line (tests/modem/sim_stdio over the project's virtual UICC).

Like an MT of 27.007, +CCHO opens a channel on the card (MANAGE CHANNEL)
and selects the application on it, and +CGLA sets the channel bits of the
CLA of what it forwards to the session's channel (8.45: the MT manages the
logical channel part of the class byte).

Realism knobs: echo (on by default, as after power-up; ignore_ate0 keeps it
on), unsolicited result codes injected at random points between lines,
output written in random 1..7 byte pieces, a fixed verbose +CME format, a
modem that refuses MANAGE CHANNEL through +CSIM (ERROR, +CME ERROR: 3 or
SW 6D00), session ids that are not channel numbers, one that refuses SELECT
by AID through +CGLA (the application belongs to +CCHO), a modem with
channels of its own open on the card.

Every APDU a +CSIM or +CGLA line carried is kept in `apdus`, with what the
modem answered (None: refused or failed), to compare with what the library
says it sent.

Rules make chosen commands misbehave: (verb, nth, action) with verb like
"+CSIM" or "AT", nth counting that verb from 1 (0 = every time), action one
of "error", "cme:<n>", "stall" (never answer), "hangup" (close the pty
master: the modem went away), "delay:<ms>" (answer late), "raw:<text>"
(answer exactly <text> framed by CR LF).

As a program it prints the device path and serves until killed (or, with
--stdio-card, is the scripted card behind a pipe):
    fake_modem.py [--no-echo] [--urc-rate R] [--seed N] [--card-cmd "CMD ARGS"]
                  [--refuse-manage-channel error|cme|sw] [--no-cgla]
                  [--session-base N] [--rule VERB#N=ACTION] ...
"""
import argparse
import os
import random
import select
import shlex
import subprocess
import termios
import threading
import time
import tty

PKCS15_AID = bytes.fromhex("A000000063504B43532D3135")
URCS = ["+CREG: 1", "RING", '+CEREG: 5,"1A2B","01C2D3E4",7', "^SYSSTART", "",
        '+CMTI: "SM",3', '+QIND: "csq",20,99', "+CGEV: ME PDN ACT 1", "NO CARRIER"]
CME_TEXT = {3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
            13: "SIM failure", 14: "SIM busy", 22: "not found", 50: "Incorrect parameters",
            100: "unknown"}


def cla_channel(cla):
    """ISO 7816-4 5.4.1: logical channel number in CLA."""
    if cla & 0x40:
        return 4 + (cla & 0x0F)
    return cla & 0x03


def cla_for_channel(cla, ch):
    """CLA with its channel bits set to ch (secure messaging bits kept)."""
    prop = cla & 0x80
    if cla & 0x40:
        sm = bool(cla & 0x20)
    else:
        sm = bool(cla & 0x0C)
    if ch < 4:
        if not cla & 0x40:
            return (cla & 0xFC) | ch
        return prop | ((0x04 if prop else 0x08) if sm else 0) | ch
    return prop | 0x40 | (0x20 if sm else 0) | ((ch - 4) & 0x0F)


def sw(word):
    return bytes([word >> 8, word & 0xFF])


class ScriptedCard:
    """A tiny UICC: MF 3F00 and the PKCS#15 application with EF 5031 (an
    ODF) and EF 6432 (300 bytes), logical channels 0-3 with their own
    selection, MANAGE CHANNEL, SELECT (P2 04 FCP / 0C none), READ BINARY,
    GET RESPONSE. t0=True answers case-4 SELECTs with 61xx like a T=0 card."""

    EF_DATA = {0x5031: bytes.fromhex("A706300404026432"),
               0x6432: bytes((i * 7 + 3) & 0xFF for i in range(300))}

    def __init__(self, t0=False, preopen=()):
        self.t0 = t0
        self.channels = {0: {"adf": False, "ef": None}}
        for ch in preopen:
            self.channels[ch] = {"adf": False, "ef": None}
        self.pending = {}
        self.log = []

    def close(self):
        pass

    def process(self, apdu):
        self.log.append(apdu)
        if len(apdu) < 4:
            return sw(0x6700)
        cla, ins, p1, p2 = apdu[:4]
        ch = cla_channel(cla)
        if ch not in self.channels:
            return sw(0x6881)
        body = apdu[4:]
        data, le = b"", None
        if len(body) == 1:
            le = body[0] or 256
        elif len(body) > 1:
            lc = body[0]
            data = body[1:1 + lc]
            if len(body) == 2 + lc:
                le = body[-1] or 256
            elif len(body) != 1 + lc:
                return sw(0x6700)
        if ins == 0xC0:
            return self.get_response(ch, le or 256)
        self.pending.pop(ch, None)
        if ins == 0x70:
            return self.manage_channel(ch, p1, p2)
        if ins == 0xA4:
            return self.select(ch, p1, p2, data, le)
        if ins == 0xB0:
            return self.read_binary(ch, (p1 << 8) | p2, le or 256)
        return sw(0x6D00)

    def manage_channel(self, ch, p1, p2):
        if p1 == 0x00 and p2 == 0x00:
            for n in range(1, 4):
                if n not in self.channels:
                    self.channels[n] = {"adf": False, "ef": None}
                    return bytes([n]) + sw(0x9000)
            return sw(0x6A81)
        if p1 == 0x80:
            target = p2 or ch
            if target == 0 or target not in self.channels:
                return sw(0x6881)
            del self.channels[target]
            self.pending.pop(target, None)
            return sw(0x9000)
        return sw(0x6A86)

    def fcp(self, state):
        if state["ef"] is not None:
            fid = state["ef"]
            size = len(self.EF_DATA[fid])
            body = bytes.fromhex("82024121") + b"\x83\x02" + fid.to_bytes(2, "big") + \
                b"\x80\x02" + size.to_bytes(2, "big")
        else:
            body = bytes.fromhex("82027821") + b"\x84" + bytes([len(PKCS15_AID)]) + PKCS15_AID
        return b"\x62" + bytes([len(body)]) + body

    def select(self, ch, p1, p2, data, le):
        state = self.channels[ch]
        if p1 == 0x04:
            if data != PKCS15_AID[:len(data)] or not data:
                return sw(0x6A82)
            state["adf"], state["ef"] = True, None
        elif p1 == 0x00 and data == b"\x3F\x00":
            state["adf"], state["ef"] = False, None
        elif p1 == 0x00 and len(data) == 2:
            fid = int.from_bytes(data, "big")
            if not state["adf"] or fid not in self.EF_DATA:
                return sw(0x6A82)
            state["ef"] = fid
        else:
            return sw(0x6A86)
        if p2 & 0x0C == 0x0C:
            return sw(0x9000)
        out = self.fcp(state)
        if self.t0 and le is not None:
            self.pending[ch] = out
            return bytes([0x61, len(out)])
        return out + sw(0x9000)

    def read_binary(self, ch, offset, le):
        ef = self.channels[ch]["ef"]
        if ef is None:
            return sw(0x6986)
        content = self.EF_DATA[ef]
        if offset > len(content):
            return sw(0x6B00)
        chunk = content[offset:offset + le]
        return chunk + sw(0x9000 if len(chunk) == le else 0x6282)

    def get_response(self, ch, le):
        data = self.pending.pop(ch, None)
        if data is None:
            return sw(0x6985)
        out, rest = data[:le], data[le:]
        if rest:
            self.pending[ch] = rest
            return out + bytes([0x61, min(len(rest), 255)])
        return out + sw(0x9000)


class ProcessCard:
    """A card behind a pipe: one hex APDU per line in, one hex response out."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.log = []

    def process(self, apdu):
        self.log.append(apdu)
        if self.proc.stdin.closed or self.proc.poll() is not None:
            raise EOFError("card process ended")
        self.proc.stdin.write(apdu.hex().upper() + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError("card process ended")
        return bytes.fromhex(line.strip())

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class FakeModem:
    def __init__(self, card=None, echo=True, ignore_ate0=False, urc_rate=0.0, split=True,
                 seed=0, refuse_manage_channel=None, cgla=True, session_base=0,
                 cgla_refuse_select=False, ccho_bare=True, cmee_fixed=None, rules=()):
        self.card = card if card is not None else ScriptedCard()
        self.echo = echo
        self.ignore_ate0 = ignore_ate0
        self.urc_rate = urc_rate
        self.split = split
        self.rng = random.Random(seed)
        self.refuse_manage_channel = refuse_manage_channel
        self.cgla = cgla
        self.session_base = session_base
        self.cgla_refuse_select = cgla_refuse_select
        self.ccho_bare = ccho_bare
        self.cmee = cmee_fixed if cmee_fixed is not None else 0
        self.cmee_fixed = cmee_fixed is not None
        self.rules = list(rules)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.log = []          # command lines received
        self.apdus = []        # (verb, session, command, response or None) of +CSIM / +CGLA
        self.line_attrs = None  # the port's termios when the first command came
        self.sessions = {}     # session id -> card channel
        self.counts = {}
        self.hung = False
        self._stop = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        self._thread.join(5)
        if not self.hung:
            os.close(self.master)
        os.close(self.slave)
        self.card.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def commands(self, verb):
        """The received command lines with this verb ("+CSIM", "AT", ...)."""
        return [line for line in self.log if self._verb(line) == verb]

    # -- I/O -----------------------------------------------------------------
    def _write(self, data):
        if self.hung:
            return
        if not self.split:
            os.write(self.master, data)
            return
        i = 0
        while i < len(data):
            n = self.rng.randint(1, 7)
            os.write(self.master, data[i:i + n])
            i += n
            if self.rng.random() < 0.2:
                time.sleep(0.0005)

    def _urc(self):
        if self.urc_rate and self.rng.random() < self.urc_rate:
            return "\r\n" + self.rng.choice(URCS) + "\r\n"
        return ""

    def _reply(self, info_lines, final):
        out = self._urc()
        for line in info_lines:
            out += "\r\n" + line + "\r\n" + self._urc()
        out += "\r\n" + final + "\r\n" + self._urc()
        self._write(out.encode("latin-1"))

    def _cme(self, n):
        if self.cmee == 0:
            return "ERROR"
        if self.cmee == 2:
            return "+CME ERROR: " + CME_TEXT.get(n, "unknown")
        return "+CME ERROR: %d" % n

    def _run(self):
        buf = b""
        while not self._stop and not self.hung:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                time.sleep(0.01)
                continue
            if self.echo:
                self._write(data)
            buf += data
            while not self.hung:
                cut = [i for i in (buf.find(b"\r"), buf.find(b"\n")) if i >= 0]
                if not cut:
                    break
                line, buf = buf[:min(cut)], buf[min(cut) + 1:]
                text = line.decode("latin-1").strip()
                if text:
                    self._handle(text)

    # -- commands ------------------------------------------------------------
    @staticmethod
    def _verb(line):
        u = line.upper()
        if u.startswith("AT+") or u.startswith("AT^"):
            end = len(u)
            for c in "=?":
                if c in u:
                    end = min(end, u.index(c))
            return u[2:end]
        return u

    def _rule(self, verb, n):
        for rverb, nth, action in self.rules:
            if rverb == verb and (nth == 0 or nth == n):
                return action
        return None

    def _handle(self, line):
        self.log.append(line)
        if self.line_attrs is None:
            self.line_attrs = termios.tcgetattr(self.slave)
        verb = self._verb(line)
        n = self.counts[verb] = self.counts.get(verb, 0) + 1
        action = self._rule(verb, n)
        if action is not None:
            if action == "stall":
                return
            if action == "hangup":
                self.hung = True
                os.close(self.master)
                return
            if action == "error":
                self._reply([], "ERROR")
                return
            if action.startswith("cme:"):
                self._reply([], self._cme(int(action[4:])))
                return
            if action.startswith("raw:"):
                self._write(("\r\n" + action[4:] + "\r\n").encode("latin-1"))
                return
            if action.startswith("delay:"):
                time.sleep(int(action[6:]) / 1000.0)
        try:
            self._dispatch(line, verb)
        except (ValueError, IndexError):
            self._reply([], "ERROR")
        except (EOFError, BrokenPipeError):
            self._reply([], self._cme(10))  # the card process is gone: SIM not inserted

    def _dispatch(self, line, verb):
        u = line.upper()
        if verb == "AT":
            self._reply([], "OK")
        elif u.startswith("AT") and not u.startswith("AT+") and all(
                c in "EV01" for c in u[2:]):
            i = 2
            while i + 1 < len(u):
                if u[i] == "E" and not self.ignore_ate0:
                    self.echo = u[i + 1] == "1"
                i += 2
            self._reply([], "OK")
        elif u.startswith("AT+CMEE="):
            if not self.cmee_fixed:
                self.cmee = int(u[8:])
            self._reply([], "OK")
        elif u == "AT+CSIM=?":
            self._reply([], "OK")
        elif u.startswith("AT+CSIM="):
            self._csim(line[8:])
        elif u in ("AT+CCHO=?", "AT+CGLA=?", "AT+CCHC=?"):
            self._reply([], "OK" if self.cgla else "ERROR")
        elif u.startswith("AT+CCHO=") and self.cgla:
            self._ccho(line[8:])
        elif u.startswith("AT+CGLA=") and self.cgla:
            self._cgla(line[8:])
        elif u.startswith("AT+CCHC=") and self.cgla:
            self._cchc(line[8:])
        else:
            self._reply([], "ERROR")

    @staticmethod
    def _hex_arg(text):
        text = text.strip()
        if len(text) < 2 or text[0] != '"' or text[-1] != '"':
            raise ValueError("not a quoted string")
        return bytes.fromhex(text[1:-1])

    def _apdu_args(self, text):
        length, hexarg = text.split(",", 1)
        apdu = self._hex_arg(hexarg)
        if int(length) != 2 * len(apdu):
            raise ValueError("length mismatch")
        return apdu

    def _csim(self, args):
        apdu = self._apdu_args(args)
        entry = ["+CSIM", None, apdu, None]
        self.apdus.append(entry)
        if len(apdu) >= 2 and apdu[1] == 0x70 and not apdu[0] & 0x80 and \
                self.refuse_manage_channel is not None:
            if self.refuse_manage_channel == "error":
                self._reply([], "ERROR")
            elif self.refuse_manage_channel == "cme":
                self._reply([], self._cme(3))
            else:
                entry[3] = sw(0x6D00)
                self._reply(['+CSIM: 4,"6D00"'], "OK")
            return
        resp = entry[3] = self.card.process(apdu)
        self._reply(['+CSIM: %d,"%s"' % (2 * len(resp), resp.hex().upper())], "OK")

    def _ccho(self, args):
        aid = self._hex_arg(args)
        resp = self.card.process(bytes.fromhex("0070000001"))
        if len(resp) != 3 or resp[1:] != b"\x90\x00":
            self._reply([], self._cme(4))
            return
        ch = resp[0]
        sel = bytes([cla_for_channel(0x00, ch), 0xA4, 0x04, 0x0C, len(aid)]) + aid
        r = self.card.process(sel)
        if r[-2:] != b"\x90\x00":
            self.card.process(bytes([0x00, 0x70, 0x80, ch]))
            self._reply([], self._cme(22 if r[-2:] == b"\x6A\x82" else 4))
            return
        session = ch + self.session_base
        self.sessions[session] = ch
        self._reply([str(session) if self.ccho_bare else "+CCHO: %d" % session], "OK")

    def _cgla(self, args):
        session, rest = args.split(",", 1)
        apdu = self._apdu_args(rest)
        entry = ["+CGLA", int(session), apdu, None]
        self.apdus.append(entry)
        ch = self.sessions.get(int(session))
        if ch is None:
            self._reply([], self._cme(21))
            return
        if self.cgla_refuse_select and apdu[1] == 0xA4 and apdu[2] == 0x04:
            self._reply([], self._cme(4))
            return
        resp = entry[3] = self.card.process(bytes([cla_for_channel(apdu[0], ch)]) + apdu[1:])
        self._reply(['+CGLA: %d,"%s"' % (2 * len(resp), resp.hex().upper())], "OK")

    def _cchc(self, args):
        ch = self.sessions.pop(int(args), None)
        if ch is None:
            self._reply([], self._cme(21))
            return
        self.card.process(bytes([0x00, 0x70, 0x80, ch]))
        self._reply([], "OK")


def parse_rule(text):
    """'+CSIM#2=cme:13' -> ('+CSIM', 2, 'cme:13'); '#N' optional (every time)."""
    head, action = text.split("=", 1)
    verb, _, nth = head.partition("#")
    return (verb.upper(), int(nth) if nth else 0, action)


def serve_stdio_card():
    """The scripted card as a card process (the protocol of ProcessCard)."""
    import sys
    card = ScriptedCard()
    for line in sys.stdin:
        if line.strip():
            print(card.process(bytes.fromhex(line.strip())).hex().upper(), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stdio-card", action="store_true",
                    help="be the scripted card on stdin/stdout instead of a modem")
    ap.add_argument("--no-echo", action="store_true")
    ap.add_argument("--urc-rate", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--card-cmd", help="card process: hex APDU lines in, hex responses out")
    ap.add_argument("--refuse-manage-channel", choices=["error", "cme", "sw"])
    ap.add_argument("--no-cgla", action="store_true")
    ap.add_argument("--session-base", type=int, default=0)
    ap.add_argument("--rule", action="append", default=[])
    a = ap.parse_args()
    if a.stdio_card:
        serve_stdio_card()
        return
    card = ProcessCard(shlex.split(a.card_cmd)) if a.card_cmd else None
    modem = FakeModem(card=card, echo=not a.no_echo, urc_rate=a.urc_rate, seed=a.seed,
                      refuse_manage_channel=a.refuse_manage_channel, cgla=not a.no_cgla,
                      session_base=a.session_base, rules=[parse_rule(r) for r in a.rule])
    print(modem.path, flush=True)
    modem.start()
    try:
        while not modem.hung:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    modem.stop()


if __name__ == "__main__":
    main()
