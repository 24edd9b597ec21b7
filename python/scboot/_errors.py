"""Exceptions: one class per family of the library's SCB_E_* codes.

Every exception carries the C code (``code``), its stable symbolic name
(``name``) and the library's detail text (``detail``, which never holds key
material). Card-level errors also carry the last status word (``sw``).
"""
from __future__ import annotations

from typing import Dict, Optional, Type

from . import _scboot as _c

__all__ = [
    "Error", "InvalidArgumentError", "StateError", "UnsupportedError",
    "TransportError", "NoServiceError", "NoReaderError", "NoCardError", "CardRemovedError",
    "CardResetError", "TransportTimeoutError", "SharingError", "ModemError",
    "CardStatusError", "BadResponseError", "NotFoundError", "SecurityStatusError",
    "NoChannelError", "WrongLengthError", "FileTooLargeError", "PinRequiredError",
    "PinWrongError",
    "SecureChannelError", "CardCryptogramError", "RMacError", "PaddingError",
    "SecurityLevelError", "AuthenticationRejectedError",
    "ParseError", "NoBootstrapError", "ValidationError", "WriteError",
]


class Error(Exception):
    """Base class of every error scboot raises.

    Attributes: ``code`` (negative SCB_E_* number), ``name`` (e.g.
    ``"SCB_E_SCP_RMAC"``), ``detail`` (what the library found, or ``""``),
    ``sw`` (last status word for card errors, else ``None``).

    A transport function given to :meth:`Card.from_transmit` may raise a
    :class:`TransportError` subclass (e.g. :class:`CardRemovedError`): the
    library then reacts to that condition before the exception reaches the
    caller.
    """

    code: int = _c.SCB_E_INTERNAL

    def __init__(self, detail: str = "", *, code: Optional[int] = None,
                 sw: Optional[int] = None) -> None:
        if code is not None:
            self.code = code
        self.name: str = _c.scb_error_name(self.code)
        self.detail: str = detail
        self.sw: Optional[int] = sw
        text = detail or _c.scb_strerror(self.code)
        super().__init__(f"{text} ({self.name})")


class InvalidArgumentError(Error, ValueError):
    """An argument the library rejects (SCB_E_INVALID_ARG, SCB_E_BUFFER_TOO_SMALL)."""
    code = _c.SCB_E_INVALID_ARG


class StateError(Error):
    """The call is not valid now: closed card, no session, ... (SCB_E_STATE)."""
    code = _c.SCB_E_STATE


class UnsupportedError(Error):
    """A valid request this build or card cannot do (SCB_E_UNSUPPORTED)."""
    code = _c.SCB_E_UNSUPPORTED


class TransportError(Error):
    """The path to the card failed (PC/SC, a transport function)."""
    code = _c.SCB_E_TRANSPORT


class NoServiceError(TransportError):
    """The PC/SC daemon is not running or not reachable."""
    code = _c.SCB_E_NO_SERVICE


class NoReaderError(TransportError):
    """No reader, or none matches the requested name."""
    code = _c.SCB_E_NO_READER


class NoCardError(TransportError):
    """The reader holds no card."""
    code = _c.SCB_E_NO_CARD


class CardRemovedError(TransportError):
    """The card went away during the session."""
    code = _c.SCB_E_CARD_REMOVED


class CardResetError(TransportError):
    """Someone else reset the card: channels and sessions are gone."""
    code = _c.SCB_E_CARD_RESET


class TransportTimeoutError(TransportError):
    """The card or reader did not answer in time."""
    code = _c.SCB_E_TIMEOUT


class SharingError(TransportError):
    """Another process holds the reader exclusively."""
    code = _c.SCB_E_SHARING


class ModemError(TransportError):
    """A modem (AT+CSIM) answered ERROR or +CME ERROR."""
    code = _c.SCB_E_MODEM


class CardStatusError(Error):
    """The card answered with an unexpected status word or a malformed
    response. ``sw`` holds the last status word (0 when none arrived)."""
    code = _c.SCB_E_STATUS

    @property
    def sw_text(self) -> str:
        """Meaning of ``sw`` per ISO 7816-4 / ETSI TS 102 221."""
        return _c.scb_sw_text(self.sw or 0)


class BadResponseError(CardStatusError):
    """Malformed, truncated or overlong response, or 61xx/6Cxx loops beyond bound."""
    code = _c.SCB_E_BAD_RESPONSE


class NotFoundError(CardStatusError):
    """File or application not found (6A82 / 6A88)."""
    code = _c.SCB_E_NOT_FOUND


class SecurityStatusError(CardStatusError):
    """Security status not satisfied (6982): e.g. a read without the secure channel."""
    code = _c.SCB_E_SECURITY_STATUS


class NoChannelError(CardStatusError):
    """No logical channel available (6A81 / 6881)."""
    code = _c.SCB_E_NO_CHANNEL


class WrongLengthError(CardStatusError):
    """Wrong length (6700)."""
    code = _c.SCB_E_WRONG_LENGTH


class FileTooLargeError(CardStatusError):
    """File larger than the 32 KB limit."""
    code = _c.SCB_E_FILE_TOO_LARGE


class PinRequiredError(CardStatusError):
    """The object is private: verify a PIN first."""
    code = _c.SCB_E_PIN_REQUIRED


class PinWrongError(CardStatusError):
    """PIN rejected or blocked (63Cx / 6983)."""
    code = _c.SCB_E_PIN_WRONG


class SecureChannelError(Error):
    """SCP03 failed: handshake, secure messaging, or key handling."""
    code = _c.SCB_E_SCP_PROTOCOL


class CardCryptogramError(SecureChannelError):
    """The card's cryptogram does not verify: wrong keys or key version.
    Raised before EXTERNAL AUTHENTICATE is sent."""
    code = _c.SCB_E_SCP_CARD_CRYPTOGRAM


class RMacError(SecureChannelError):
    """A response MAC (R-MAC) did not verify."""
    code = _c.SCB_E_SCP_RMAC


class PaddingError(SecureChannelError):
    """An R-ENC plaintext carries invalid padding."""
    code = _c.SCB_E_SCP_PADDING


class SecurityLevelError(SecureChannelError):
    """The card does not support the requested security level (its i parameter)."""
    code = _c.SCB_E_SCP_LEVEL


class AuthenticationRejectedError(SecureChannelError):
    """The card rejected EXTERNAL AUTHENTICATE."""
    code = _c.SCB_E_SCP_AUTH_REJECTED


class ParseError(Error, ValueError):
    """Malformed card data (DER, PKCS#15, TLV, bootstrap file); ``detail``
    says what and where."""
    code = _c.SCB_E_PARSE


class NoBootstrapError(ParseError):
    """No LwM2M bootstrap entry in any DODF."""
    code = _c.SCB_E_NO_BOOTSTRAP


class ValidationError(Error, ValueError):
    """Input model or JSON invalid; ``detail`` names the field and the reason."""
    code = _c.SCB_E_VALIDATION


class WriteError(Error):
    """A write was interrupted (re-provision the card) or its read-back differs."""
    code = _c.SCB_E_WRITE_INCOMPLETE


def _families() -> Dict[int, Type[Error]]:
    table: Dict[int, Type[Error]] = {}
    # Whole ranges first (scboot.h groups the codes), then the classes
    # that name one code.
    for code in range(-1, -10, -1):
        table[code] = Error
    for code in range(-10, -20, -1):
        table[code] = TransportError
    for code in range(-20, -30, -1):
        table[code] = CardStatusError
    for code in range(-30, -50, -1):
        table[code] = SecureChannelError
    for code in range(-50, -60, -1):
        table[code] = ParseError
    for code in range(-60, -70, -1):
        table[code] = WriteError
    specific = [InvalidArgumentError, StateError, UnsupportedError, NoServiceError,
                NoReaderError, NoCardError, CardRemovedError, CardResetError,
                TransportTimeoutError, SharingError, ModemError, BadResponseError,
                NotFoundError, SecurityStatusError, NoChannelError, WrongLengthError,
                FileTooLargeError, PinRequiredError, PinWrongError, CardCryptogramError,
                RMacError, PaddingError, SecurityLevelError, AuthenticationRejectedError,
                NoBootstrapError, ValidationError]
    for cls in specific:
        table[cls.code] = cls
    table[_c.SCB_E_BUFFER_TOO_SMALL] = InvalidArgumentError
    table[_c.SCB_E_GET_RESPONSE_LIMIT] = BadResponseError
    table[_c.SCB_E_MODEM_CME] = ModemError
    return table


_BY_CODE = _families()


def error_for(code: int, detail: str = "", sw: Optional[int] = None) -> Error:
    """The exception for a negative SCB_E_* code."""
    cls = _BY_CODE.get(code, Error)
    if not issubclass(cls, CardStatusError):
        sw = None
    return cls(detail, code=code, sw=sw)


def check(rc: int, detail: str = "") -> None:
    """Raise for a failed call without a card handle (detail from the call)."""
    if rc < 0:
        raise error_for(rc, detail)
