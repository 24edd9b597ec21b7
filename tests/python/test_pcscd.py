"""Through the real pcscd with the vpcd readers: Card.open and pyscard interop. The card behind the reader is the e2e suite's
minimal independent card process (tests/e2e/minicard.py)."""
import sys

import pytest

import pcsc_env
import scboot
from conftest import SOURCE_DIR

pytestmark = pytest.mark.pcscd

READER = "Virtual PCD B 00 00"
MINICARD = SOURCE_DIR / "tests" / "e2e" / "minicard.py"


@pytest.fixture(scope="module")
def pcscd():
    readers = pcsc_env.ensure_pcscd(need=(READER,))
    yield readers
    pcsc_env.stop_pcscd()


@pytest.fixture
def minicard(pcscd):
    with pcsc_env.CardProcess([sys.executable, MINICARD, pcsc_env.READERS[READER]], READER) as p:
        yield p


def test_readers_lists_the_vpcd_readers(minicard):
    listed = dict(scboot.readers())
    assert listed[READER] is True
    assert "Virtual PCD 00 01" in listed


def test_open_by_name_transmit_and_channel(minicard):
    with scboot.Card.open(READER) as card:
        assert card.reader == READER
        assert READER in repr(card)
        assert card.transmit("00B0000004") == bytes.fromhex("000102039000")
        assert card.transmit("80CA00FE00") == bytes.fromhex("DEADBEEF9000")
        assert card.open_channel() == 1
        assert card.transmit("00B0000102") == bytes.fromhex("01029000")
        card.close_channel()


def test_no_card_and_no_reader(pcscd):
    with pytest.raises(scboot.NoCardError):
        scboot.Card.open("Virtual PCD B 00 01")
    with pytest.raises(scboot.NoReaderError, match="no reader matches"):
        scboot.Card.open("there is no such reader")


def test_card_removed_during_a_session(minicard):
    with scboot.Card.open(READER) as card:
        card.transmit("00B0000001")
        with pytest.raises(scboot.CardRemovedError):
            card.transmit("FFEE0000")   # the card process exits
            card.transmit("00B0000001")


def test_from_pyscard_connection(minicard):
    from smartcard.System import readers as pyscard_readers

    reader = next(r for r in pyscard_readers() if str(r) == READER)
    connection = reader.createConnection()
    with scboot.Card.from_pyscard(connection) as card:
        assert card.transmit("00B0000004") == bytes.fromhex("000102039000")
        # 61xx from the card: the engine sends GET RESPONSE through pyscard
        assert card.transmit("80CA00FE00") == bytes.fromhex("DEADBEEF9000")
        assert card.open_channel() == 1
        card.close_channel()
    connection.disconnect()


def test_pyscard_exceptions_reach_the_caller(minicard):
    from smartcard.Exceptions import CardConnectionException
    from smartcard.System import readers as pyscard_readers

    reader = next(r for r in pyscard_readers() if str(r) == READER)
    with scboot.Card.from_pyscard(reader.createConnection()) as card:
        with pytest.raises(CardConnectionException):
            card.transmit("FFEE0000")   # the card process exits
            card.transmit("00B0000001")

