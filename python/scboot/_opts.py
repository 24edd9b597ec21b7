"""Options of the card operations: keyword arguments mapped onto the C
library's one option table.

Every name is looked up with ``scb_opt_find`` and its type read from
``scb_opt_info``, so each option the library has reaches Python under the
same name (``kvn``, ``sd_aid``, ``host_challenge``, ``pad``, ...; the
command line spells them ``--kvn``, ``--sd-aid``) and nothing here can drop
one. Value types:

- int options (``level``, ``kvn``, ``pin_ref``, ``replace_kvn``, ``baud``,
  ...): an ``int`` (not a ``bool``);
- booleans (``s16``, ``kdf3``, ``skip_efdir``, ``pad``, ...): ``bool`` (or
  0 / 1);
- enums (``modem_channels``): the value's name (``"cgla"``) or its number;
- bytes (``aid``, ``path``, ``sd_aid``, ``host_challenge``, ``pin``):
  ``bytes``, ``bytearray`` or ``memoryview``; a ``str`` is hex text (spaces
  and colons allowed, parsed by the library as the command line's) where the
  table writes the value as ``HEX``, and the text's UTF-8 bytes otherwise
  (the PIN: ``pin="1234"`` sends the digits, as ``SCBOOT_PIN`` does).

``None`` leaves an option at the library's default. Errors, all raised
before the card is touched:

- a name the library does not know: :class:`InvalidArgumentError` naming it
  (code ``SCB_E_INVALID_ARG``, the usage family: the same code the library
  gives for an option outside the scope of the call, e.g. ``pad`` given to
  a read, whose message names the option and the call);
- a value of the wrong Python type: :class:`TypeError` naming the option;
- a value out of range: :class:`InvalidArgumentError` with the library's
  message (which never quotes a secret).
"""
from __future__ import annotations

import contextlib
import difflib
from typing import Any, Iterator, List, Mapping, Union

from . import _scboot as _c
from ._errors import InvalidArgumentError, check, error_for

__all__ = ["OptionValue", "c_options", "option_names"]

OptionValue = Union[None, bool, int, str, bytes, bytearray, memoryview]

_BYTES_LIKE = (bytes, bytearray, memoryview)


def option_names() -> List[str]:
    """Every option name of the library's table, in table order."""
    names: List[str] = []
    opt = 1
    while True:
        rc, info = _c.scb_opt_info(opt)
        if rc < 0:
            return names
        names.append(info.name)
        opt += 1


# Spellings of a key probe inside a call that now opens a session: the
# probe is a call of its own (a job never runs without a session).
_PROBE = ("authenticate", "no_extauth")


def _unknown(name: str) -> InvalidArgumentError:
    close = difflib.get_close_matches(name, option_names(), n=1)
    if name in _PROBE:
        hint = " (a key check without EXTERNAL AUTHENTICATE is Card.probe_keys)"
    else:
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    return InvalidArgumentError(f"unknown option {name!r}{hint}")


def _set(handle: Any, name: str, value: Any) -> None:
    opt = _c.scb_opt_find(name)
    if opt < 0:
        raise _unknown(name)
    rc, info = _c.scb_opt_info(opt)
    check(rc)
    kind = info.type
    if kind == _c.SCB_OPT_T_BYTES:
        if isinstance(value, _BYTES_LIKE):
            rc = _c.scb_opts_set_bytes(handle, opt, value)
        elif isinstance(value, str) and info.arg == "HEX":
            rc = _c.scb_opts_set_text(handle, opt, value)
        elif isinstance(value, str):
            rc = _c.scb_opts_set_bytes(handle, opt, value.encode("utf-8"))
        else:
            raise TypeError(f"option {name!r} takes bytes or text, not {type(value).__name__}")
    elif kind == _c.SCB_OPT_T_ENUM and isinstance(value, str):
        rc = _c.scb_opts_set_text(handle, opt, value)
    elif isinstance(value, int) and (kind == _c.SCB_OPT_T_BOOL or not isinstance(value, bool)):
        try:
            rc = _c.scb_opts_set_int(handle, opt, value)
        except OverflowError:   # beyond a C long long: out of every option's range
            raise InvalidArgumentError(f"option {name!r}: {value} is out of range") from None
    else:
        wanted = {_c.SCB_OPT_T_BOOL: "a bool", _c.SCB_OPT_T_ENUM: "a name or an int"}
        raise TypeError(f"option {name!r} takes {wanted.get(kind, 'an int')}, "
                        f"not {type(value).__name__}")
    if rc < 0:
        raise error_for(rc, _c.scb_opts_errmsg(handle))


@contextlib.contextmanager
def c_options(values: Mapping[str, OptionValue]) -> Iterator[Any]:
    """A C options object (scb_opts_t) holding ``values`` (``None`` values
    are left unset); freed, and the PIN in it wiped, when the block ends."""
    rc, handle = _c.scb_opts_new()
    check(rc)
    try:
        for name, value in values.items():
            if value is not None:
                _set(handle, name, value)
        yield handle
    finally:
        _c.scb_opts_free(handle)
