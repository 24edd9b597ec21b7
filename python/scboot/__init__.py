"""scboot: LwM2M bootstrap information from a smartcard (UICC), over
GlobalPlatform SCP03 and PKCS#15 -- the Python face of the C library.

Read the bootstrap data of the card in the first PC/SC reader::

    import scboot
    keys = scboot.Keys(enc="404142...4F", mac="404142...4F", dek="404142...4F", kvn=0x30)
    with scboot.Card.open() as card:
        bs = card.read_bootstrap(keys)          # SCP03 level 0x33 by default
        print(bs.to_dict())                     # secrets redacted
        print(bs.servers, bs.digest.hex())

Other ways to reach a card: ``Card.sim()`` (the virtual card, in process),
``Card.from_transmit(fn)`` (any Python function ``bytes -> bytes``) and
``Card.from_pyscard(connection)``. Lower levels are there too:
``card.transmit(apdu)``, ``card.open_channel()``, ``card.open_scp03(keys)``,
``card.probe_keys(keys)`` (a key check without EXTERNAL AUTHENTICATE),
``card.select_aid(aid)``, ``card.read_binary()``.

The operations take the library's options as keyword arguments, by the
names ``scboot help COMMAND`` shows (``--sd-aid`` is ``sd_aid=``)::

    card.read_bootstrap(keys, kvn=0x31, sd_aid="A000000063504B43532D3135")
    card.write_bootstrap(data, keys, pad=True)

An option the library does not know, or one that does not apply to the
call, raises :class:`InvalidArgumentError` before the card is touched (see
``scboot._opts`` for the value types).

Errors are :class:`scboot.Error` subclasses, one per family of the
library's error codes (:class:`UsageError`, :class:`TransportError`,
:class:`CardStatusError` with ``.sw``, :class:`SecureChannelError`,
:class:`DataError`, :class:`WriteError`, :class:`KeystoreError`) with
subclasses for single codes; messages never contain key material.

The protocol logic lives in the C library; this package is a thin layer
over it. Card I/O releases the GIL.

Provisioning a batch of cards (every reader at once, resumable, with a
report): ``python3 -m scboot.provision JOB --keys keys.json`` (see
:mod:`scboot.provision`).

A pytest plugin (``--scboot-reader``, ``--scboot-keys``, ``--scboot-sim``)
and a conformance suite for real cards come with the package::

    python3 -m pytest --pyargs scboot.conformance --scboot-reader NAME --scboot-keys keys.json
"""
# SWIG's proxy module registers the struct classes the extension returns.
from . import _core  # noqa: F401  (imported first, for that side effect)
from . import _errors, _scboot
from ._bootstrap import Bootstrap, Instance, LwM2MObject, Resource, resource_info
from ._card import DEFAULT_TIMEOUT, Card, readers
from ._errors import *  # noqa: F401,F403  (the exception classes, listed in _errors.__all__)
from ._keys import Keys, kcv
from ._types import (AccessInfo, AppTemplate, DodfEntry, Fcp, FileStructure, Level, OidForm,
                     Path, PinObject, PinType, ScpInfo, TraceKind)

__version__: str = _scboot.scb_version()

__all__ = [
    "Bootstrap", "Card", "DEFAULT_TIMEOUT", "Keys", "kcv", "readers", "resource_info",
    "LwM2MObject", "Instance", "Resource",
    "AccessInfo", "AppTemplate", "DodfEntry", "Fcp", "FileStructure", "Level", "OidForm",
    "Path", "PinObject", "PinType", "ScpInfo", "TraceKind",
]
__all__ += _errors.__all__   # (a form type checkers read: the names are exported)
