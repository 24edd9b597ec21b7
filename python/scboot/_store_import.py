"""A job file's rows into a job store: validated as a job (every row, with
its template; ``scboot._job``), then as store rows (keys by reference only,
ICCIDs not yet in the store), all imported in one transaction or none."""
from __future__ import annotations

import hashlib
import json
from typing import Dict, List, Mapping, Optional

from ._job import Job, JobError
from ._keyref import INLINE, describe, is_token, per_card
from ._store import Store, StoreRow

__all__ = ["store_rows", "job_digest", "import_job"]


def store_rows(job: Job, source: str, allow_inline: bool, keys_ref: Optional[str] = None,
               new_keys_ref: Optional[str] = None) -> List[StoreRow]:
    """The job's rows as the store keeps them. A row's own reference wins
    over ``keys_ref`` / ``new_keys_ref`` (the job-wide ones). Key sets
    written in the job itself become ``inline`` references when
    ``allow_inline``, else the rows are refused (JobError naming them)."""
    out, errors = [], []
    generated: Dict[str, int] = {}   # a token set for new keys -> the row naming it
    for r in job.rows:
        refs = []
        for which, keys, ref, default in (("keys", r.keys, r.keys_ref, keys_ref),
                                          ("new_keys", r.new_keys, r.new_keys_ref,
                                           new_keys_ref)):
            if keys is not None and not allow_inline:
                errors.append(f"{source} row {r.row}: {which}: the key set is written in the "
                              f"job; a store keeps keys by reference only (a key file path or "
                              f"a pkcs11: URI)")
            refs.append(INLINE if keys is not None else ref or default)
        new_ref = refs[1]
        if new_ref is not None and is_token(new_ref) and not per_card(new_ref):
            # The token generates the set for the PUT KEY that first uses it
            # and seals it (it never leaves the token again): one card only.
            first = generated.setdefault(new_ref, r.row)
            if first != r.row:
                errors.append(f"{source} row {r.row}: new_keys: {describe(new_ref)} is the new "
                              f"key set of row {first} too, and a set generated in the token "
                              f"goes to one card: name one per card (object=card-${{iccid}})")
        out.append(StoreRow(source_row=r.row, iccid=r.iccid, data=r.data, digest=r.digest,
                            keys_ref=refs[0], new_keys_ref=refs[1], replace_kvn=r.replace_kvn,
                            options=json.dumps(r.options, sort_keys=True) if r.options else None))
    if errors:
        raise JobError("\n".join(errors[:20]))
    return out


def job_digest(rows: List[StoreRow]) -> str:
    """What identifies a job in the store: its rows as stored (data digest,
    ICCID, key references, options), never key material."""
    h = hashlib.sha256()
    for r in rows:
        # A row's options only when it has some: a job without any keeps the
        # digest it had in stores made before rows could carry options.
        fields = [r.source_row, r.iccid, r.digest.hex(), r.keys_ref, r.new_keys_ref,
                  r.replace_kvn] + ([r.options] if r.options else [])
        h.update(json.dumps(fields).encode() + b"\n")
    return h.hexdigest()


def import_job(store: Store, rows: List[StoreRow], source: str,
               bindings: Optional[Mapping[int, str]] = None) -> int:
    """Import the rows (see :meth:`Store.import_rows`); the import's number."""
    return store.import_rows(rows, source, job_digest(rows), bindings)
