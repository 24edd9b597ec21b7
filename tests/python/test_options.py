"""Options reach every job from Python: keyword arguments go through the C
library's option table, so kvn, sd_aid and host_challenge reach read,
write, rotate and app-open; an unknown option, or one outside the scope of
the call, is an error before the card is touched. And no job runs without
a session: the key probe is a call of its own, and a card that refuses
EXTERNAL AUTHENTICATE (or lacks R-ENC) gives a secure-channel error with
nothing sent to the bootstrap EF."""
import pytest

import scboot
from scboot import _scboot as c
from scboot._opts import c_options, option_names
from scboot.sim import VirtualCard

GP_KEY = "404142434445464748494A4B4C4D4E4F"
K2 = "202122232425262728292A2B2C2D2E2F"
K3 = "606162636465666768696A6B6C6D6E6F"
PKCS15_AID = "A000000063504B43532D3135"     # the card's Security Domain AID
OTHER_AID = "A000000151000000"              # the GP ISD: not this card's SD

# A card with two key sets: 30 (the GP test key) and 31 (K2). Key version
# 00 in INITIALIZE UPDATE selects the first (PROFILE.md).
TWO_SETS = {"scp03": {"keys": [
    {"kvn": 0x30, "enc": GP_KEY, "mac": GP_KEY, "dek": GP_KEY},
    {"kvn": 0x31, "enc": K2, "mac": K2, "dek": K2}]}}
DOC = {"security": [{"server_uri": "coaps://kvn.example.com", "bootstrap_server": True,
                     "security_mode": 3}]}

# INS bytes of the commands that touch the bootstrap EF or the key sets.
EF_INS = {"B0": "READ BINARY", "D6": "UPDATE BINARY", "D8": "PUT KEY"}


@pytest.fixture
def gp_keys():
    with scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30) as k:
        yield k


@pytest.fixture
def k2():
    """The second set's keys, labelled with no version: only kvn= finds them."""
    with scboot.Keys(K2, K2, K2) as k:
        yield k


class Wire:
    """The wire commands of a card, as (CLA, INS, P1) hex tokens of its trace."""

    def __init__(self, card):
        self.commands = []
        card.set_trace(self._line)

    def _line(self, kind, line):
        if kind == scboot.TraceKind.WIRE_CMD:
            self.commands.append(line.split()[1:4])   # "A>> CLA INS P1 ..."

    def ins(self):
        return [cmd[1] for cmd in self.commands]

    def initialize_update_kvns(self):
        return [int(cmd[2], 16) for cmd in self.commands if cmd[1] == "50"]


# ---- the table -----------------------------------------------------------

def a_value(info):
    if info.type == c.SCB_OPT_T_BYTES:
        return bytes(range(1, 1 + max(info.min, 8 if info.name == "host_challenge" else 0)))
    if info.type == c.SCB_OPT_T_BOOL:
        return True
    if info.type == c.SCB_OPT_T_ENUM:
        return c.scb_opt_choice(info.id, info.max)
    return 0x33 if info.name == "level" else info.max


def test_every_option_of_the_c_table_reaches_python():
    names = option_names()
    assert {"kvn", "sd_aid", "host_challenge", "pad", "replace_kvn", "baud",
            "modem_channels"} <= set(names)
    for name in names:
        opt = c.scb_opt_find(name)
        rc, info = c.scb_opt_info(opt)
        value = a_value(info)
        with c_options({name: value}) as o:
            assert c.scb_opts_is_set(o, opt), name
            if info.type in (c.SCB_OPT_T_INT, c.SCB_OPT_T_BOOL):
                assert c.scb_opts_get_int(o, opt) == [0, int(value)], name
            elif info.type == c.SCB_OPT_T_ENUM:
                assert c.scb_opts_get_int(o, opt) == [0, info.max], name


def test_value_types():
    with c_options({"aid": PKCS15_AID, "sd_aid": "A0:00:00:00:63 50 4B 43 53 2D 31 35",
                    "pin": "1234", "modem_channels": "cgla", "kvn": 0x31, "s16": False}) as o:
        for name in ("aid", "sd_aid", "pin", "modem_channels", "kvn", "s16"):
            assert c.scb_opts_is_set(o, c.scb_opt_find(name))
    for bad in ({"level": "0x33"}, {"kvn": True}, {"aid": 5}, {"s16": "yes"},
                {"modem_channels": 1.5}):
        with pytest.raises(TypeError, match=repr(next(iter(bad)))):
            with c_options(bad):
                pass
    for bad, message in (({"kvn": 256}, "outside 0..255"), ({"kvn": 2 ** 70}, "out of range"),
                         ({"level": 0x22}, "is not one of"), ({"aid": "A0 00"}, "2 bytes"),
                         ({"sd_aid": "XYZ"}, "expected hex"), ({"s16": 2}, "boolean"),
                         ({"modem_channels": "bogus"}, "not one of auto|csim|cgla"),
                         ({"pin": "12345678901234567"}, "17 bytes, expected 1..16")):
        with pytest.raises(scboot.InvalidArgumentError, match=message) as info:
            with c_options(bad):
                pass
        assert "12345678901234567" not in str(info.value)   # a PIN is never quoted


# ---- unknown options, options outside the call's scope -------------------

def calls(card, keys):
    """Every card method that takes options, each with one extra option."""
    new = scboot.Keys(K3, K3, K3, kvn=0x32)
    return {
        "read_bootstrap": lambda **o: card.read_bootstrap(keys, **o),
        "write_bootstrap": lambda **o: card.write_bootstrap(DOC, keys, **o),
        "rotate_keys": lambda **o: card.rotate_keys(keys, new, **o),
        "put_keys": lambda **o: card.put_keys(new, keys=keys, **o),
        "open_app": lambda **o: card.open_app(keys, **o),
        "open_scp03": lambda **o: card.open_scp03(keys, **o),
        "probe_keys": lambda **o: card.probe_keys(keys, **o),
    }


@pytest.mark.parametrize("method", ["read_bootstrap", "write_bootstrap", "rotate_keys",
                                    "put_keys", "open_app", "open_scp03", "probe_keys"])
def test_an_unknown_option_is_an_error_naming_it(gp_keys, method):
    with scboot.Card.sim() as card:
        call = calls(card, gp_keys)[method]
        for name in ("frobnicate", "sd_ai", "authenticate", "no_extauth"):
            with pytest.raises(scboot.InvalidArgumentError, match=f"unknown option '{name}'"):
                call(**{name: True})
        with pytest.raises(scboot.InvalidArgumentError, match="did you mean 'sd_aid'"):
            call(sd_ai=PKCS15_AID)
        assert card.apdu_count == 0


@pytest.mark.parametrize("method,option,call_name", [
    ("read_bootstrap", {"pad": True}, "a read"),
    ("read_bootstrap", {"replace_kvn": 0x31}, "a read"),
    ("write_bootstrap", {"replace_kvn": 0x31}, "a write"),
    ("rotate_keys", {"path": "6432"}, "a key rotation"),
    ("rotate_keys", {"pad": True}, "a key rotation"),
    ("open_app", {"pin": "1234"}, "opening the application"),
    ("open_scp03", {"aid": PKCS15_AID}, "a secure channel"),
    ("probe_keys", {"skip_efdir": True}, "a key probe"),
    ("read_bootstrap", {"baud": 9600}, "a read"),
])
def test_an_option_outside_the_calls_scope_is_an_error(gp_keys, method, option, call_name):
    with scboot.Card.sim() as card:
        with pytest.raises(scboot.InvalidArgumentError, match=f"does not apply to ({call_name})"):
            calls(card, gp_keys)[method](**option)
        assert card.apdu_count == 0


def test_modem_options_reach_open_modem():
    # refused by the table before the device is opened ...
    with pytest.raises(scboot.InvalidArgumentError, match="modem_channels"):
        scboot.Card.open_modem("/dev/nonexistent-modem", modem_channels="bogus")
    with pytest.raises(scboot.InvalidArgumentError, match="unknown option 'bauds'"):
        scboot.Card.open_modem("/dev/nonexistent-modem", bauds=9600)
    with pytest.raises(scboot.InvalidArgumentError, match="'kvn' does not apply to a modem"):
        scboot.Card.open_modem("/dev/nonexistent-modem", kvn=0x31)
    # ... accepted ones get as far as the device
    with pytest.raises(scboot.TransportError):
        scboot.Card.open_modem("/dev/nonexistent-modem", 9600, rtscts=True,
                               modem_channels="cgla", modem_timeout_ms=100)


def test_put_keys_without_keys_takes_no_options(gp_keys):
    with scboot.Card.sim() as card, scboot.Keys(K3, K3, K3, kvn=0x32) as new:
        with pytest.raises(scboot.InvalidArgumentError, match="'kvn'"):
            card.put_keys(new, kvn=0x31)
        assert card.apdu_count == 0


# ---- kvn, sd_aid, host_challenge reach every job -------------------------

def test_kvn_reaches_the_read(k2):
    with scboot.Card.sim(TWO_SETS) as card:
        with pytest.raises(scboot.CardCryptogramError):
            card.read_bootstrap(k2)                  # 00: the first set, 30
        wire = Wire(card)
        bs = card.read_bootstrap(k2, kvn=0x31)
        assert bs.servers and bs.access.scp_level == 0x33
        assert wire.initialize_update_kvns() == [0x31]


def test_kvn_reaches_the_write(k2, gp_keys):
    with scboot.Card.sim(TWO_SETS) as card:
        with pytest.raises(scboot.CardCryptogramError):
            card.write_bootstrap(DOC, k2)
        wire = Wire(card)
        card.write_bootstrap(DOC, k2, kvn=0x31)
        assert wire.initialize_update_kvns() == [0x31]
        assert card.read_bootstrap(gp_keys) == scboot.Bootstrap(DOC)


def test_kvn_reaches_the_rotation_and_app_open(k2):
    with scboot.Card.sim(TWO_SETS) as card, scboot.Keys(K3, K3, K3, kvn=0x32) as new:
        with pytest.raises(scboot.CardCryptogramError):
            card.rotate_keys(k2, new)
        wire = Wire(card)
        card.rotate_keys(k2, new, kvn=0x31)
        # the current keys at 31, then the proof with the new set's own version
        assert wire.initialize_update_kvns() == [0x31, 0x32]
        assert card.read_bootstrap(new).servers
        info = card.open_app(k2, kvn=0x31)
        assert info.scp_level == 0x33 and card.scp03_info.kvn == 0x31
        card.close_app()


@pytest.mark.parametrize("job", ["read", "write", "rotate", "open_app"])
def test_sd_aid_reaches_every_job(gp_keys, job):
    """The card's challenge is pseudo-random (i = 70): checked against the
    SD AID given, a wrong one is a secure-channel error (SCB_E_SCP_CHALLENGE)."""
    def run(card, sd_aid):
        with scboot.Keys(K3, K3, K3, kvn=0x32) as new:
            return {"read": lambda: card.read_bootstrap(gp_keys, sd_aid=sd_aid),
                    "write": lambda: card.write_bootstrap(DOC, gp_keys, sd_aid=sd_aid),
                    "rotate": lambda: card.rotate_keys(gp_keys, new, sd_aid=sd_aid),
                    "open_app": lambda: card.open_app(gp_keys, sd_aid=sd_aid)}[job]()

    with scboot.Card.sim() as card:
        with pytest.raises(scboot.SecureChannelError) as info:
            run(card, OTHER_AID)
        assert info.value.code == c.SCB_E_SCP_CHALLENGE
        wire = Wire(card)
        run(card, bytes.fromhex(PKCS15_AID))
        assert "82" in wire.ins()   # the handshake went on to EXTERNAL AUTHENTICATE
        assert card.scp03_info.challenge_verified


@pytest.mark.parametrize("job", ["read", "write", "open_app"])
def test_host_challenge_reaches_every_job(gp_keys, job):
    challenge = bytes(range(0xA0, 0xA8))
    lines = []
    with scboot.Card.sim() as card:
        card.set_trace(lambda kind, line: lines.append(line)
                       if kind == scboot.TraceKind.WIRE_CMD else None)
        {"read": lambda: card.read_bootstrap(gp_keys, host_challenge=challenge),
         "write": lambda: card.write_bootstrap(DOC, gp_keys, host_challenge=challenge.hex()),
         "open_app": lambda: card.open_app(gp_keys, host_challenge=challenge)}[job]()
    (iu,) = [line for line in lines if line.split()[2] == "50"]
    # CLA 8x (the logical channel in its low bits), then INS P1 P2 Lc challenge
    assert iu.split()[2:14] == "50 30 00 08 A0 A1 A2 A3 A4 A5 A6 A7".split(), iu


def test_pin_as_text_or_bytes(gp_keys):
    profile = {"pin": {"ref": 1, "value": "1234", "tries": 3},
               "dodf": {"private": True, "auth_id": "01"},
               "bootstrap": {"read": "pin"}}
    with scboot.Card.sim(profile) as card:
        with pytest.raises(scboot.PinRequiredError):
            card.read_bootstrap(gp_keys)
        assert card.read_bootstrap(gp_keys, pin="1234").servers
        assert card.read_bootstrap(gp_keys, pin=b"1234", pin_ref=1).servers
        with pytest.raises(scboot.PinWrongError):
            card.read_bootstrap(gp_keys, pin="4321")
        # the card's PIN object (EF.AODF) bounds the PIN before VERIFY
        for short_or_long in ("12", "123456789"):
            with pytest.raises(scboot.InvalidArgumentError, match="takes 4 to 8") as info:
                card.read_bootstrap(gp_keys, pin=short_or_long)
            assert short_or_long not in str(info.value)
        with pytest.raises(scboot.PinWrongError, match="1 try left"):
            card.read_bootstrap(gp_keys, pin="4321")


# ---- no job without a session --------------------------------------------

def jobs(card, keys):
    new = scboot.Keys(K3, K3, K3, kvn=0x32)
    return [lambda: card.read_bootstrap(keys), lambda: card.write_bootstrap(DOC, keys),
            lambda: card.rotate_keys(keys, new)]


def test_the_key_probe_is_a_call_of_its_own(gp_keys):
    with scboot.Card.sim(TWO_SETS) as card:
        wire = Wire(card)
        card.open_app(None)           # the application, no secure channel
        info = card.probe_keys(gp_keys)
        assert info.kvn == 0x30 and info.level is None and card.scp03_level is None
        assert "82" not in wire.ins()                    # no EXTERNAL AUTHENTICATE
        with scboot.Keys(K2, K2, K2) as k2:
            assert card.probe_keys(k2, kvn=0x31).kvn == 0x31
            with pytest.raises(scboot.CardCryptogramError):
                card.probe_keys(k2)
            with pytest.raises(scboot.NoKeySetError):    # 6A88 to INITIALIZE UPDATE
                card.probe_keys(k2, kvn=0x3F)
        assert "82" not in wire.ins()
        card.close_app()
        # the old spellings of a probe inside a job or open_scp03 are refused
        for call in (lambda: card.open_scp03(gp_keys, authenticate=False),
                     lambda: card.read_bootstrap(gp_keys, authenticate=False),
                     lambda: card.read_bootstrap(gp_keys, no_extauth=True),
                     lambda: card.write_bootstrap(DOC, gp_keys, no_extauth=True),
                     lambda: card.rotate_keys(gp_keys, gp_keys, authenticate=False)):
            count = card.apdu_count
            with pytest.raises(scboot.InvalidArgumentError, match="unknown option .*probe_keys"):
                call()
            assert card.apdu_count == count


def refusing_external_authenticate(vc, sw):
    """A transport to vc that answers every EXTERNAL AUTHENTICATE with sw."""
    def transmit(cmd):
        if cmd[0] & 0x80 and cmd[1] == 0x82:
            return sw
        return vc.process(cmd)
    return scboot.Card.from_transmit(transmit)


@pytest.mark.parametrize("sw", [b"\x63\x00", b"\x69\x82", b"\x6A\x86"], ids=bytes.hex)
def test_no_job_when_external_authenticate_is_refused(gp_keys, sw):
    vc = VirtualCard()
    with refusing_external_authenticate(vc, sw) as card:
        for job in jobs(card, gp_keys):
            wire = Wire(card)
            with pytest.raises(scboot.SecureChannelError):
                job()
            assert "82" in wire.ins()
            assert not set(wire.ins()) & set(EF_INS), wire.commands


def test_no_job_at_a_level_the_card_lacks(gp_keys):
    """i = 30: R-MAC, no R-ENC. Level 0x33 (the default) cannot be had: the
    library stops before EXTERNAL AUTHENTICATE, and nothing reads, writes or
    puts keys."""
    with scboot.Card.sim({"scp03": {"i": "0x30", "level_required": "0x13"}}) as card:
        for job in jobs(card, gp_keys):
            wire = Wire(card)
            with pytest.raises(scboot.SecurityLevelError):
                job()
            assert "50" in wire.ins() and "82" not in wire.ins()
            assert not set(wire.ins()) & set(EF_INS), wire.commands
        # a level the card has works
        assert card.read_bootstrap(gp_keys, 0x13).access.scp_level == 0x13
