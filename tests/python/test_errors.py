"""Every SCB_E_* code maps to the right exception class, with code, name,
detail and (card errors) the status word; messages hold no key material."""
import pytest

import scboot
from scboot import _scboot as c
from scboot._errors import error_for

FAMILIES = [
    (range(-1, -8, -1), scboot.Error),
    (range(-10, -20, -1), scboot.TransportError),
    (range(-20, -30, -1), scboot.CardStatusError),
    (range(-30, -43, -1), scboot.SecureChannelError),
    (range(-50, -53, -1), scboot.Error),
    (range(-60, -62, -1), scboot.WriteError),
]

SPECIFIC = {
    "SCB_E_INVALID_ARG": scboot.InvalidArgumentError,
    "SCB_E_BUFFER_TOO_SMALL": scboot.InvalidArgumentError,
    "SCB_E_STATE": scboot.StateError,
    "SCB_E_UNSUPPORTED": scboot.UnsupportedError,
    "SCB_E_NO_SERVICE": scboot.NoServiceError,
    "SCB_E_NO_READER": scboot.NoReaderError,
    "SCB_E_NO_CARD": scboot.NoCardError,
    "SCB_E_CARD_REMOVED": scboot.CardRemovedError,
    "SCB_E_CARD_RESET": scboot.CardResetError,
    "SCB_E_TIMEOUT": scboot.TransportTimeoutError,
    "SCB_E_SHARING": scboot.SharingError,
    "SCB_E_MODEM": scboot.ModemError,
    "SCB_E_MODEM_CME": scboot.ModemError,
    "SCB_E_BAD_RESPONSE": scboot.BadResponseError,
    "SCB_E_GET_RESPONSE_LIMIT": scboot.BadResponseError,
    "SCB_E_NOT_FOUND": scboot.NotFoundError,
    "SCB_E_SECURITY_STATUS": scboot.SecurityStatusError,
    "SCB_E_NO_CHANNEL": scboot.NoChannelError,
    "SCB_E_WRONG_LENGTH": scboot.WrongLengthError,
    "SCB_E_FILE_TOO_LARGE": scboot.FileTooLargeError,
    "SCB_E_PIN_REQUIRED": scboot.PinRequiredError,
    "SCB_E_PIN_WRONG": scboot.PinWrongError,
    "SCB_E_SCP_CARD_CRYPTOGRAM": scboot.CardCryptogramError,
    "SCB_E_SCP_RMAC": scboot.RMacError,
    "SCB_E_SCP_PADDING": scboot.PaddingError,
    "SCB_E_SCP_LEVEL": scboot.SecurityLevelError,
    "SCB_E_SCP_AUTH_REJECTED": scboot.AuthenticationRejectedError,
    "SCB_E_PARSE": scboot.ParseError,
    "SCB_E_NO_BOOTSTRAP": scboot.NoBootstrapError,
    "SCB_E_VALIDATION": scboot.ValidationError,
    "SCB_E_WRITE_INCOMPLETE": scboot.WriteError,
    "SCB_E_VERIFY_MISMATCH": scboot.WriteError,
}


@pytest.mark.parametrize("codes,family", FAMILIES)
def test_every_code_lands_in_its_family(codes, family):
    for code in codes:
        e = error_for(code, "what happened")
        assert isinstance(e, family), (code, type(e))
        assert e.code == code
        assert e.name == c.scb_error_name(code)
        assert e.name.startswith("SCB_E_") and e.name != "SCB_E_UNKNOWN"
        assert str(e) == f"what happened ({e.name})"


@pytest.mark.parametrize("name,cls", sorted(SPECIFIC.items()))
def test_specific_classes(name, cls):
    code = getattr(c, name)
    e = error_for(code, "", sw=0x6982)
    assert type(e) is cls
    assert e.name == name
    # without detail the library's text for the code is the message
    assert str(e) == f"{c.scb_strerror(code)} ({name})"


def test_status_word_only_on_card_errors():
    assert error_for(c.SCB_E_NOT_FOUND, "x", sw=0x6A82).sw == 0x6A82
    assert error_for(c.SCB_E_SCP_RMAC, "x", sw=0x9000).sw is None
    e = error_for(c.SCB_E_SECURITY_STATUS, "READ BINARY", sw=0x6982)
    assert "security" in e.sw_text.lower()


def test_python_base_classes():
    assert issubclass(scboot.ParseError, ValueError)
    assert issubclass(scboot.ValidationError, ValueError)
    assert issubclass(scboot.InvalidArgumentError, ValueError)
    for cls in (scboot.TransportError, scboot.CardStatusError, scboot.SecureChannelError,
                scboot.ParseError, scboot.WriteError):
        assert issubclass(cls, scboot.Error)


def test_python_code_raises_with_its_class_code():
    e = scboot.CardRemovedError("gone")
    assert e.code == c.SCB_E_CARD_REMOVED and e.name == "SCB_E_CARD_REMOVED"
    assert str(e) == "gone (SCB_E_CARD_REMOVED)"
    assert scboot.Error().name == "SCB_E_INTERNAL"


def test_card_status_error_from_a_card():
    with scboot.Card.from_transmit(lambda cmd: b"\x69\x82") as card:
        with pytest.raises(scboot.SecurityStatusError) as info:
            card.select_fid(0x6432)
    assert info.value.sw == 0x6982
    assert "6982" in info.value.detail


def test_pcsc_errors_are_transport_errors():
    with pytest.raises(scboot.TransportError) as info:
        scboot.Card.open("no reader is called like this 1f7c")
    assert info.value.code in (c.SCB_E_NO_READER, c.SCB_E_NO_SERVICE, c.SCB_E_NO_CARD)
    assert info.value.detail
