"""The virtual card in process: the whole job (read, write, keys), the
access info, fault injection mapped to exceptions, and the GIL."""
import json
import threading
import time

import pytest

import scboot
from scboot.sim import VirtualCard

GP_KEY = "404142434445464748494A4B4C4D4E4F"


@pytest.fixture
def keys():
    with scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30) as k:
        yield k


def test_read_bootstrap_from_the_builtin_card(keys):
    with scboot.Card.sim() as card:
        bs = card.read_bootstrap(keys)
        assert bs.security[0]["server_uri"] == "coaps://bs.example.com:5684"
        assert bs.security[0]["secret_key"] == "<redacted>"
        assert bs.servers[0]["lifetime"] == 86400
        info = bs.access
        assert info.used_efdir and info.aid == scboot.pkcs15.DEFAULT_AID
        assert info.channel != 0 and info.scp_level == 0x33
        assert info.path and info.ef_size and info.apdus > 5
        assert info.oid_form == scboot.OidForm.DO_ID
        assert bs.raw[:len(bs.encode())] == bs.encode()
        # the remembered path skips EF.DIR, ODF and DODF: fewer APDUs, same file
        again = card.read_bootstrap(keys, path=info.path, aid=info.aid)
        assert again == bs and again.access.apdus < info.apdus
        assert card.channel == 0 and card.scp03_level is None


def test_every_level_reads_the_same_file(keys):
    # The built-in card wants level 0x33 for the bootstrap EF; this one any C-MAC.
    with scboot.Card.sim({"scp03": {"level_required": "0x01"}}) as card:
        digests = {card.read_bootstrap(keys, level).digest for level in (0x01, 0x03, 0x11,
                                                                         0x13, 0x33)}
    assert len(digests) == 1


def test_iccid():
    with scboot.Card.sim() as card:
        assert card.read_iccid() == "8988300000000000013"
    with scboot.Card.sim({"iccid": "8944123456789"}) as card:
        assert card.read_iccid() == "8944123456789"


def test_bootstrap_needs_the_secure_channel_by_default():
    with scboot.Card.sim() as card:
        with pytest.raises(scboot.SecurityStatusError) as info:
            card.read_bootstrap()
        assert info.value.sw == 0x6982


def test_wrong_keys(keys):
    with scboot.Card.sim() as card:
        # The card cryptogram comes from the MAC key (S-MAC)
        with scboot.Keys(GP_KEY, GP_KEY[::-1], kvn=0x30) as wrong:
            with pytest.raises(scboot.CardCryptogramError):
                card.read_bootstrap(wrong)
        assert card.read_bootstrap(keys).objects


def test_profile_as_dict_json_and_file(keys, tmp_path):
    profile = {"bootstrap": {"read": "always"}}
    path = tmp_path / "card.json"
    path.write_text(json.dumps(profile))
    for p in (profile, json.dumps(profile), str(path)):
        with scboot.Card.sim(p) as card:
            assert card.read_bootstrap().objects          # readable in clear now
    with pytest.raises(scboot.ValidationError, match="unknown key"):
        scboot.Card.sim({"no_such_field": 1})
    with pytest.raises(scboot.Error):
        scboot.Card.sim(str(tmp_path / "missing.json"))


def test_app_session_and_virtual_card_inspection(keys):
    vc = VirtualCard()
    with vc.card() as card:
        path = card.read_bootstrap(keys).access.path
        info = card.open_app(keys, 0x33)
        assert vc.session_level(info.channel) == 0x33
        assert card.scp03_level == 0x33
        scp = card.scp03_info
        assert scp.kvn == 0x30 and len(scp.kdd) == 10
        # the secured channel serves the lower-level calls too
        fcp = card.select_fid(int.from_bytes(path[-2:], "big"))
        assert fcp.structure == scboot.FileStructure.TRANSPARENT
        assert scboot.Bootstrap.parse(card.read_binary(fcp.file_size)).objects
        card.close_app()
        assert vc.session_level(info.channel) is None
    assert vc.apdu_count > 0
    assert vc.atr[0] in (0x3B, 0x3F)
    assert vc.process("00A4000C023F00") == b"\x90\x00"
    vc.close()


def test_put_keys_then_use_the_new_set(keys):
    new = "505152535455565758595A5B5C5D5E5F"
    with scboot.Card.sim() as card:
        card.open_app(keys, 0x33)
        with scboot.Keys(new, new, new, kvn=0x31) as new_keys:
            card.put_keys(new_keys)
            card.close_app()
            assert card.read_bootstrap(new_keys).objects
        assert card.read_bootstrap(keys).objects   # the old set was added to, not replaced


def test_write_bootstrap_and_read_back(keys):
    model = {"security": [{"server_uri": "coap://example.org", "bootstrap_server": True,
                           "security_mode": 3}]}
    with scboot.Card.sim() as card:
        info = card.write_bootstrap(scboot.Bootstrap(model), keys, pad=True)
        assert info.path
        back = card.read_bootstrap(keys, path=info.path, aid=info.aid)
        assert back == scboot.Bootstrap(model)
        assert back.raw[len(back.encode()):] == b"\xff" * (len(back.raw) - len(back.encode()))


@pytest.mark.parametrize("faults,error", [
    ({"bad_card_cryptogram": True}, scboot.CardCryptogramError),
    ({"kvn_mismatch": True}, scboot.SecureChannelError),
    ({"disconnect_after": 3}, scboot.CardRemovedError),
])
def test_faults_map_to_exceptions(keys, faults, error):
    with scboot.Card.sim({"faults": faults}) as card:
        with pytest.raises(error) as info:
            card.read_bootstrap(keys)
    assert info.value.detail


def test_rmac_fault_at_runtime(keys):
    vc = VirtualCard()
    with vc.card() as card:
        card.open_app(keys, 0x33)
        vc.set_faults(corrupt_rmac_at=vc.apdu_count + 1)
        with pytest.raises(scboot.RMacError):
            card.transmit("00A4000C023F00")
        assert card.scp03_level is None      # the session was torn down
    assert vc.faults["corrupt_rmac_at"] > 0
    with pytest.raises(TypeError):
        vc.set_faults(no_such_fault=1)


def test_status_word_fault(keys):
    vc = VirtualCard()
    vc.set_faults(sw_at=1, sw_at_value=0x6F00)
    with vc.card() as card:
        assert card.transmit("00A4000C023F00") == b"\x6f\x00"
        assert card.last_sw == 0x6F00


def test_gil_is_released_while_the_card_works():
    """A virtual card that takes 300 ms per APDU: another thread runs Python
    the whole time (it could not if the GIL were held during card I/O)."""
    vc = VirtualCard({"faults": {"delay_ms": 300}})
    counted = []
    with vc.card() as card:
        def transmit():
            card.transmit("00A4000C023F00")

        t = threading.Thread(target=transmit)
        start = time.monotonic()
        t.start()
        n = 0
        while t.is_alive():
            n += 1
        counted.append(n)
        t.join()
        assert time.monotonic() - start >= 0.25
    assert counted[0] > 1000


def test_one_card_used_from_two_threads_is_serialised(keys):
    with scboot.Card.sim() as card:
        errors = []

        def work():
            try:
                for _ in range(20):
                    assert card.transmit("00A4000C023F00") == b"\x90\x00"
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert card.apdu_count == 40


def vpcd_exchange(argv):
    """Play vpcd's side (a listener on loopback) for `python3 -m scboot.sim`
    started with argv + the address: ask the ATR, send one SELECT, close.
    Returns (ATR, SELECT answer, the process's exit status, its stderr)."""
    import socket
    import struct
    import subprocess
    import sys
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        argv = [a.replace("PORT", str(port)) for a in argv]
        proc = subprocess.Popen([sys.executable, "-m", "scboot.sim", *argv],
                                stderr=subprocess.PIPE, text=True)
        try:
            listener.settimeout(20)
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(20)
                f = conn.makefile("rwb")

                def frame(payload):
                    f.write(struct.pack(">H", len(payload)) + payload)
                    f.flush()
                    n = struct.unpack(">H", f.read(2))[0]
                    return f.read(n)
                atr = frame(b"\x04")                               # vpcd: GET ATR
                select = frame(bytes.fromhex("00A4000C023F00"))     # SELECT MF
                f.close()        # (the file holds the socket open too)
            _, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return atr, select, proc.returncode, err


def test_a_rolling_virtual_card_is_a_new_card_at_each_start():
    with VirtualCard({"iccid": "89883000000000000009"}) as vc:
        vc.set_rolling()
        iccids = []
        for _ in range(3):
            assert vc.process("00A4080C022FE2") == b"\x90\x00"
            iccids.append(vc.read_file(b"\x2f\xe2").hex())
            assert vc.process("0070000001") == b"\x01\x90\x00"   # work on the card
        assert iccids == ["98880300000000000090", "98880300000000000001",
                          "98880300000000000011"]
        assert vc.apdu_count == 2   # counted from the new card
        vc.set_rolling(False)
        assert vc.process("00A4080C022FE2") == b"\x90\x00"
        assert vc.read_file(b"\x2f\xe2").hex() == "98880300000000000011"


@pytest.mark.parametrize("argv", [["--vpcd", "127.0.0.1:PORT"],
                                  ["--vpcd", "PORT"],                       # the older spelling
                                  ["--vpcd", "PORT", "--host", "127.0.0.1"]])
def test_python_m_scboot_sim_serves_a_vpcd_reader(argv):
    atr, select, rc, err = vpcd_exchange(argv)
    with VirtualCard() as vc:
        assert atr == vc.atr
    assert select == b"\x90\x00"
    assert rc == 0, err


@pytest.mark.parametrize("argv,code,message", [
    (["--vpcd", ":35963"], 2, "--vpcd :35963: expected HOST:PORT, e.g. 127.0.0.1:35963"),
    (["--vpcd", "127.0.0.1:0"], 2, "with a port 1..65535"),
    (["--vpcd", "a:5", "--host", "b"], 2, "the host is a, --host says b"),
    (["--vpcd", "127.0.0.1:1", "--profile", "{"], 2,
     "profile: JSON text: incomplete document (the text ends at line 1, column 2)"),
    (["--vpcd", "127.0.0.1:1", "--profile", '{"pin": {"value": "1234"},\n "pin": {}}'], 2,
     "profile: pin: key appears twice (line 2, column 2; first at line 1, column 2)"),
])
def test_python_m_scboot_sim_refuses_in_one_line(argv, code, message):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "scboot.sim", *argv], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == code, out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith("python3 -m scboot.sim: ") and message in line, line


def test_every_call_is_bounded_and_the_bound_is_set_per_card(keys):
    """A card that answers every APDU 60 ms late: a 0.1 s bound ends the
    read with TransportTimeoutError naming the step; no bound lets it
    through; the default is the library's 30 s."""
    card = scboot.Card.sim({"faults": {"delay_ms": 60}})
    with card:
        assert card.timeout == scboot.DEFAULT_TIMEOUT == 30.0
        card.timeout = 0.1
        with pytest.raises(scboot.TransportTimeoutError) as e:
            card.read_bootstrap(keys)
        assert "took longer than 100 ms" in str(e.value)
        card.timeout = None
        assert card.timeout is None
        with pytest.raises(TypeError):
            card.timeout = "1"  # type: ignore[assignment]
