"""Bootstrap: a decoded LwM2M bootstrap file (EF.LwM2M_Bootstrap)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from . import _scboot as _c
from ._errors import check
from ._types import AccessInfo
from ._util import BytesLike, to_bytes

__all__ = ["Bootstrap", "LwM2MObject", "Instance", "Resource", "resource_info"]

Value = Union[None, str, int, float, bool, bytes, Tuple[int, int]]


def resource_info(object_id: int, resource_id: int) -> Optional[Dict[str, Any]]:
    """What the OMA object definition says about a resource: ``name``,
    ``key`` (the dict key), ``type``, ``multiple``, ``secret``; None when
    the library does not know the resource."""
    rc, info = _c.scb_lwm2m_resource_info(object_id, resource_id)
    if rc < 0:
        return None
    return {"name": info.name, "key": info.key, "type": info.type,
            "multiple": bool(info.multiple), "secret": bool(info.secret)}


def _typed_value(object_id: int, resource_id: int, multiple: bool, raw: bytes) -> Value:
    """A raw TLV value as the Python value of its OMA data type, exactly as
    the library's JSON renders it (to_dict): the library decides whether
    the bytes are a valid value of the resource's type and range; bytes
    that are not (and unknown resources, opaque values) stay ``raw``."""
    rc, text = _c.scbj_value_to_json(object_id, resource_id, int(multiple), raw,
                                     _c.SCBJ_SHOW_SECRETS | _c.SCBJ_COMPACT)
    check(rc)
    value = json.loads(text)
    info = resource_info(object_id, resource_id)
    if isinstance(value, dict) or info is None or info["type"] == _c.SCB_T_OPAQUE:
        return raw          # {"hex": ...}, or an opaque value: its bytes
    if info["type"] == _c.SCB_T_OBJLNK:
        obj, inst = value.split(":")   # FORMAT.md: "object:instance"
        return (int(obj), int(inst))
    assert isinstance(value, (str, int, float, bool))
    return value


@dataclass
class Resource:
    """One resource: ``value`` (raw bytes) for a single-instance resource,
    ``instances`` ({id: raw bytes}) for a multiple one. ``decoded`` gives
    the typed value when the library knows the resource."""
    object_id: int
    id: int
    value: Optional[bytes] = None
    instances: Optional[Dict[int, bytes]] = None

    @property
    def info(self) -> Optional[Dict[str, Any]]:
        """:func:`resource_info` of this resource (None: unknown to the library)."""
        return resource_info(self.object_id, self.id)

    @property
    def secret(self) -> bool:
        """Whether the object definition makes this a secret (a key, a PSK):
        ``repr`` and ``str`` then show only its size."""
        info = self.info
        return bool(info and info["secret"])

    def __repr__(self) -> str:
        def shown(value: bytes) -> str:
            return f"<secret, {len(value)} bytes>" if self.secret else repr(value)
        head = f"Resource(object_id={self.object_id}, id={self.id}, name={self.name!r}"
        if self.instances is not None:
            inner = ", ".join(f"{i}: {shown(v)}" for i, v in self.instances.items())
            return f"{head}, instances={{{inner}}})"
        return f"{head}, value={shown(self.value or b'')})"

    @property
    def name(self) -> Optional[str]:
        info = self.info
        return info["name"] if info else None

    @property
    def decoded(self) -> Union[Value, Dict[int, Value]]:
        """The typed value (``{id: value}`` for a multiple resource), as
        :meth:`Bootstrap.to_dict` shows it with ``secrets=True``: ``str``,
        ``int``, ``float``, ``bool``, ``(object, instance)`` for an object
        link; ``bytes`` for opaque values, unknown resources, and bytes that
        are not a valid value of the resource's type (invalid UTF-8, a
        3-byte integer, an integer out of the resource's range, a
        multiplicity other than the object definition's)."""
        if self.instances is not None:
            return {i: _typed_value(self.object_id, self.id, True, v)
                    for i, v in self.instances.items()}
        return _typed_value(self.object_id, self.id, False, self.value or b"")


@dataclass
class Instance:
    """An object instance and its resources, in file order."""
    id: int
    resources: List[Resource] = field(default_factory=list)

    def resource(self, resource_id: int) -> Optional[Resource]:
        return next((r for r in self.resources if r.id == resource_id), None)


@dataclass
class LwM2MObject:
    """An LwM2M object of the file: id, version ((major, minor), None when
    implicit 1.0) and its instances."""
    id: int
    version: Optional[Tuple[int, int]]
    instances: List[Instance] = field(default_factory=list)

    @property
    def name(self) -> Optional[str]:
        return _c.scb_lwm2m_object_name(self.id)


class Bootstrap:
    """A decoded LwM2M bootstrap file.

    Get one from :meth:`Card.read_bootstrap`, :meth:`parse` (file bytes),
    or build one from a dict in the library's JSON model
    (``Bootstrap(d)``, the inverse of :meth:`to_dict`). :meth:`encode`
    gives the file bytes to provision.

    ``to_dict()`` redacts secret resources (keys, PSKs) unless
    ``secrets=True``; ``repr`` never shows them.
    """

    def __init__(self, data: Optional[Mapping[str, Any]] = None) -> None:
        self._access: Optional[AccessInfo] = None
        if data is None:
            rc, handle = _c.scb_bootstrap_new()
            check(rc)
        else:
            rc, handle, detail = _c.scbj_bootstrap_from_json(json.dumps(data))
            check(rc, detail)
        self._h: Any = handle

    @classmethod
    def _adopt(cls, handle: Any, access: Optional[AccessInfo] = None) -> "Bootstrap":
        bs = cls.__new__(cls)
        bs._h = handle
        bs._access = access
        return bs

    @classmethod
    def parse(cls, raw: BytesLike) -> "Bootstrap":
        """Decode file bytes (header + objects; FF padding after the declared
        size is ignored). Malformed input raises :class:`ParseError` naming
        what and where."""
        rc, handle, detail = _c.scb_bootstrap_decode(to_bytes(raw, "raw"))
        check(rc, detail)
        return cls._adopt(handle)

    @classmethod
    def from_json(cls, text: str) -> "Bootstrap":
        """From the library's JSON text (see :meth:`to_json`)."""
        rc, handle, detail = _c.scbj_bootstrap_from_json(text)
        check(rc, detail)
        return cls._adopt(handle)

    def close(self) -> None:
        """Free the model (secret values are wiped). Safe to call twice."""
        h, self._h = self._h, None
        if h is not None:
            _c.scb_bootstrap_free(h)

    def __del__(self) -> None:
        if getattr(self, "_h", None) is not None:
            self.close()

    def __enter__(self) -> "Bootstrap":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- views -------------------------------------------------------------
    def to_json(self, secrets: bool = False) -> str:
        """The library's JSON rendering (secret resources redacted unless
        ``secrets``)."""
        rc, text = _c.scbj_bootstrap_to_json(self._h, _c.SCBJ_SHOW_SECRETS if secrets else 0)
        check(rc)
        return text

    def to_dict(self, secrets: bool = False) -> Dict[str, Any]:
        """The file as a dict (``json.loads`` of :meth:`to_json`)."""
        value: Dict[str, Any] = json.loads(self.to_json(secrets))
        return value

    @property
    def security(self) -> List[Dict[str, Any]]:
        """The Security object (0) instances, secrets redacted."""
        return list(self.to_dict().get("security", []))

    @property
    def servers(self) -> List[Dict[str, Any]]:
        """The Server object (1) instances."""
        return list(self.to_dict().get("servers", []))

    @property
    def warnings(self) -> List[str]:
        """Accounts an LwM2M client will likely refuse though the file
        format allows them, by JSON path: ``"security[1]: no server_uri"``,
        ``"servers[0]: no short_server_id"`` (the library's list, as
        ``scboot write`` prints it)."""
        found: List[str] = []
        while True:
            rc, text = _c.scbj_bootstrap_warning(self._h, len(found))
            if rc < 0:
                return found
            found.append(text)

    @property
    def objects(self) -> List[LwM2MObject]:
        """Every object of the file, in file order, with raw resource values."""
        out = []
        for oi in range(_c.scb_bootstrap_object_count(self._h)):
            rc, o = _c.scb_bootstrap_object(self._h, oi)
            check(rc)
            version = (o.version_major, o.version_minor) if o.version_major else None
            obj = LwM2MObject(o.id, version)
            for ii in range(o.instance_count):
                rc, inst = _c.scb_bootstrap_instance(self._h, oi, ii)
                check(rc)
                instance = Instance(inst.id)
                for ri in range(inst.resource_count):
                    instance.resources.append(self._resource(o.id, oi, ii, ri))
                obj.instances.append(instance)
            out.append(obj)
        return out

    def _resource(self, object_id: int, oi: int, ii: int, ri: int) -> Resource:
        rc, r = _c.scb_bootstrap_resource(self._h, oi, ii, ri)
        check(rc)
        if not r.multiple:
            return Resource(object_id, r.id, value=r.value_bytes())
        instances = {}
        for rii in range(r.instance_count):
            rc, rid, value = _c.scb_bootstrap_resource_instance(self._h, oi, ii, ri, rii)
            check(rc)
            instances[rid] = value
        return Resource(object_id, r.id, instances=instances)

    @property
    def raw(self) -> Optional[bytes]:
        """The bytes read from the card (the whole EF, padding included),
        None for a model that was not read or parsed."""
        rc, data = _c.scb_bootstrap_raw(self._h)
        return data if rc == 0 and data else None

    @property
    def digest(self) -> bytes:
        """SHA-256 over the file's meaningful bytes (no padding): compare it
        to detect a change of the card's data."""
        rc, value = _c.scb_bootstrap_digest(self._h)
        check(rc)
        return value

    @property
    def access(self) -> Optional[AccessInfo]:
        """How :meth:`Card.read_bootstrap` found the file (None otherwise)."""
        return self._access

    def encode(self) -> bytes:
        """The file bytes (minimal TLV lengths, no padding)."""
        rc, data = _c.scb_bootstrap_encode(self._h, None)
        check(rc, "bootstrap file does not encode")
        return data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bootstrap):
            return NotImplemented
        return self.digest == other.digest

    __hash__ = None  # type: ignore[assignment]  # mutable model

    def __repr__(self) -> str:
        if self._h is None:
            return "<scboot.Bootstrap closed>"
        ids = [o.id for o in self.objects]
        return f"<scboot.Bootstrap objects={ids} digest={self.digest[:4].hex()}...>"
