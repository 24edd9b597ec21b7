"""The job store commands of ``python3 -m scboot.provision``: ``import``,
``run``, ``status`` and ``report`` (see :mod:`scboot.provision`)."""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from typing import Any, Dict, List, Sequence

from ._errors import Error
from ._job import Job, JobError
from ._keyref import KeyRefError, canonical
from ._progress import Progress
from ._station import Station
from ._store import RESULT_FIELDS, STATES, StoreError, display_uri, open_store
from ._store_import import import_job, store_rows
from .provision import (EXIT_FAILED, EXIT_KEYSTORE, EXIT_NO_CARD, EXIT_OK, EXIT_STORE,
                        EXIT_USAGE, Provisioner, card_arguments, close_options, exit_status,
                        options_from, resolve_readers, station_arguments,
                        terminate_as_interrupt)

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m scboot.provision",
        description="A job store shared by provisioning stations (see pydoc scboot.provision).")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store_help = "sqlite:PATH or postgresql://... (a libpq URI)"

    imp = sub.add_parser("import", help="load a job file into the store (once)",
                         description="Validate every row of JOB and add them to the store, "
                                     "all or none.")
    imp.add_argument("job", metavar="JOB", help="job file: CSV, or JSON lines")
    imp.add_argument("--store", metavar="URI", required=True, help=store_help)
    imp.add_argument("--job-format", choices=("csv", "jsonl"),
                     help="default: csv for *.csv, else jsonl")
    imp.add_argument("--template", metavar="FILE",
                     help="bootstrap JSON with ${field} placeholders filled from each row")
    imp.add_argument("--keys", metavar="REF",
                     help="the keys of rows that name none: a key file path or a pkcs11: URI "
                          "(stored as a reference; ${iccid} is filled in per card)")
    imp.add_argument("--kvn", metavar="N",
                     help="the key version of a --keys pkcs11: URI (default 0: the card's "
                          "default key set)")
    imp.add_argument("--new-keys", metavar="REF", help="the same for new_keys")
    imp.add_argument("--new-kvn", metavar="N",
                     help="the key version of the new key set a --new-keys pkcs11: URI names "
                          "(required with one: the token generates the set, per card with "
                          "${iccid})")

    run = sub.add_parser("run", help="provision the cards put into this station's readers",
                         description="Provision every card put into the readers until every "
                                     "row of the store is written or skipped (Ctrl-C or "
                                     "SIGTERM: finish the cards in progress and stop).")
    run.add_argument("--store", metavar="URI", required=True, help=store_help)
    station_arguments(run)
    card_arguments(run)
    run.add_argument("--readers", metavar="NAMES", action="append",
                     help="readers to use, comma separated, repeatable (a name, an index or a "
                          "unique part of a name); default: every reader")
    run.add_argument("--once", action="store_true",
                     help="one pass over the cards in the readers now (without --readers: "
                          "the readers holding a card), then stop")
    run.add_argument("--poll", metavar="SECONDS", type=float, default=0.2,
                     help="how often the readers are looked at for a new card (default 0.2)")

    status = sub.add_parser("status", help="the batch's counts",
                            description="Rows pending, claimed (per station), written, "
                                        "skipped, failed, interrupted; the stations' leases.")
    status.add_argument("--store", metavar="URI", required=True, help=store_help)
    status.add_argument("--json", action="store_true", help="as one JSON object")

    report = sub.add_parser("report", help="every result, in order, to standard output",
                            description="The store's audit table: one line per card result "
                                        "(and per released claim).")
    report.add_argument("--store", metavar="URI", required=True, help=store_help)
    report.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    return p


# ---- import -------------------------------------------------------------------

def _import(args: argparse.Namespace) -> int:
    here = os.getcwd()
    try:
        if args.kvn is not None and not args.keys:
            raise KeyRefError("--kvn: the version of a pkcs11: URI given with --keys")
        if args.new_kvn is not None and not args.new_keys:
            raise KeyRefError("--new-kvn: the version of a pkcs11: URI given with --new-keys")
        keys_ref = canonical(args.keys, here, "--keys", kvn=args.kvn) if args.keys else None
        new_ref = (canonical(args.new_keys, here, "--new-keys", new=True, kvn=args.new_kvn)
                   if args.new_keys else None)
    except KeyRefError as e:
        raise JobError(str(e)) from None
    with Job.load(args.job, args.job_format, args.template, need_keys=False) as job:
        rows = store_rows(job, args.job, allow_inline=False, keys_ref=keys_ref,
                          new_keys_ref=new_ref)
    with open_store(args.store, create=True) as store:
        number = import_job(store, rows, os.path.abspath(args.job))
    named = sum(1 for r in rows if r.iccid)
    print(f"import: {len(rows)} rows of {args.job} into {display_uri(args.store)} (import "
          f"{number}: {named} for the cards they name, {len(rows) - named} for any card)",
          file=sys.stderr)
    return EXIT_OK


# ---- run ------------------------------------------------------------------------

def _run(args: argparse.Namespace) -> int:
    prog = "provision run"
    with open_store(args.store) as store:
        refs = store.key_references()
    options = options_from(args)
    try:
        if refs.get("inline"):
            raise JobError(f"{refs['inline']} rows hold their key sets in the job file: "
                           f"provision them with python3 -m scboot.provision JOB --store "
                           f"{display_uri(args.store)}")
        if refs.get("station") and options.keys is None:
            raise JobError(f"{refs['station']} rows name no keys: give --keys FILE")
        try:
            # one pass: the cards in the readers now (as the one-command
            # form); serving: every reader, for the cards to come
            readers = resolve_readers(args.readers, with_card=args.once)
        except Error as e:
            print(f"{prog}: {e}", file=sys.stderr)
            return exit_status(e)
        if not readers:
            print(f"{prog}: {'no card in any reader' if args.once else 'no readers'}",
                  file=sys.stderr)
            return EXIT_NO_CARD
        station = Station(args.store, args.station, lease=args.lease).start()
        try:
            progress = Progress(readers, mode="off" if args.quiet else args.progress)
            progress.total = 0   # cards come and go: no total
            prov = Provisioner(station, options, progress=progress)
            start = time.monotonic()
            if not args.once and station.batch_done():
                print(f"{prog}: every row is written or skipped: nothing to do", file=sys.stderr)
                results: List[Dict[str, Any]] = []
            else:
                with terminate_as_interrupt():
                    results = (prov.run(readers) if args.once else
                               prov.serve(readers, poll=args.poll))
                progress.summary(time.monotonic() - start)
        finally:
            station.close()
        if station.failure is not None:
            print(f"{prog}: station {station.name} stopped: {station.failure}", file=sys.stderr)
            return EXIT_STORE
        if station.key_loader.refused is not None:
            print(f"{prog}: station {station.name} stopped: {station.key_loader.refused}",
                  file=sys.stderr)
            return EXIT_KEYSTORE
        failed = any(r.get("outcome") not in ("written", "skipped") for r in results)
        return EXIT_FAILED if failed else EXIT_OK
    finally:
        close_options(options)


# ---- status, report -------------------------------------------------------------

def _status_text(uri: str, st: Dict[str, Any]) -> str:
    claimed = st["claimed"]
    by_station = ", ".join(f"{name}: {n}" for name, n in claimed.items())
    lines = [f"store: {display_uri(uri)}: {st['rows']} rows from {st['imports']} "
             f"import{'s' if st['imports'] != 1 else ''}",
             f"pending: {st['pending']}" + (f" ({st['pending_bound']} bound to a card, checked "
                                            f"again when seen)" if st['pending_bound'] else ""),
             f"claimed: {sum(claimed.values())}" + (f" ({by_station})" if by_station else "")]
    lines += [f"{s}: {st[s]}" for s in STATES if s not in ("pending", "claimed")]
    lines.append(f"free rows (no ICCID, not given to a card yet): {st['free']}")
    # a result without a row: no row for the card, its row held by another
    # station, or a failure before any claim
    lines.append(f"results: {st['results']} ({st['unmatched']} without a row, "
                 f"{st['released']} claims released)")
    for s in st["stations"]:
        left = s["lease_left"]
        lines.append(f"station {s['station']} ({s['host']}, pid {s['pid']}): "
                     + (f"lease {left:.0f} s left" if left > 0 else "lease expired"))
    return "\n".join(lines)


def _status(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        st = store.status()
    print(json.dumps(st, sort_keys=True) if args.json else _status_text(args.store, st))
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        records = list(store.results())
    out = sys.stdout
    if args.format == "csv":
        w = csv.writer(out)
        w.writerow(RESULT_FIELDS)
        for r in records:
            w.writerow(["" if r[k] is None else r[k] for k in RESULT_FIELDS])
    else:
        for r in records:
            out.write(json.dumps(r) + "\n")
    out.flush()
    return EXIT_OK


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"import": _import, "run": _run, "status": _status,
                "report": _report}[args.command](args)
    except (JobError, StoreError) as e:
        print(f"provision {args.command}: {e}", file=sys.stderr)
        return EXIT_USAGE
