"""Provisioning job files (``python3 -m scboot.provision``): which bootstrap
data and which keys go to which card.

A job is JSON lines (one JSON object per line) or CSV (a header row, then
one row per card). Each row may hold:

``iccid``
    the card the row is for (EF.ICCID digits). Rows without one are handed
    to cards in file order, one row per card.
``bootstrap``
    the card's bootstrap document in the JSON format of ``scboot read
    --json --show-secrets`` (core/json/FORMAT.md); in CSV, its JSON text.
``bootstrap_hex``
    the encoded file's bytes instead (like ``scboot write --raw``).
``keys``, ``new_keys``
    the card's current SCP03 keys and the keys to rotate to after the
    write: a reference (text: a key file path, relative to the job file, or
    a ``pkcs11:`` URI; ``${iccid}`` is filled in per card; see
    ``scboot._keyref``), a key set in a token with its version ``{"pkcs11":
    URI, "kvn": N}``, or a key set JSON object ``{"enc", "mac", "dek",
    "kvn"}``; in CSV, a ``keys`` / ``new_keys`` column with a reference, or
    the columns ``keys.enc``, ``keys.mac``, ... ``new_keys.kvn`` (or
    ``new_keys.pkcs11`` and ``new_keys.kvn``). A bare URI is key version 0
    (the card's default key set) and names current keys only: new keys in
    a token need their version. A job store holds references only.
``replace_kvn``
    rotate by replacing this key set instead of adding one.
``s16``
    force the secure channel's mode for this card: true S16, false S8
    (JSON true/false; CSV true/false, 1/0, yes/no). Without it the mode is
    the card's, detected by the library (S8, or S16 when the card answers
    6700 to an 8-byte challenge), which is what a batch of mixed cards
    wants.

Any other field is a template field: with a template (a bootstrap document
holding ``${name}`` placeholders) each row's fields (and its ``iccid``) fill
in the placeholders. A placeholder that is a whole JSON string takes the row's
value as it is (a JSON lines number stays a number) or converted with
``${name:int}``, ``${name:bool}`` or ``${name:json}``; inside a longer
string it is replaced by the value's text. ``$$`` is a literal ``$``.

Everything is validated before a card is touched; errors name the file, the
row and the field, never a value (rows hold secret keys).
"""
from __future__ import annotations

import collections
import csv
import json
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, Iterator, List, Mapping, Optional, Set, Tuple

from ._bootstrap import Bootstrap
from ._errors import Error
from ._keyref import KeyRefError, canonical
from ._keys import Keys
from ._store import Claim

__all__ = ["JobError", "CardJob", "Job", "job_format", "parse_kvn"]

RESERVED = ("iccid", "bootstrap", "bootstrap_hex", "keys", "new_keys", "replace_kvn", "s16")
# Fields that are the library's options of the same name (scboot._opts),
# forced for the row's card in every call on it.
ROW_OPTIONS = ("s16",)
_KEY_SETS = ("keys", "new_keys")
_KEY_FIELDS = ("enc", "mac", "dek", "kvn")
_ICCID = re.compile(r"[0-9]{1,20}")
# ${name} or ${name:type}; $$ escapes a dollar sign.
_PLACEHOLDER = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\})")
_TYPES = ("int", "bool", "json")
_MAX_ERRORS = 20


class JobError(ValueError):
    """The job (or its template) is not usable; the message names where."""


def job_format(path: str, given: Optional[str] = None) -> str:
    """"csv" or "jsonl": the given format, else from the file name."""
    if given:
        return given
    return "csv" if path.lower().endswith(".csv") else "jsonl"


def parse_kvn(text: Any, what: str) -> int:
    """A key version number 0..255 from an int or text (decimal or 0x..)."""
    try:
        value = text if isinstance(text, int) and not isinstance(text, bool) else int(str(text), 0)
    except ValueError:
        raise JobError(f"{what}: not a number") from None
    if not 0 <= value <= 0xFF:
        raise JobError(f"{what}: {value} is not a key version number (0..255)")
    return value


@dataclass
class CardJob:
    """What one card gets: ``row`` is the 1-based data row of the job (or
    the row's number in a job store, whose ``claim`` it then carries)."""
    row: int
    iccid: Optional[str]
    data: bytes                    # the encoded bootstrap file
    digest: bytes                  # SHA-256 the card's file must have afterwards
    keys: Optional[Keys]           # None: keys_ref, else the job-wide keys
    new_keys: Optional[Keys]       # None: new_keys_ref, else the job-wide new keys (if any)
    replace_kvn: Optional[int]     # None: the job-wide choice
    keys_ref: Optional[str] = None       # a key reference (scboot._keyref)
    new_keys_ref: Optional[str] = None
    claim: Optional[Claim] = None
    options: Dict[str, Any] = field(default_factory=dict)   # the row's library options


# ---- reading rows ---------------------------------------------------------

def _jsonl_rows(path: str) -> Iterator[Tuple[int, Dict[str, Any]]]:
    with open(path, encoding="utf-8") as f:
        row = 0
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            row += 1
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                raise JobError(f"{path} line {lineno}: not valid JSON ({e.msg}, column "
                               f"{e.colno})") from None
            if not isinstance(value, dict):
                raise JobError(f"{path} line {lineno}: expected a JSON object")
            yield row, value


def _csv_rows(path: str) -> Iterator[Tuple[int, Dict[str, Any]]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        seen: Set[str] = set()
        for name in header:
            if not name or name in seen:
                raise JobError(f"{path}: header: {'an empty' if not name else repr(name)} "
                               f"column name{' twice' if name else ''}")
            seen.add(name)
        row = 0
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            row += 1
            if len(cells) != len(header):
                raise JobError(f"{path} row {row} (line {reader.line_num}): {len(cells)} cells, "
                               f"the header has {len(header)}")
            yield row, dict(zip(header, cells))


def _nest_csv(flat: Dict[str, str]) -> Dict[str, Any]:
    """CSV cells as a row: empty cells are absent, ``keys.enc`` goes to
    ``row["keys"]["enc"]``, and the ``bootstrap`` cell is JSON text."""
    row: Dict[str, Any] = {}
    for name, cell in flat.items():
        cell = cell.strip()
        if cell == "":
            continue
        group, dot, field = name.partition(".")
        if dot and group in _KEY_SETS:
            if isinstance(row.get(group), str):
                raise JobError(f"{group} and {name}: a reference or the keys, not both")
            row.setdefault(group, {})[field] = cell
        elif name in _KEY_SETS and isinstance(row.get(name), dict):
            raise JobError(f"{name} and {name}.*: a reference or the keys, not both")
        elif name == "bootstrap":
            try:
                row[name] = json.loads(cell)
            except json.JSONDecodeError as e:
                raise JobError(f"bootstrap: not valid JSON ({e.msg}, column {e.colno})") from None
        else:
            row[name] = cell
    return row


# ---- templates -------------------------------------------------------------

def _placeholders(node: Any, found: Set[str], where: str = "template") -> None:
    """Collect the template's field names; check placeholder syntax."""
    if isinstance(node, dict):
        for key, value in node.items():
            _placeholders(value, found, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _placeholders(value, found, f"{where}[{i}]")
    elif isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node)
        for m in _PLACEHOLDER.finditer(node):
            if m.group(1):
                continue
            name, kind = m.group(2), m.group(3)
            if kind is not None and kind not in _TYPES:
                raise JobError(f"{where}: ${{{name}:{kind}}}: unknown type (int, bool, json)")
            if kind is not None and whole is None:
                raise JobError(f"{where}: ${{{name}:{kind}}} must be the whole string")
            found.add(name)
        if "${" in _PLACEHOLDER.sub("", node):
            raise JobError(f"{where}: malformed placeholder (expected ${{name}} or "
                           f"${{name:type}}; $$ for a literal $)")


def _convert(value: Any, kind: Optional[str], what: str) -> Any:
    if kind is None:
        return value
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(str(value).strip(), 0)
        except ValueError:
            raise JobError(f"{what}: not an integer") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise JobError(f"{what}: not a boolean (true/false, 1/0, yes/no)")
    if not isinstance(value, str):   # json
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise JobError(f"{what}: not valid JSON") from None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _fill(node: Any, fields: Mapping[str, Any], where: str) -> Any:
    if isinstance(node, dict):
        return {k: _fill(v, fields, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, fields, f"{where}[{i}]") for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def value_of(name: str) -> Any:
        if name not in fields:
            raise JobError(f"the template needs ${{{name}}} ({where}) and the row has no {name}")
        return fields[name]

    whole = _PLACEHOLDER.fullmatch(node)
    if whole is not None and whole.group(2):
        name, kind = whole.group(2), whole.group(3)
        return _convert(value_of(name), kind, f"{name} (for {where})")
    return _PLACEHOLDER.sub(lambda m: "$" if m.group(1) else _text(value_of(m.group(2))), node)


class Template:
    """A bootstrap document with ``${field}`` placeholders."""

    def __init__(self, document: Any, name: str = "template") -> None:
        if not isinstance(document, dict):
            raise JobError(f"{name}: expected a JSON object (a bootstrap document)")
        self.document = document
        self.fields: Set[str] = set()
        _placeholders(document, self.fields)
        clash = self.fields.intersection(RESERVED) - {"iccid"}
        if clash:
            raise JobError(f"{name}: ${{{sorted(clash)[0]}}} is a reserved job field")

    @classmethod
    def load(cls, path: str) -> "Template":
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:   # missing, a directory, unreadable
            raise JobError(f"template {path}: {e.strerror or e}") from None
        except UnicodeDecodeError:
            raise JobError(f"template {path}: not UTF-8 text (a bootstrap JSON document)") \
                from None
        try:
            document = json.loads(text)
        except ValueError as e:
            raise JobError(f"template {path}: not valid JSON ({e})") from None
        return cls(document, path)

    def fill(self, fields: Mapping[str, Any]) -> Any:
        return _fill(self.document, fields, "template")


# ---- one row ---------------------------------------------------------------

def _token_form(value: Any) -> bool:
    """A key set in a token named with its version, {"pkcs11": URI, "kvn": N}:
    a reference (the keys stay in the token)."""
    return isinstance(value, dict) and "pkcs11" in value


def _keys(value: Any, what: str) -> Optional[Keys]:
    if value is None or isinstance(value, str) or _token_form(value):   # _key_ref
        return None
    if not isinstance(value, dict):
        raise JobError(f"{what}: expected a key reference (text) or a key set object "
                       f"{{enc, mac, dek, kvn}}")
    unknown = set(value) - set(_KEY_FIELDS)
    if unknown:
        raise JobError(f"{what}.{sorted(unknown)[0]}: unknown key set field "
                       f"(enc, mac, dek, kvn; or pkcs11 and kvn for a token)")
    doc = dict(value)
    if "kvn" in doc:
        doc["kvn"] = parse_kvn(doc["kvn"], f"{what}.kvn")
    try:
        return Keys.from_json(json.dumps(doc))
    except Error as e:
        raise JobError(f"{what}.{e.detail or e}") from None


def _key_ref(value: Any, base_dir: str, what: str) -> Optional[str]:
    if not isinstance(value, str) and not _token_form(value):
        return None
    try:
        return canonical(value, base_dir, what, new=what == "new_keys")
    except KeyRefError as e:
        raise JobError(str(e)) from None


def _bootstrap(row: Mapping[str, Any], template: Optional[Template]) -> Tuple[bytes, bytes]:
    """(encoded file, digest) of a row."""
    given = [k for k in ("bootstrap", "bootstrap_hex") if k in row]
    if template is not None and given:
        raise JobError(f"{given[0]}: the template gives the bootstrap data; drop the "
                       f"column or the template")
    if len(given) > 1:
        raise JobError("bootstrap and bootstrap_hex: give one of them")
    if "bootstrap_hex" in row:
        text = row["bootstrap_hex"]
        try:
            raw = bytes.fromhex(text.replace(" ", "").replace(":", ""))
        except (AttributeError, ValueError):
            raise JobError("bootstrap_hex: not hex text") from None
        try:
            with Bootstrap.parse(raw) as bs:
                return raw, bs.digest
        except Error as e:
            raise JobError(f"bootstrap_hex: {e.detail or e}") from None
    if template is not None:
        document = template.fill({k: v for k, v in row.items()
                                  if k == "iccid" or k not in RESERVED})
    elif "bootstrap" in row:
        document = row["bootstrap"]
    else:
        raise JobError("no bootstrap data: give a bootstrap (or bootstrap_hex) field, or a "
                       "template")
    if not isinstance(document, dict):
        raise JobError("bootstrap: expected a JSON object")
    try:
        with Bootstrap(document) as bs:
            return bs.encode(), bs.digest
    except Error as e:
        raise JobError(f"bootstrap: {e.detail or e}") from None


def _card_job(number: int, row: Dict[str, Any], template: Optional[Template],
              need_keys: bool, base_dir: str = ".") -> CardJob:
    extra = [k for k in row if k not in RESERVED]
    if template is None and extra:
        raise JobError(f"{extra[0]}: unknown field (without a template a row has only "
                       f"{', '.join(RESERVED)})")
    if template is not None:
        unused = [k for k in extra if k not in template.fields]
        if unused:
            raise JobError(f"{unused[0]}: no ${{{unused[0]}}} in the template (a typo?)")
    iccid = row.get("iccid")
    if iccid is not None:
        iccid = str(iccid).replace(" ", "")
        if not _ICCID.fullmatch(iccid):
            raise JobError("iccid: expected 1..20 decimal digits")
        row = dict(row, iccid=iccid)   # as a template sees it, too
    data, digest = _bootstrap(row, template)
    keys = _keys(row.get("keys"), "keys")
    keys_ref = _key_ref(row.get("keys"), base_dir, "keys")
    if keys is None and keys_ref is None and need_keys:
        raise JobError("no keys: give keys in the row or --keys for the whole job")
    replace = row.get("replace_kvn")
    options = {name: _convert(row[name], "bool", name) for name in ROW_OPTIONS if name in row}
    return CardJob(row=number, iccid=iccid, data=data, digest=digest, keys=keys,
                   new_keys=_keys(row.get("new_keys"), "new_keys"),
                   replace_kvn=None if replace is None else parse_kvn(replace, "replace_kvn"),
                   keys_ref=keys_ref,
                   new_keys_ref=_key_ref(row.get("new_keys"), base_dir, "new_keys"),
                   options=options)


# ---- the job ----------------------------------------------------------------

class Job:
    """The validated rows, and which card got which row.

    Rows with an ICCID go to that card; the others are handed out in file
    order to cards whose ICCID no row names. A card keeps its row for the
    whole run, and across runs when :meth:`restore` is given the report of
    an earlier one. Thread-safe.
    """

    def __init__(self, rows: List[CardJob]) -> None:
        self.rows = rows
        self._lock = threading.Lock()
        self._by_iccid: Dict[str, CardJob] = {}
        for r in rows:
            if r.iccid is None:
                continue
            if r.iccid in self._by_iccid:
                raise JobError(f"row {r.row}: ICCID {r.iccid} is also in row "
                               f"{self._by_iccid[r.iccid].row}")
            self._by_iccid[r.iccid] = r
        self._free: Deque[CardJob] = collections.deque(r for r in rows if r.iccid is None)
        self._given: Dict[str, CardJob] = {}

    @classmethod
    def load(cls, path: str, fmt: Optional[str] = None, template: Optional[str] = None,
             need_keys: bool = True) -> "Job":
        """Read and validate a job file. ``need_keys``: every row must bring
        its own keys (no job-wide keys). Raises :class:`JobError` listing
        the problems (up to 20)."""
        tpl = Template.load(template) if template else None
        fmt = job_format(path, fmt)
        if fmt not in ("csv", "jsonl"):
            raise JobError(f"{fmt}: unknown job format (csv, jsonl)")
        rows: List[CardJob] = []
        errors: List[str] = []
        try:
            for number, row in (_csv_rows if fmt == "csv" else _jsonl_rows)(path):
                try:
                    if fmt == "csv":
                        row = _nest_csv(row)
                    rows.append(_card_job(number, row, tpl, need_keys,
                                          os.path.dirname(os.path.abspath(path))))
                except JobError as e:
                    errors.append(f"{path} row {number}: {e}")
                    if len(errors) >= _MAX_ERRORS:
                        errors.append("(stopped after 20 errors)")
                        break
        except OSError as e:
            raise JobError(f"{path}: {e.strerror or e}") from None
        except UnicodeDecodeError:
            raise JobError(f"{path}: not UTF-8 text (a CSV or JSON lines job)") from None
        except (JobError, csv.Error) as e:
            errors.append(str(e) if isinstance(e, JobError) else f"{path}: {e}")
        if errors:
            raise JobError("\n".join(errors))
        if not rows:
            raise JobError(f"{path}: no rows")
        return cls(rows)

    def restore(self, iccid: str, row: int, digest: str) -> bool:
        """Give row ``row`` to the card ``iccid`` again, as an earlier run
        did (from its report), when the row has no ICCID of its own and
        still holds the same data. Returns whether it did."""
        with self._lock:
            if not iccid or iccid in self._by_iccid or iccid in self._given:
                return False
            match = next((r for r in self._free if r.row == row and r.digest.hex() == digest),
                         None)
            if match is None:
                return False
            self._free.remove(match)
            self._given[iccid] = match
            return True

    def assign(self, iccid: str) -> Optional[CardJob]:
        """The row for card ``iccid`` (None when the job has none for it)."""
        with self._lock:
            got = self._by_iccid.get(iccid) or self._given.get(iccid)
            if got is None and self._free:
                got = self._given[iccid] = self._free.popleft()
            return got

    def assignments(self) -> Dict[int, str]:
        """Rows without an ICCID handed to a card so far: row -> ICCID."""
        with self._lock:
            return {cj.row: iccid for iccid, cj in self._given.items()}

    def close(self) -> None:
        """Wipe the rows' key sets."""
        for r in self.rows:
            for k in (r.keys, r.new_keys):
                if k is not None:
                    k.close()

    def __enter__(self) -> "Job":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
