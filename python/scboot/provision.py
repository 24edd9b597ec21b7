"""Provision LwM2M bootstrap data onto a batch of UICCs, one thread per reader.

    python3 -m scboot.provision JOB [--template FILE] [--keys FILE] [--kdf3]
                                [--new-keys FILE] [--new-kdf3] [--replace KVN]
                                [--readers NAMES] [--report FILE] [--pad] ...

Every reader with a card (or those named with ``--readers``) is worked at
the same time, each by its own thread. For each card:

1. read its ICCID (EF.ICCID) and find its row in the job: the row naming
   that ICCID, else the next row without an ICCID;
2. read the card's bootstrap file through the secure channel and compare
   its SHA-256 digest with the row's data: equal means the card is done
   (``skipped``), so a run can be repeated until every card succeeded;
3. otherwise write the row's data (UPDATE BINARY in an SCP03 session of at
   least C-DEC + C-MAC, level 0x33 by default), read it back and compare;
4. with new keys (``--new-keys`` or the row's ``new_keys``): PUT KEY them
   under the DEK, check the KCVs and open a session with them (``--replace
   KVN`` replaces that key set instead of adding one). A card that already
   answers to the new keys was rotated by an earlier run (``keys: already``).
   Keys are tried without EXTERNAL AUTHENTICATE first, so a wrong guess
   never counts against the card's authentication limit.

Each card's result is appended to the report as soon as it is known (and
synced to disk): ``time, reader, iccid, row, outcome, digest, keys, error,
apdus, seconds``, as JSON lines or CSV (default: next to the job, e.g.
``cards.csv`` -> ``cards.report.csv``). ``outcome`` is ``written``,
``skipped``, ``interrupted`` (the write broke off: the card holds a partial
file and must be provisioned again; never reported as success) or
``failed``; ``error`` says what went wrong (never key material). A failing
card does not stop the others. Rows without an ICCID that an earlier run
gave to a card (the report says which) go to the same card again.

The job (JSON lines or CSV, by extension or ``--job-format``) has a row per
card: ``iccid``; ``bootstrap`` (the JSON of ``scboot read --json
--show-secrets``) or ``bootstrap_hex`` (the file's bytes), or fields for a
``--template`` (a bootstrap JSON with ``${field}`` placeholders, e.g. the
identity, secret key and server URI per card); optionally ``keys``,
``new_keys`` (key set objects; CSV columns ``keys.enc``, ``keys.mac``,
``keys.dek``, ``keys.kvn``, ``new_keys.enc``, ...) and ``replace_kvn``. See
``scboot._job`` for the details. Keys given in a row override ``--keys`` /
``--new-keys``; ``--kdf3`` / ``--new-kdf3`` say the keys are KDF3 master
keys, diversified per card with its key diversification data.

Example (a CSV job with a template)::

    cards.csv:     iccid,identity,psk,uri
                   8988300000000000013,6465762d31,000102030405060708090a0b0c0d0e0f,coaps://bs.io
    template.json: {"security": [{"server_uri": "${uri}", "bootstrap_server": true,
                                  "security_mode": 0, "public_key_or_identity": "${identity}",
                                  "secret_key": "${psk}"}]}

    python3 -m scboot.provision cards.csv --template template.json --keys keys.json

Progress goes to stderr: on a terminal a status line (every reader's step)
redrawn in place under the finished cards' lines; otherwise plain lines, one
when a card starts and one when it ends; a summary at the end.

Exit status: 0 every card written or skipped; 1 a card failed or was
interrupted (see the report); 2 usage, job, template, key or report file
error (no card touched); 3 no PC/SC service, or no reader with a card.

The protocol work (ICCID, secure channel, read, write, verify, PUT KEY) is
the C library's; card I/O runs without the GIL, so the threads overlap.
"""
from __future__ import annotations

import argparse
import datetime
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import _scboot as _c
from ._bootstrap import Bootstrap
from ._card import Card, readers as list_readers
from ._errors import CardCryptogramError, Error, ParseError, SecureChannelError
from ._job import CardJob, Job, JobError, parse_kvn
from ._keys import Keys
from ._progress import Progress
from ._report import Report, ReportError
from ._types import Level

__all__ = ["Options", "Provisioner", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_CARD = 0, 1, 2, 3


@dataclass
class Options:
    """Job-wide settings. ``keys`` / ``new_keys`` apply to rows without
    their own; ``replace_kvn`` 0 adds the new key set."""
    keys: Optional[Keys] = None
    kdf3: bool = False
    new_keys: Optional[Keys] = None
    new_kdf3: bool = False
    replace_kvn: int = 0
    level: int = Level.DEFAULT
    pad: bool = False


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _level(text: str) -> int:
    try:
        level = int(text, 0)
    except ValueError:
        raise JobError(f"--level {text}: not a number (e.g. 0x33)") from None
    if level & 0x03 != 0x03 or level > 0xFF:
        raise JobError(f"--level {text}: writing needs C-DEC + C-MAC (0x03, 0x13 or 0x33)")
    return level


def _keys_absent(card: Card, e: Error) -> bool:
    """Whether a failed session attempt means "the card has no such key
    set" (as opposed to a broken card or channel)."""
    if isinstance(e, CardCryptogramError) or e.code == _c.SCB_E_SCP_KVN:
        return True
    # INITIALIZE UPDATE names a key version the card lacks: 6A88 "referenced
    # data not found" (GP Card Specification, INITIALIZE UPDATE responses)
    return isinstance(e, SecureChannelError) and card.last_sw == 0x6A88


class Provisioner:
    """Provision cards from a :class:`scboot._job.Job`: :meth:`provision`
    does one reader's card in the calling thread, :meth:`run` all readers
    at once. Results go to ``report`` and ``progress`` when given.
    ``open_card(reader)`` makes the card connection (default
    :meth:`Card.open`; tests pass virtual cards)."""

    def __init__(self, job: Job, options: Options, report: Optional[Report] = None,
                 progress: Optional[Progress] = None,
                 open_card: Callable[[str], Card] = Card.open) -> None:
        self.job = job
        self.options = options
        self.report = report
        self.progress = progress
        self._open = open_card

    def _step(self, reader: str, text: str) -> None:
        if self.progress is not None:
            self.progress.step(reader, text)

    # ---- one card ------------------------------------------------------------
    def provision(self, reader: str) -> Dict[str, Any]:
        """Provision the card in ``reader``; never raises for a card's
        failure: the result says what happened."""
        result: Dict[str, Any] = {"time": "", "reader": reader, "iccid": "", "row": None,
                                  "outcome": "failed", "digest": "", "keys": "", "error": "",
                                  "apdus": 0, "seconds": 0.0}
        start = time.monotonic()
        card = None
        try:
            self._step(reader, "connecting")
            card = self._open(reader)
            result["reader"] = card.reader or reader
            self._step(reader, "reading the ICCID")
            iccid = result["iccid"] = card.read_iccid()
            cj = self.job.assign(iccid)
            if self.progress is not None:
                self.progress.started(reader, iccid, cj.row if cj is not None else None)
            if cj is None:
                result["error"] = f"the job has no row for ICCID {iccid} (and no free row)"
            else:
                result["row"], result["digest"] = cj.row, cj.digest.hex()
                self._card(reader, card, cj, result)
        except Error as e:
            result["outcome"] = ("interrupted" if e.code == _c.SCB_E_WRITE_INCOMPLETE
                                 else "failed")
            result["error"] = str(e)
        except Exception as e:  # a bug must not end the thread unreported
            result["outcome"] = "failed"
            result["error"] = f"internal error: {type(e).__name__}: {e}"
        finally:
            if card is not None:
                result["apdus"] = card.apdu_count
                card.close()
        result["seconds"] = round(time.monotonic() - start, 3)
        result["time"] = _now()
        if self.report is not None:
            self.report.write(result)
        if self.progress is not None:
            self.progress.finished(reader, result)
        return result

    def _read(self, card: Card, keys: Keys, kdf3: bool) -> Optional[Bootstrap]:
        """The card's bootstrap file, None when its content is not a valid
        file (blank, or a write that broke off)."""
        try:
            return card.read_bootstrap(keys, self.options.level, kdf3=kdf3)
        except ParseError as e:
            if e.code != _c.SCB_E_PARSE:
                raise
            return None

    def _card(self, reader: str, card: Card, cj: CardJob, result: Dict[str, Any]) -> None:
        o = self.options
        keys = cj.keys or o.keys
        new = cj.new_keys or o.new_keys
        if keys is None:   # Job.load makes sure of this; a library user may not
            raise Error("no keys for this card", code=_c.SCB_E_INVALID_ARG)
        use, use_kdf3, rotated = keys, o.kdf3, False
        self._step(reader, "checking")
        held: Optional[Bootstrap] = None
        if new is not None:
            # Rotated by an earlier run? Then the new keys open it.
            try:
                held = self._read(card, new, o.new_kdf3)
                use, use_kdf3, rotated = new, o.new_kdf3, True
            except Error as e:
                if not _keys_absent(card, e):
                    raise
        if not rotated:
            held = self._read(card, keys, o.kdf3)
        try:
            if held is not None and held.digest == cj.digest:
                result["outcome"] = "skipped"
            else:
                self._step(reader, "writing")
                where = held.access if held is not None else None
                card.write_bootstrap(cj.data, use, o.level, path=where.path if where else None,
                                     aid=where.aid if where else None, pad=o.pad,
                                     kdf3=use_kdf3)
                result["outcome"] = "written"
        finally:
            if held is not None:
                held.close()   # it holds the card's secret keys
        if new is not None:
            result["keys"] = "already" if rotated else self._rotate(reader, card, cj, result)

    def _rotate(self, reader: str, card: Card, cj: CardJob, result: Dict[str, Any]) -> str:
        """PUT KEY the new keys and prove them; the report's keys field."""
        o = self.options
        keys, new = cj.keys or o.keys, cj.new_keys or o.new_keys
        assert keys is not None and new is not None
        self._step(reader, "rotating keys")
        replace = cj.replace_kvn if cj.replace_kvn is not None else o.replace_kvn
        # The card's own new keys: the masters diversified with its KDD
        # (known from the session the data was checked in).
        card_new = new.diversify_kdf3(card.scp03_info.kdd) if o.new_kdf3 else new
        try:
            card.rotate_keys(keys, card_new, replace, o.level, kdf3=o.kdf3)
        except Error as e:
            result["error"] = f"key rotation failed (the data is {result['outcome']}): {e}"
            result["outcome"] = "failed"
            return "failed"
        finally:
            if card_new is not new:
                card_new.close()
        return "rotated"

    # ---- all readers -----------------------------------------------------------
    def run(self, readers: Sequence[str]) -> List[Dict[str, Any]]:
        """Provision the card in each reader, one thread per reader; the
        results in the order of ``readers``."""
        results: List[Dict[str, Any]] = [{} for _ in readers]

        def work(i: int, reader: str) -> None:
            results[i] = self.provision(reader)

        threads = [threading.Thread(target=work, args=(i, r), name=f"provision {r}")
                   for i, r in enumerate(readers)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                try:
                    t.join()
                except KeyboardInterrupt:
                    # Cutting a write short would leave a half-written card.
                    print("provision: finishing the cards in progress", file=sys.stderr)
        return results


def _failed(result: Dict[str, Any]) -> bool:
    return result.get("outcome") not in ("written", "skipped")


# ---- command line -------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m scboot.provision",
        description="Provision LwM2M bootstrap data onto every card in the readers, one thread "
                    "per reader; resumable (cards that already hold their data are skipped).",
        epilog="Exit status: 0 all cards written or skipped, 1 a card failed (see the report), "
               "2 usage/job/key/report file error, 3 no PC/SC service or no card. "
               "Details: pydoc scboot.provision")
    p.add_argument("job", metavar="JOB", help="job file: CSV, or JSON lines")
    p.add_argument("--job-format", choices=("csv", "jsonl"),
                   help="default: csv for *.csv, else jsonl")
    p.add_argument("--template", metavar="FILE",
                   help="bootstrap JSON with ${field} placeholders filled from each row")
    p.add_argument("--keys", metavar="FILE",
                   help="the cards' current keys (JSON {enc, mac, dek, kvn}) for rows without "
                        "keys")
    p.add_argument("--kdf3", action="store_true", help="the current keys are KDF3 master keys")
    p.add_argument("--new-keys", metavar="FILE",
                   help="rotate every card to these keys after the write (rows' new_keys "
                        "override)")
    p.add_argument("--new-kdf3", action="store_true", help="the new keys are KDF3 master keys")
    p.add_argument("--replace", metavar="KVN", default="0",
                   help="replace key set KVN instead of adding the new keys")
    p.add_argument("--level", default="0x33",
                   help="SCP03 security level, at least C-DEC + C-MAC (default 0x33)")
    p.add_argument("--pad", action="store_true", help="fill the rest of the EF with FF")
    p.add_argument("--readers", metavar="NAMES", action="append",
                   help="readers to use, comma separated, repeatable (a name, an index or a "
                        "unique part of a name); default: every reader with a card")
    p.add_argument("--report", metavar="FILE",
                   help="report file, appended to (default: JOB with .report before the "
                        "extension)")
    p.add_argument("--report-format", choices=("csv", "jsonl"),
                   help="default: csv for *.csv, else jsonl")
    p.add_argument("--progress", choices=("auto", "tty", "plain", "off"), default="auto",
                   help="progress on stderr (default: tty on a terminal, else plain lines)")
    p.add_argument("-q", "--quiet", action="store_true", help="same as --progress off")
    return p


def _default_report(job: str, fmt: Optional[str]) -> str:
    stem, dot, ext = job.rpartition(".")
    if not dot or "/" in ext:
        stem, ext = job, ""
    ext = {"csv": "csv", "jsonl": "jsonl"}.get(fmt or "", ext or "jsonl")
    return f"{stem}.report.{ext}"


def _load_keys(path: Optional[str], what: str) -> Optional[Keys]:
    if path is None:
        return None
    try:
        return Keys.load(path)
    except OSError as e:
        raise JobError(f"{what} {path}: {e.strerror or e}") from None
    except Error as e:
        raise JobError(f"{what} {path}: {e.detail or e}") from None


def _readers(given: Optional[List[str]]) -> List[str]:
    if given:
        names = [n.strip() for item in given for n in item.split(",") if n.strip()]
        return list(dict.fromkeys(names))
    return [name for name, present in list_readers() if present]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    prog = "provision"
    opened: List[Any] = []
    try:
        level = _level(args.level)
        options = Options(keys=_load_keys(args.keys, "--keys"), kdf3=args.kdf3,
                          new_keys=_load_keys(args.new_keys, "--new-keys"),
                          new_kdf3=args.new_kdf3,
                          replace_kvn=parse_kvn(args.replace, "--replace"), level=level,
                          pad=args.pad)
        opened += [k for k in (options.keys, options.new_keys) if k is not None]
        job = Job.load(args.job, args.job_format, args.template,
                       need_keys=options.keys is None)
        opened.append(job)
        report = Report(args.report or _default_report(args.job, args.report_format or
                                                       args.job_format),
                        args.report_format)
        opened.append(report)
    except (JobError, ReportError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        for o in opened:
            o.close()
        return EXIT_USAGE
    try:
        for line in report.previous:
            row = str(line.get("row") or "")
            if line.get("iccid") and row.isdigit():
                job.restore(str(line["iccid"]), int(row), str(line.get("digest", "")))
        try:
            readers = _readers(args.readers)
        except Error as e:
            print(f"{prog}: {e}", file=sys.stderr)
            return EXIT_NO_CARD
        if not readers:
            print(f"{prog}: no reader holds a card", file=sys.stderr)
            return EXIT_NO_CARD
        progress = Progress(readers, mode="off" if args.quiet else args.progress)
        start = time.monotonic()
        results = Provisioner(job, options, report, progress).run(readers)
        progress.summary(time.monotonic() - start)
        if not args.quiet and args.progress != "off":
            print(f"{prog}: report in {report.path}", file=sys.stderr)
        return EXIT_FAILED if any(_failed(r) for r in results) else EXIT_OK
    finally:
        for o in opened:
            o.close()


if __name__ == "__main__":
    sys.exit(main())
