"""Card.from_transmit: any Python function as the transport, APDU level
calls, logical channels, errors from the transport and from the card."""
import gc
import sys
import traceback

import pytest

import scboot
from conftest import Script


def echo_ok(command):
    return b"\x90\x00"


def test_transmit_returns_data_and_sw():
    with scboot.Card.from_transmit(lambda c: b"\x01\x02\x90\x00") as card:
        assert card.transmit(b"\x00\xb0\x00\x00\x02") == b"\x01\x02\x90\x00"
        assert card.last_sw == 0x9000
        assert card.apdu_count == 1


@pytest.mark.parametrize("apdu", [b"\x00\xa4\x04\x00", bytearray(b"\x00\xa4\x04\x00"),
                                  memoryview(b"\x00\xa4\x04\x00"), "00 A4 04 00", "00a40400"])
def test_transmit_accepts_bytes_like_and_hex(apdu):
    seen = []
    with scboot.Card.from_transmit(lambda c: seen.append(c) or b"\x90\x00") as card:
        card.transmit(apdu)
    assert seen == [b"\x00\xa4\x04\x00"]


def test_transmit_rejects_other_types():
    with scboot.Card.from_transmit(echo_ok) as card:
        with pytest.raises(TypeError):
            card.transmit(1234)
        with pytest.raises(ValueError, match="not valid hex"):
            card.transmit("00 A4 zz")


def test_malformed_apdu_is_rejected_before_the_wire():
    sent = []
    with scboot.Card.from_transmit(lambda c: sent.append(c) or b"\x90\x00") as card:
        with pytest.raises(scboot.InvalidArgumentError):
            card.transmit(b"\x00\xa4\x04")          # shorter than a header
        with pytest.raises(scboot.Error):
            card.transmit(b"\x00\xa4\x04\x00\x05\x01")  # Lc 5, one data byte
    assert sent == []


def test_get_response_and_wrong_le_handled_by_the_engine():
    script = Script([("80ca00fe00", "6104"), ("00c0000004", "deadbeef9000"),
                     ("00b0000010", "6c04"), ("00b0000004", "010203049000")])
    with scboot.Card.from_transmit(script) as card:
        assert card.transmit("80CA00FE00") == bytes.fromhex("deadbeef9000")
        assert card.transmit("00B0000010") == bytes.fromhex("010203049000")
        assert card.apdu_count == 4
    assert script.done()


def test_exception_in_transport_propagates_unchanged():
    class Boom(Exception):
        pass

    raised = Boom("the reader fell off the table")

    def transport(command):
        raise raised

    with scboot.Card.from_transmit(transport) as card:
        with pytest.raises(Boom) as info:
            card.transmit(b"\x00\xa4\x04\x00")
        assert info.value is raised
        frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
        assert "transport" in frames
        # the card is usable again afterwards, and no stale error remains
        assert "transport" in card.last_error


def test_exception_propagates_from_high_level_calls():
    def transport(command):
        raise KeyError("gone")

    with scboot.Card.from_transmit(transport) as card:
        with pytest.raises(KeyError):
            card.open_channel()
        with pytest.raises(KeyError):
            card.select_aid(bytes.fromhex("A000000063504B43532D3135"))


def test_transport_error_class_tells_the_engine_what_happened():
    def transport(command):
        raise scboot.CardRemovedError("pulled out")

    with scboot.Card.from_transmit(transport) as card:
        with pytest.raises(scboot.CardRemovedError, match="pulled out"):
            card.transmit(b"\x00\xa4\x04\x00")
        assert "card removed" in card.last_error


def test_transport_must_return_bytes():
    with scboot.Card.from_transmit(lambda c: "9000") as card:
        with pytest.raises(TypeError, match="must return bytes"):
            card.transmit(b"\x00\xa4\x04\x00")
    with scboot.Card.from_transmit(lambda c: None) as card:
        with pytest.raises(TypeError, match="NoneType"):
            card.transmit(b"\x00\xa4\x04\x00")


def test_bytearray_and_memoryview_responses():
    with scboot.Card.from_transmit(lambda c: bytearray(b"\x01\x90\x00")) as card:
        assert card.transmit(b"\x00\xb0\x00\x00\x01") == b"\x01\x90\x00"
    with scboot.Card.from_transmit(lambda c: memoryview(b"\x02\x90\x00")) as card:
        assert card.transmit(b"\x00\xb0\x00\x00\x01") == b"\x02\x90\x00"


def test_response_without_status_word_is_a_bad_response():
    with scboot.Card.from_transmit(lambda c: b"\x90") as card:
        with pytest.raises(scboot.BadResponseError, match="no status word"):
            card.transmit(b"\x00\xa4\x04\x00")


def test_overlong_response_is_a_bad_response():
    huge = bytes(70000) + b"\x90\x00"
    with scboot.Card.from_transmit(lambda c: huge) as card:
        with pytest.raises(scboot.BadResponseError):
            card.transmit(b"\x00\xb0\x00\x00\x00")


def test_not_callable_transport():
    with pytest.raises(TypeError, match="callable"):
        scboot.Card.from_transmit(b"\x90\x00")


def test_closed_card():
    card = scboot.Card.from_transmit(echo_ok)
    card.close()
    card.close()  # twice is fine
    assert card.closed
    with pytest.raises(scboot.StateError, match="closed"):
        card.transmit(b"\x00\xa4\x04\x00")
    assert "closed" in repr(card)


def test_transport_function_is_released_with_the_card():
    class Transport:
        def __call__(self, command):
            return b"\x90\x00"

    t = Transport()
    card = scboot.Card.from_transmit(t)
    card.transmit(b"\x00\xa4\x04\x00")
    base = sys.getrefcount(t)
    card.close()
    gc.collect()
    assert sys.getrefcount(t) < base


def test_logical_channels_go_into_cla():
    script = Script([("0070000001", "029000"),      # MANAGE CHANNEL open -> 2
                     ("02a4040c0ca000000063504b43532d3135", "9000"),
                     ("02b0000004", "112233449000"),
                     ("00b0000001", "559000"),      # select channel 0 again
                     ("02b0000001", "669000"),      # and back to 2
                     ("00708002", "9000")])  # MANAGE CHANNEL close 2
    with scboot.Card.from_transmit(script) as card:
        assert card.open_channel() == 2
        assert card.channel == 2
        card.transmit("00A4040C0CA000000063504B43532D3135")
        assert card.transmit("00B0000004") == bytes.fromhex("112233449000")
        card.select_channel(0)
        assert card.transmit("00B0000001") == bytes.fromhex("559000")
        card.select_channel(2)
        assert card.transmit("00B0000001") == bytes.fromhex("669000")
        card.close_channel()
        assert card.channel == 0
    assert script.done()


def test_a_channel_opened_with_its_application():
    """open_channel(aid): MANAGE CHANNEL and SELECT by AID on the new
    channel (P2 0C); an application the card lacks leaves nothing open."""
    aid = "A000000063504B43532D3135"
    script = Script([("0070000001", "019000"),
                     ("01a4040c0c" + aid.lower(), "9000"),
                     ("0070000001", "029000"),
                     ("02a4040c03010203", "6a82"),
                     ("00708002", "9000"),     # nothing stays open
                     ("00708001", "9000")])    # and channel 1 closes with the handle
    with scboot.Card.from_transmit(script) as card:
        assert card.open_channel(aid=bytes.fromhex(aid)) == 1 and card.channel == 1
        card.select_channel(0)
        with pytest.raises(scboot.NotFoundError):
            card.open_channel(aid=b"\x01\x02\x03")
        assert card.channel == 0
    assert script.done()


def test_no_channel_available():
    with scboot.Card.from_transmit(lambda c: b"\x6a\x81") as card:
        with pytest.raises(scboot.NoChannelError) as info:
            card.open_channel()
        assert info.value.sw == 0x6A81


def test_select_and_read():
    fcp = "6216" + "82027821" + "8410" + "a0000000871002ff33ff018900000000"
    script = Script([("00a4040410a0000000871002ff33ff01890000000000", fcp + "9000")])
    with scboot.Card.from_transmit(script) as card:
        got = card.select_aid("A0000000871002FF33FF018900000000")
    assert got.aid == bytes.fromhex("a0000000871002ff33ff018900000000")
    assert got.structure == scboot.FileStructure.DF


def test_read_binary_loops_to_the_end_and_status_errors():
    data = bytes(range(256)) * 2
    script = Script([("00a40004022f0000", "6982")])
    with scboot.Card.from_transmit(script) as card:
        with pytest.raises(scboot.SecurityStatusError) as info:
            card.select_fid(0x2F00)
    assert info.value.sw == 0x6982
    assert "6982" in str(info.value)
    assert info.value.sw_text

    def reader(command):
        offset = command[2] << 8 | command[3]
        le = command[4] or 256
        chunk = data[offset:offset + le]
        return chunk + (b"\x90\x00" if chunk else b"\x6b\x00")

    with scboot.Card.from_transmit(reader) as card:
        assert card.read_binary(len(data)) == data


def test_trace_lines():
    lines = []
    with scboot.Card.from_transmit(lambda c: b"\x01\x90\x00") as card:
        card.set_trace(lambda kind, line: lines.append((kind, line)))
        card.transmit("00B0000001")
        card.set_trace(None)
        card.transmit("00B0000001")
    assert lines == [(scboot.TraceKind.WIRE_CMD, "A>> 00 B0 00 00 01"),
                     (scboot.TraceKind.WIRE_RESP, "A<< 01 (9000)")]


def test_trace_exception_is_unraisable_not_fatal(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))

    def bad_hook(kind, line):
        raise ValueError("trace sink broke")

    with scboot.Card.from_transmit(lambda c: b"\x90\x00") as card:
        card.set_trace(bad_hook)
        assert card.transmit("00A40400") == b"\x90\x00"
    assert reported and isinstance(reported[0], ValueError)


def test_transaction_context():
    with scboot.Card.from_transmit(echo_ok) as card:
        with card.transaction() as c:
            assert c is card
            c.transmit("00A40400")


def test_repr_and_reader_of_a_python_transport():
    with scboot.Card.from_transmit(echo_ok) as card:
        assert card.reader is None
        assert "in-process" in repr(card)


def test_a_callback_using_its_own_card_gets_an_error_not_a_deadlock(monkeypatch):
    holder = {}

    def transport(command):
        if command[1] == 0xB0:
            return holder["card"].transmit("00A40400")   # re-entrant: refused
        return b"\x90\x00"

    with scboot.Card.from_transmit(transport) as card:
        holder["card"] = card
        with pytest.raises(scboot.StateError, match="same card"):
            card.transmit("00B0000001")
        assert card.transmit("00A40400") == b"\x90\x00"   # and the card still works

        reported = []
        monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))
        card.set_trace(lambda kind, line: card.last_sw and card.transmit("00A40400"))
        assert card.transmit("00A40400") == b"\x90\x00"
        card.set_trace(None)
    assert reported and all(isinstance(e, scboot.StateError) for e in reported)


def test_close_from_another_thread_waits_for_the_call_in_flight():
    import threading
    started, release = threading.Event(), threading.Event()

    def slow(command):
        started.set()
        release.wait(5)
        return b"\x90\x00"

    card = scboot.Card.from_transmit(slow)
    results = []
    worker = threading.Thread(target=lambda: results.append(card.transmit("00A40400")))
    worker.start()
    started.wait(5)
    closer = threading.Thread(target=card.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()          # waiting for the transmit to finish
    release.set()
    worker.join(5)
    closer.join(5)
    assert results == [b"\x90\x00"] and card.closed
    with pytest.raises(scboot.StateError):
        card.transmit("00A40400")
