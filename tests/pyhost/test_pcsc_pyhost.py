"""The Python host through a real pcscd (pyscard) against vpcd_card.py:
what others use to test the project's virtual card independently."""

import os
import sys
from pathlib import Path

import pytest

import scp03host as h

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
import pcsc_env  # noqa: E402

READER = "Virtual PCD B 00 01"


@pytest.fixture(scope="module")
def pcscd():
    readers = pcsc_env.ensure_pcscd(need=(READER,))
    yield readers
    pcsc_env.stop_pcscd()


def card_process(keys, i):
    argv = [sys.executable, HERE / "vpcd_card.py", pcsc_env.READERS[READER], keys.enc.hex(),
            keys.mac.hex(), f"{keys.kvn:02X}", f"{i:02X}"]
    return pcsc_env.CardProcess(argv, READER)


@pytest.mark.parametrize("key_len,s16,level,i", [(16, False, 0x33, 0x70), (32, True, 0x13, 0x31),
                                                 (24, False, 0x03, 0x60)])
def test_session_over_pcsc(pcscd, key_len, s16, level, i):
    keys = h.Keys(os.urandom(key_len), os.urandom(key_len), None, 0x30)
    with card_process(keys, i):
        transmit, conn = h.pcsc_transmit(READER)
        try:
            host = h.SCP03Host(transmit, keys, level=level, s16=s16,
                               sd_aid=bytes.fromhex("A000000151000000"))
            host.open()
            for n in (0, 1, 16, 200):
                data = os.urandom(n)
                apdu = h.Command(0x80, 0xCA, 0, 0, data, ne=256).encode()
                assert host.transmit(apdu) == data[::-1] + b"\x90\x00"
            # a wrong MAC key is told by the card cryptogram (it comes from S-MAC)
            other = h.SCP03Host(transmit, h.Keys(keys.enc, os.urandom(key_len), None, 0x30),
                                level=level, s16=s16)
            with pytest.raises(h.CardCryptogramError):
                other.open()
        finally:
            conn.disconnect()
