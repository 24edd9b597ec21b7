"""Every SCB_E_* code maps to an exception class derived from the library's
error families (scb_error_family), with code, name, detail and (card
errors) the status word; messages hold no key material."""
import os

import pytest

import scboot
from scboot import _scboot as c
from scboot._errors import error_class, error_for

# Every code the header defines, as SWIG exports its enum.
CODES = sorted((getattr(c, n) for n in dir(c) if n.startswith("SCB_E_")), reverse=True)

# The class each of the library's families maps to.
FAMILY_CLASS = {
    "other": scboot.Error,
    "usage": scboot.UsageError,
    "transport": scboot.TransportError,
    "card": scboot.CardStatusError,
    "secure": scboot.SecureChannelError,
    "data": scboot.DataError,
    "write": scboot.WriteError,
    "keystore": scboot.KeystoreError,
}
FAMILY_CLASSES = set(FAMILY_CLASS.values()) - {scboot.Error}

# Codes with a class of their own (the rest get their family's class).
SPECIFIC = {
    "SCB_E_INVALID_ARG": scboot.InvalidArgumentError,
    "SCB_E_BUFFER_TOO_SMALL": scboot.InvalidArgumentError,
    "SCB_E_STATE": scboot.StateError,
    "SCB_E_VALIDATION": scboot.ValidationError,
    "SCB_E_DATA_TOO_LARGE": scboot.DataTooLargeError,
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
    "SCB_E_PIN_REQUIRED": scboot.PinRequiredError,
    "SCB_E_PIN_WRONG": scboot.PinWrongError,
    "SCB_E_SCP_CARD_CRYPTOGRAM": scboot.CardCryptogramError,
    "SCB_E_SCP_RMAC": scboot.RMacError,
    "SCB_E_SCP_PADDING": scboot.PaddingError,
    "SCB_E_SCP_LEVEL": scboot.SecurityLevelError,
    "SCB_E_SCP_AUTH_REJECTED": scboot.AuthenticationRejectedError,
    "SCB_E_SCP_NO_KEYSET": scboot.NoKeySetError,
    "SCB_E_PARSE": scboot.ParseError,
    "SCB_E_NO_BOOTSTRAP": scboot.NoBootstrapError,
    "SCB_E_FILE_TOO_LARGE": scboot.FileTooLargeError,
}


def family_of(code):
    return c.scb_error_family_name(c.scb_error_family(code))


def test_the_header_codes_are_the_c_tables():
    assert len(CODES) > 40 and c.SCB_OK not in CODES
    for code in CODES:
        assert c.scb_error_name(code) != "SCB_E_UNKNOWN", code
        assert family_of(code) in FAMILY_CLASS, code


@pytest.mark.parametrize("code", CODES, ids=c.scb_error_name)
def test_every_code_lands_in_its_family(code):
    e = error_for(code, "what happened")
    family = FAMILY_CLASS[family_of(code)]
    assert isinstance(e, family), (family_of(code), type(e))
    # ... and in no other family
    others = [f for f in FAMILY_CLASSES if f is not family and isinstance(e, f)]
    assert others == [], others
    assert type(e) is SPECIFIC.get(c.scb_error_name(code), family)
    assert e.code == code
    assert e.name == c.scb_error_name(code)
    assert str(e) == f"what happened ({e.name})"


@pytest.mark.parametrize("name,cls", sorted(SPECIFIC.items()))
def test_specific_classes(name, cls):
    code = getattr(c, name)
    e = error_for(code, "", sw=0x6982)
    assert type(e) is cls and error_class(code) is cls
    assert e.name == name
    # without detail the library's text for the code is the message
    assert str(e) == f"{c.scb_strerror(code)} ({name})"


def test_a_class_raised_by_python_code_is_in_its_codes_family():
    for cls in set(SPECIFIC.values()) | FAMILY_CLASSES:
        if "code" not in vars(cls):
            continue   # KeystoreError: no code of its own yet
        e = cls("x")
        assert isinstance(e, FAMILY_CLASS[family_of(e.code)]), cls


def test_unknown_codes_are_plain_errors():
    e = error_for(-999, "from the future")
    assert type(e) is scboot.Error and e.name == "SCB_E_UNKNOWN"


def test_status_word_only_on_card_errors():
    assert error_for(c.SCB_E_NOT_FOUND, "x", sw=0x6A82).sw == 0x6A82
    assert error_for(c.SCB_E_SCP_RMAC, "x", sw=0x9000).sw is None
    assert error_for(c.SCB_E_SCP_NO_KEYSET, "x", sw=0x6A88).sw is None
    e = error_for(c.SCB_E_SECURITY_STATUS, "READ BINARY", sw=0x6982)
    assert "security" in e.sw_text.lower()


def test_python_base_classes():
    for cls in (scboot.ParseError, scboot.ValidationError, scboot.InvalidArgumentError,
                scboot.DataTooLargeError):
        assert issubclass(cls, ValueError)
    for cls in FAMILY_CLASSES:
        assert issubclass(cls, scboot.Error)
    assert set(scboot._errors.__all__) <= set(dir(scboot))


def test_python_code_raises_with_its_class_code():
    e = scboot.CardRemovedError("gone")
    assert e.code == c.SCB_E_CARD_REMOVED and e.name == "SCB_E_CARD_REMOVED"
    assert str(e) == "gone (SCB_E_CARD_REMOVED)"
    assert scboot.Error().name == "SCB_E_INTERNAL"


def test_no_range_arithmetic_on_codes():
    """The family comes from the library, nowhere else: no numeric ranges
    of codes in the package."""
    import pathlib
    import re
    package = pathlib.Path(scboot.__file__).parent
    pattern = re.compile(r"range\(\s*-\d|code\s*[<>]=?\s*-\d|-\d+\s*[<>]=?\s*(e\.)?code")
    for path in package.rglob("*.py"):
        assert not pattern.search(path.read_text(encoding="utf-8")), path


def test_card_status_error_from_a_card():
    with scboot.Card.from_transmit(lambda cmd: b"\x69\x82") as card:
        with pytest.raises(scboot.SecurityStatusError) as info:
            card.select_fid(0x6432)
    assert info.value.sw == 0x6982
    assert "6982" in info.value.detail


def test_pcsc_errors_are_transport_errors():
    if os.environ.get("SCB_WITH_PCSC") == "OFF":
        # A library built without PC/SC says so, for readers and lists alike.
        for call in (lambda: scboot.Card.open("no reader is called like this 1f7c"),
                     scboot.readers):
            with pytest.raises(scboot.UnsupportedError) as info:
                call()
            assert "no PC/SC support (built with SCB_WITH_PCSC=OFF)" in info.value.detail
        return
    with pytest.raises(scboot.TransportError) as info:
        scboot.Card.open("no reader is called like this 1f7c")
    assert info.value.code in (c.SCB_E_NO_READER, c.SCB_E_NO_SERVICE, c.SCB_E_NO_CARD)
    assert info.value.detail
