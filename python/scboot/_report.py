"""The provisioning report: one line per card, appended as each card
finishes (JSON lines or CSV), and read back by the next run to resume."""
from __future__ import annotations

import csv
import io
import json
import os
import threading
from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = ["FIELDS", "Report", "ReportError"]

# One card's result. outcome: written | skipped (the card already held the
# data) | interrupted (a write broke off: re-provision the card) | failed.
# digest: the row's target, the SHA-256 of the bootstrap data the row gives
# the card; card_digest: the SHA-256 of the file the card was last seen
# holding ("" when not known: no valid file, a read that failed, a write
# that broke off). keys: "" (no rotation asked) | rotated | already (an
# earlier run did it) | failed. station, card_digest: fields added later
# (reports of earlier versions lack them, and are still appended to as they
# are).
FIELDS = ("time", "reader", "iccid", "row", "outcome", "digest", "keys", "error", "apdus",
          "seconds", "station", "card_digest")


class ReportError(ValueError):
    """The report file cannot be appended to."""


class Report:
    """Append-only report file, safe to share between threads. Each line is
    flushed and synced before :meth:`write` returns: after a crash the file
    holds every card that finished."""

    def __init__(self, path: str, fmt: Optional[str] = None) -> None:
        self.path = path
        self.fmt = fmt or ("csv" if path.lower().endswith(".csv") else "jsonl")
        if self.fmt not in ("csv", "jsonl"):
            raise ReportError(f"{self.fmt}: unknown report format (csv, jsonl)")
        self._lock = threading.Lock()
        self.fields: Tuple[str, ...] = FIELDS
        self.previous = self._read()
        try:
            self._file = open(path, "a", encoding="utf-8", newline="")
        except OSError as e:
            raise ReportError(f"{path}: {e.strerror or e}") from None
        if self.fmt == "csv" and self._file.tell() == 0:
            self._append(",".join(self.fields) + "\r\n")
        elif self._torn:
            self._append("\n")   # a line cut short by a crash stays on its own line

    def _read(self) -> List[Dict[str, Any]]:
        """The lines an earlier run left (torn or foreign lines skipped)."""
        self._torn = False
        try:
            with open(self.path, encoding="utf-8", newline="") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as e:
            raise ReportError(f"{self.path}: cannot read it ({e})") from None
        self._torn = text != "" and not text.endswith("\n")
        if self.fmt == "csv":
            rows = list(csv.reader(io.StringIO(text)))
            if not rows:
                return []
            if tuple(rows[0]) not in (FIELDS, FIELDS[:-1], FIELDS[:-2]):
                raise ReportError(f"{self.path}: not a provisioning report (its header is not "
                                  f"{','.join(FIELDS)})")
            self.fields = tuple(rows[0])
            return [dict(zip(self.fields, r)) for r in rows[1:] if len(r) == len(self.fields)]
        out = []
        for line in text.splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out

    def _append(self, text: str) -> None:
        self._file.write(text)
        self._file.flush()
        os.fsync(self._file.fileno())

    def write(self, result: Mapping[str, Any]) -> None:
        """Append one card's result (keys of :data:`FIELDS`)."""
        record = {k: result.get(k) for k in self.fields}
        if self.fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf).writerow(["" if record[k] is None else record[k]
                                      for k in self.fields])
            text = buf.getvalue()
        else:
            text = json.dumps(record) + "\n"
        with self._lock:
            self._append(text)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> "Report":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
