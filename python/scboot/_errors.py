"""Exceptions: one class per family of the library's SCB_E_* codes, and
subclasses for the codes worth catching on their own.

The family of a code is the library's (``scb_error_family``), the one
source the command line's exit codes and the Lua binding use too:

======================  ===================================================
family                  class
======================  ===================================================
usage (exit code 2)     :class:`UsageError`
transport (3)           :class:`TransportError`
card (4)                :class:`CardStatusError`
secure channel (5)      :class:`SecureChannelError`
data (6)                :class:`DataError`
write (7)               :class:`WriteError`
key store (8)           :class:`KeystoreError`
other (1)               :class:`Error`
======================  ===================================================

Every exception carries the C code (``code``), its stable symbolic name
(``name``) and the library's detail text (``detail``, which never holds key
material). Card-family errors also carry the last status word (``sw``).
"""
from __future__ import annotations

from typing import Dict, Optional, Type

from . import _scboot as _c

__all__ = [
    "Error", "UsageError", "InvalidArgumentError", "StateError", "ValidationError",
    "DataTooLargeError", "UnsupportedError",
    "TransportError", "NoServiceError", "NoReaderError", "NoCardError", "CardRemovedError",
    "CardResetError", "TransportTimeoutError", "SharingError", "ModemError",
    "CardStatusError", "BadResponseError", "NotFoundError", "SecurityStatusError",
    "NoChannelError", "WrongLengthError", "PinRequiredError", "PinWrongError",
    "SecureChannelError", "CardCryptogramError", "RMacError", "PaddingError",
    "SecurityLevelError", "AuthenticationRejectedError", "NoKeySetError",
    "DataError", "ParseError", "NoBootstrapError", "FileTooLargeError",
    "WriteError", "KeystoreError",
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


class UsageError(Error):
    """The call or its input is wrong: nothing was sent that the input
    could harm (the usage family: invalid arguments and options, invalid
    input data, a call in the wrong state)."""
    code = _c.SCB_E_INVALID_ARG


class InvalidArgumentError(UsageError, ValueError):
    """An argument or option the library rejects: out of range, an unknown
    option, an option outside the scope of the call (SCB_E_INVALID_ARG,
    SCB_E_BUFFER_TOO_SMALL)."""
    code = _c.SCB_E_INVALID_ARG


class StateError(UsageError):
    """The call is not valid now: closed card, no session, ... (SCB_E_STATE)."""
    code = _c.SCB_E_STATE


class ValidationError(UsageError, ValueError):
    """Input model or JSON invalid; ``detail`` names the field and the reason."""
    code = _c.SCB_E_VALIDATION


class DataTooLargeError(UsageError, ValueError):
    """The data to write is larger than the bootstrap EF (or 32 KB); nothing
    was written."""
    code = _c.SCB_E_DATA_TOO_LARGE


class UnsupportedError(Error):
    """A valid request this build or card cannot do (SCB_E_UNSUPPORTED)."""
    code = _c.SCB_E_UNSUPPORTED


class TransportError(Error):
    """The path to the card failed (PC/SC, a transport function, a modem)."""
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
    """Another process holds the reader (or the modem's port) exclusively."""
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


class PinRequiredError(CardStatusError):
    """The object is private: verify a PIN first."""
    code = _c.SCB_E_PIN_REQUIRED


class PinWrongError(CardStatusError):
    """PIN rejected or blocked (63Cx / 6983)."""
    code = _c.SCB_E_PIN_WRONG


class SecureChannelError(Error):
    """SCP03 failed: handshake, secure messaging, key handling, or no session
    at the level asked for."""
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


class NoKeySetError(SecureChannelError):
    """The card has no key set with the version asked for (6A88 to
    INITIALIZE UPDATE)."""
    code = _c.SCB_E_SCP_NO_KEYSET


class DataError(Error):
    """No or invalid bootstrap data on the card (the data family)."""
    code = _c.SCB_E_PARSE


class ParseError(DataError, ValueError):
    """Malformed card data (DER, PKCS#15, TLV, bootstrap file); ``detail``
    says what and where."""
    code = _c.SCB_E_PARSE


class NoBootstrapError(ParseError):
    """No LwM2M bootstrap entry in any DODF."""
    code = _c.SCB_E_NO_BOOTSTRAP


class FileTooLargeError(DataError):
    """A file on the card is larger than the 32 KB limit."""
    code = _c.SCB_E_FILE_TOO_LARGE


class WriteError(Error):
    """A write was interrupted (re-provision the card) or its read-back differs."""
    code = _c.SCB_E_WRITE_INCOMPLETE


class KeystoreError(Error):
    """A key store (a PKCS#11 token holding the keys) failed."""


# The class of each family (scb_error_family); a code without a class of
# its own gets its family's.
_FAMILY: Dict[int, Type[Error]] = {
    _c.SCB_FAMILY_OTHER: Error,
    _c.SCB_FAMILY_USAGE: UsageError,
    _c.SCB_FAMILY_TRANSPORT: TransportError,
    _c.SCB_FAMILY_CARD: CardStatusError,
    _c.SCB_FAMILY_SECURE: SecureChannelError,
    _c.SCB_FAMILY_DATA: DataError,
    _c.SCB_FAMILY_WRITE: WriteError,
    _c.SCB_FAMILY_KEYSTORE: KeystoreError,
}

# Codes with a class of their own, by the code's stable name: every class
# above that names a code, and the codes that share a class.
_BY_NAME: Dict[str, Type[Error]] = {
    _c.scb_error_name(cls.code): cls
    for cls in (InvalidArgumentError, StateError, ValidationError, DataTooLargeError,
                UnsupportedError, NoServiceError, NoReaderError, NoCardError, CardRemovedError,
                CardResetError, TransportTimeoutError, SharingError, ModemError,
                BadResponseError, NotFoundError, SecurityStatusError, NoChannelError,
                WrongLengthError, PinRequiredError, PinWrongError, CardCryptogramError,
                RMacError, PaddingError, SecurityLevelError, AuthenticationRejectedError,
                NoKeySetError, ParseError, NoBootstrapError, FileTooLargeError)
}
_BY_NAME.update({
    "SCB_E_BUFFER_TOO_SMALL": InvalidArgumentError,
    "SCB_E_GET_RESPONSE_LIMIT": BadResponseError,
    "SCB_E_MODEM_CME": ModemError,
})


def error_class(code: int) -> Type[Error]:
    """The exception class of a negative SCB_E_* code: its own, else its
    family's."""
    own = _BY_NAME.get(_c.scb_error_name(code))
    return own if own is not None else _FAMILY.get(_c.scb_error_family(code), Error)


def error_for(code: int, detail: str = "", sw: Optional[int] = None) -> Error:
    """The exception for a negative SCB_E_* code."""
    cls = error_class(code)
    if _c.scb_error_family(code) != _c.SCB_FAMILY_CARD:
        sw = None
    return cls(detail, code=code, sw=sw)


def check(rc: int, detail: str = "") -> None:
    """Raise for a failed call without a card handle (detail from the call)."""
    if rc < 0:
        raise error_for(rc, detail)
