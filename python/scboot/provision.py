"""Provision LwM2M bootstrap data onto a batch of UICCs, one thread per reader.

    python3 -m scboot.provision JOB [--template FILE] [--keys FILE] [--kdf3]
                                [--new-keys FILE] [--new-kdf3] [--replace KVN]
                                [--readers NAMES] [--report FILE] [--pad]
                                [--store URI] [--station NAME] ...

One station, one command: the job is imported into a job store next to it
(``cards.csv`` -> ``sqlite:cards.store.sqlite``, once; ``--store`` for
another) and every card now in the readers is provisioned from there. A
line of stations shares one store (see "Job stores and stations" below).

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

Each card's result is recorded in the store and appended to the report as
soon as it is known (and synced to disk): ``time, reader, iccid, row,
outcome, digest, keys, error, apdus, seconds, station, card_digest``, as
JSON lines or CSV (default: next to the job, e.g. ``cards.csv`` ->
``cards.report.csv``). ``outcome`` is ``written``, ``skipped``,
``interrupted`` (the write broke off: the card holds a partial file and
must be provisioned again; never reported as success) or ``failed``.
``digest`` is the row's target: the SHA-256 of the bootstrap data the row
gives the card. ``card_digest`` is the SHA-256 of the file the card was
last seen holding: the target after a verified write or a skip, the old
file's when the write was refused before it began, empty when not known (a
blank or torn file, a failed read, a write that broke off). ``error`` says
in which step the card failed and what went wrong (``writing: write
interrupted after 0 of 609 bytes (SCB_E_CARD_REMOVED): ...``, ``checking the
card's data: READ BINARY: card removed (the card went away)``: the same
words through PC/SC as with a card in process; never key material). A
failing card does not stop the others. Rows without an ICCID that an earlier run
gave to a card go to the same card again (the store binds them; a report
of a run before the store existed is read when the job is first imported).
A job file that differs from the job its store holds is refused (a store's
rows never change).

The job (JSON lines or CSV, by extension or ``--job-format``) has a row per
card: ``iccid``; ``bootstrap`` (the JSON of ``scboot read --json
--show-secrets``) or ``bootstrap_hex`` (the file's bytes), or fields for a
``--template`` (a bootstrap JSON with ``${field}`` placeholders, e.g. the
identity, secret key and server URI per card); optionally ``keys``,
``new_keys`` (a key file path or ``pkcs11:`` URI, ``${iccid}`` filled in
per card; or key set objects: CSV columns ``keys.enc``, ``keys.mac``,
``keys.dek``, ``keys.kvn``, ``new_keys.enc``, ...), ``replace_kvn`` and
``s16`` (true/false: force the secure channel's mode for that card; without
it the library detects S8 or S16 per card). See ``scboot._job`` for the
details. Keys given in a row override ``--keys`` /
``--new-keys``; ``--kdf3`` / ``--new-kdf3`` say the keys are KDF3 master
keys, diversified per card with its key diversification data.

Keys in a PKCS#11 token: a row's ``keys`` / ``new_keys`` is a ``pkcs11:``
URI (``object=card-${iccid}``: a set per card), or the URI with its key
version, ``{"pkcs11": URI, "kvn": N}`` (CSV: ``new_keys.pkcs11`` and
``new_keys.kvn``; ``import --kvn`` / ``--new-kvn`` with ``--keys`` /
``--new-keys URI``); a key file may hold that JSON too. A bare URI is key
version 0, the card's default key set: enough for current keys; new keys
must say their version, and a row that does not is refused at import (with
its row number), as is a token set for new keys without ``${iccid}`` that
two rows name. The new keys of a token reference are generated in the
token by the card's rotation (never in this process). The PIN: the URI's
pin-source, else ``SCBOOT_PIN11`` (never a prompt; never stored). A token
failure fails its card (a one-line error naming the reference and the
token's reason); a PIN the token refuses (wrong, locked or none) is tried
once: the station takes no more cards and exits 8.

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
interrupted (see the report); 2 usage, job, template, key, report file or
store error (no card touched); 3 no PC/SC service, no such reader, or no
reader with a card (found before the job is imported); 4 the store went
away during the run (the station stopped); 8 a token refused its PIN
during the run (the station stopped without trying it again). Each is one
line on stderr.

Job stores and stations
-----------------------

    python3 -m scboot.provision import JOB --store URI [--template FILE]
                                [--keys REF [--kvn N]] [--new-keys REF [--new-kvn N]]
    python3 -m scboot.provision run --store URI [--station NAME] [--keys FILE]
                                [--readers NAMES] [--lease SECONDS] [--once] ...
    python3 -m scboot.provision status --store URI [--json]
    python3 -m scboot.provision report --store URI [--format jsonl|csv]

``URI`` is ``sqlite:PATH`` (one station) or a libpq URI
``postgresql://user@host/db`` (a line of stations; psycopg 3). ``import``
validates every row (a bad row is refused with its row number and nothing
is imported) and adds them in one transaction; rows name their keys by
reference only (a key file path, relative to the job, or a ``pkcs11:``
URI; ``--keys REF`` for rows naming none): no key material is ever stored.
``run`` provisions every card put into the station's readers (default:
all) until every row is written or skipped (Ctrl-C or SIGTERM: the cards in
progress are finished, then it stops; ``--once``: the cards there now);
``--keys FILE`` serves rows without a reference. ``status`` prints the
batch's counts (pending, claimed per station, written, skipped, failed,
interrupted), ``report`` every result in order (the store's audit table,
with ``released`` lines for claims whose station stopped).

What the store guarantees, each in one transaction: a card claims the row
naming its ICCID, else the next free row, which is bound to its ICCID at
once (no identity reaches two cards; a card seen again gets its row); its
result (outcome, digest, station, reader, time, error) is appended, never
rewritten, as the claim ends. A station holds a lease (``--lease``,
default 20 s) that a heartbeat renews; when it stops answering (killed, cut
off), its claims go back to the pool once the lease has run out, and the
station that sees such a card next checks it by digest (skipped when it
holds its row's data, written otherwise); ``interrupted`` rows are written
again. Every wait on the database is bounded; the database going away
stops the station (exit 4), and a card whose result could not be recorded
is found holding its data when next seen (nothing is recorded as written
that was not). ``Provisioner`` works from a store through
:class:`scboot._station.Station` (or from a ``Job`` in memory, without
these guarantees).

The protocol work (ICCID, secure channel, read, write, verify, PUT KEY) is
the C library's; card I/O runs without the GIL, so the threads overlap.
"""
from __future__ import annotations

import argparse
import datetime
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import (Any, Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple,
                    Union)

from . import _scboot as _c
from ._bootstrap import Bootstrap
from ._card import Card, readers as list_readers
from ._errors import (CardCryptogramError, Error, InvalidArgumentError, NoKeySetError,
                      NoReaderError, ParseError)
from ._job import CardJob, Job, JobError, parse_kvn
from ._keyref import KeyLoader, KeyRefError, load_key_file
from ._keys import Keys
from ._opts import c_options
from ._progress import Progress
from ._report import Report, ReportError
from ._station import DEFAULT_LEASE, Station
from ._store import RowHeld, StoreError, default_uri, display_uri, open_store
from ._store_import import import_job, job_digest, store_rows
from ._types import Level

__all__ = ["Options", "Provisioner", "Source", "JobSource", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_CARD, EXIT_STORE, EXIT_KEYSTORE = 0, 1, 2, 3, 4, 8
_STEP = "_step"   # a result's key while the card is worked: the step it is in


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
    """A security level the library's option table accepts; whether it is
    enough for writing (C-DEC + C-MAC) the library says at the write, before
    anything is written."""
    try:
        level = int(text, 0)
        with c_options({"level": level}):
            return level
    except ValueError as e:   # not a number, or InvalidArgumentError (a ValueError)
        detail = e.detail if isinstance(e, Error) else "not a number (e.g. 0x33)"
        raise JobError(f"--level {text}: {detail}") from None


def _keys_absent(_card: Card, e: Error) -> bool:
    """Whether a failed session attempt means "the card has no such key
    set" (as opposed to a broken card or channel)."""
    # SCB_E_P11_OBJECT: a token set for new keys that is not generated yet
    # (the PUT KEY that first uses it makes it), so no card holds it.
    return (isinstance(e, (CardCryptogramError, NoKeySetError))
            or e.code in (_c.SCB_E_SCP_KVN, _c.SCB_E_P11_OBJECT))


class Source(Protocol):
    """Where a Provisioner's rows come from and its results go: a job store
    (:class:`scboot._station.Station`) or a job in memory (:class:`JobSource`)."""
    name: str                  # the station's name, in every result
    key_loader: KeyLoader      # resolves the rows' key references
    stopped: threading.Event   # set: take no more cards
    failure: Optional[StoreError]

    def claim(self, iccid: str, reader: str) -> Optional[CardJob]:
        """The card's row (None: none for it); may raise RowHeld, StoreError."""

    def finish(self, cj: Optional[CardJob], result: Mapping[str, Any]) -> None:
        """Record a card's result (cj None: a card without a row)."""

    def batch_done(self) -> bool:
        """No row is left to do."""


class JobSource:
    """A job file's rows in memory: rows handed out by :meth:`Job.assign`,
    results recorded nowhere but the report (no store, no guarantees
    across processes)."""

    def __init__(self, job: Job, name: Optional[str] = None) -> None:
        self.job = job
        self.name = name or socket.gethostname()
        self.key_loader = KeyLoader()
        self.stopped = threading.Event()
        self.key_loader.stop_with(self.stopped)
        self.failure: Optional[StoreError] = None

    def claim(self, iccid: str, reader: str) -> Optional[CardJob]:
        return self.job.assign(iccid)

    def finish(self, cj: Optional[CardJob], result: Mapping[str, Any]) -> None:
        pass

    def batch_done(self) -> bool:
        return False


def _pcsc_presence(reader: str) -> bool:
    return dict(list_readers()).get(reader, False)


class Provisioner:
    """Provision cards from a job store (a :class:`scboot._station.Station`)
    or a :class:`scboot._job.Job`: :meth:`provision` does one reader's card
    in the calling thread, :meth:`run` all readers at once, :meth:`serve`
    every card that comes into the readers until the batch is done.
    Results go to the source, ``report`` and ``progress`` when given.
    ``open_card(reader)`` makes the card connection (default
    :meth:`Card.open`; tests pass virtual cards)."""

    # Seconds to wait, beyond its lease, for a row another station holds.
    HOLD_GRACE = 3.0

    def __init__(self, job: Union[Job, Source], options: Options,
                 report: Optional[Report] = None, progress: Optional[Progress] = None,
                 open_card: Callable[[str], Card] = Card.open) -> None:
        self.job = job
        self.source: Source = JobSource(job) if isinstance(job, Job) else job
        self.options = options
        self.report = report
        self.progress = progress
        self._open = open_card
        self._output = threading.Lock()

    def _step(self, reader: str, text: str, result: Dict[str, Any]) -> None:
        """The card's current step: on the progress line, and in the result's
        error when the card fails in it."""
        result[_STEP] = text
        if self.progress is not None:
            self.progress.step(reader, text)

    # ---- one card ------------------------------------------------------------
    def provision(self, reader: str) -> Dict[str, Any]:
        """Provision the card in ``reader``; never raises for a card's
        failure: the result says what happened."""
        result: Dict[str, Any] = {"time": "", "station": self.source.name, "reader": reader,
                                  "iccid": "", "row": None, "outcome": "failed", "digest": "",
                                  "card_digest": "", "keys": "", "error": "", "apdus": 0,
                                  "seconds": 0.0}
        start = time.monotonic()
        card = None
        cj: Optional[CardJob] = None
        record = True   # the source takes the result (not when it failed us)
        try:
            self._step(reader, "connecting", result)
            card = self._open(reader)
            result["reader"] = card.reader or reader
            self._step(reader, "reading the ICCID", result)
            iccid = result["iccid"] = card.read_iccid()
            cj = self._claim(reader, iccid, result)
            if self.progress is not None:
                self.progress.started(reader, iccid, cj.row if cj is not None else None)
            if cj is None:
                result["error"] = f"the job has no row for ICCID {iccid} (and no free row)"
            else:
                result["row"], result["digest"] = cj.row, cj.digest.hex()
                keys, new = self._keys_of(cj, iccid)
                self._card(reader, card, cj, keys, new, result)
        except RowHeld as e:
            result["error"] = str(e)
        except StoreError as e:   # no claim: the card was not touched
            record = False
            result["error"] = f"the store failed: {e}"
        except KeyRefError as e:
            result["error"] = str(e)
        except Error as e:
            # The step names what the card was doing (as the library's text
            # names the command): the same words in process and through PC/SC.
            result["outcome"] = ("interrupted" if e.code == _c.SCB_E_WRITE_INCOMPLETE
                                 else "failed")
            result["error"] = f"{result[_STEP]}: {e}"
        except Exception as e:  # a bug must not end the thread unreported
            result["outcome"] = "failed"
            result["error"] = f"internal error: {type(e).__name__}: {e}"
        finally:
            if card is not None:
                result["apdus"] = card.apdu_count
                card.close()
            if result["iccid"]:
                self.source.key_loader.release(result["iccid"])   # its own key sets
        result.pop(_STEP, None)
        result["seconds"] = round(time.monotonic() - start, 3)
        result["time"] = _now()
        if record:
            try:
                self.source.finish(cj, result)
            except StoreError as e:
                result["error"] = ((result["error"] + "; ") if result["error"] else "") + (
                    f"not recorded in the store ({e}): the card is checked again when seen "
                    f"next")
        with self._output:
            if self.report is not None:
                self.report.write(result)
            if self.progress is not None:
                self.progress.finished(reader, result)
        return result

    def _claim(self, reader: str, iccid: str, result: Dict[str, Any]) -> Optional[CardJob]:
        """The card's row. A row another station holds is waited for while
        that station's lease runs (it is gone: the card is here), then
        taken over; RowHeld when the lease is still renewed after that."""
        deadline: Optional[float] = None
        while True:
            try:
                return self.source.claim(iccid, reader)
            except RowHeld as held:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + held.seconds_left + self.HOLD_GRACE
                if held.own or now >= deadline or self.source.stopped.is_set():
                    raise
                self._step(reader, f"waiting for row {held.row} (station {held.station}, "
                                   f"{held.seconds_left:.0f} s)", result)
                self.source.stopped.wait(min(max(held.seconds_left, 0.2), 1.0))

    def _keys_of(self, cj: CardJob, iccid: str) -> Tuple[Optional[Keys], Optional[Keys]]:
        """The row's own key sets (None: the job-wide ones)."""
        c = cj.claim
        where = (c.import_id, c.source_row) if c is not None else (0, cj.row)
        load = self.source.key_loader.load
        return (cj.keys or load(cj.keys_ref, iccid, "keys", *where),
                cj.new_keys or load(cj.new_keys_ref, iccid, "new_keys", *where))

    def _read(self, card: Card, cj: CardJob, keys: Keys, kdf3: bool) -> Optional[Bootstrap]:
        """The card's bootstrap file, None when its content is not a valid
        file (blank, or a write that broke off)."""
        try:
            return card.read_bootstrap(keys, self.options.level, kdf3=kdf3, **cj.options)
        except ParseError as e:
            if e.code != _c.SCB_E_PARSE:
                raise
            return None

    def _card(self, reader: str, card: Card, cj: CardJob, row_keys: Optional[Keys],
              row_new: Optional[Keys], result: Dict[str, Any]) -> None:
        o = self.options
        keys = row_keys or o.keys
        new = row_new or o.new_keys
        if keys is None:   # Job.load makes sure of this; a library user may not
            raise Error("no keys for this card", code=_c.SCB_E_INVALID_ARG)
        use, use_kdf3, rotated = keys, o.kdf3, False
        self._step(reader, "checking the card's data", result)
        held: Optional[Bootstrap] = None
        if new is not None:
            # Rotated by an earlier run? Then the new keys open it.
            try:
                held = self._read(card, cj, new, o.new_kdf3)
                use, use_kdf3, rotated = new, o.new_kdf3, True
            except Error as e:
                if not _keys_absent(card, e):
                    raise
        if not rotated:
            held = self._read(card, cj, keys, o.kdf3)
        try:
            result["card_digest"] = held.digest.hex() if held is not None else ""
            if held is not None and held.digest == cj.digest:
                result["outcome"] = "skipped"
            else:
                self._step(reader, "writing", result)
                where = held.access if held is not None else None
                try:
                    card.write_bootstrap(cj.data, use, o.level,
                                         path=where.path if where else None,
                                         aid=where.aid if where else None, pad=o.pad,
                                         kdf3=use_kdf3, **cj.options)
                except Error as e:
                    # A write that began and did not end (or did not verify)
                    # leaves the card's content unknown; one refused before
                    # the first UPDATE BINARY leaves it as it was read.
                    if _c.scb_error_family(e.code) == _c.SCB_FAMILY_WRITE:
                        result["card_digest"] = ""
                    raise
                result["outcome"] = "written"
                result["card_digest"] = cj.digest.hex()   # read back and compared
        finally:
            if held is not None:
                held.close()   # it holds the card's secret keys
        if new is not None:
            result["keys"] = "already" if rotated else self._rotate(reader, card, cj, keys,
                                                                    new, result)

    def _rotate(self, reader: str, card: Card, cj: CardJob, keys: Keys, new: Keys,
                result: Dict[str, Any]) -> str:
        """PUT KEY the new keys and prove them; the report's keys field."""
        o = self.options
        self._step(reader, "rotating keys", result)
        replace = cj.replace_kvn if cj.replace_kvn is not None else o.replace_kvn
        # The card's own new keys: the masters diversified with its KDD
        # (known from the session the data was checked in).
        card_new = new.diversify_kdf3(card.scp03_info.kdd) if o.new_kdf3 else new
        try:
            with self.source.key_loader.generating(card_new):
                card.rotate_keys(keys, card_new, replace, o.level, kdf3=o.kdf3, **cj.options)
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
        _start_and_join(threads, self.source)
        return results

    def serve(self, readers: Sequence[str], present: Callable[[str], bool] = _pcsc_presence,
              poll: float = 0.2, recheck: float = 2.0) -> List[Dict[str, Any]]:
        """Provision every card put into ``readers`` until the batch is done
        (``source.batch_done()``) or the source stops, one thread per
        reader; the results in the order they ended. A card is taken when
        it comes into the reader (``present(reader)``, polled every
        ``poll`` seconds) and not again while it stays; one that stays is
        looked at every ``recheck`` seconds (its ICCID), in case it was
        swapped faster than the polling sees."""
        results: List[Dict[str, Any]] = []
        stop = self.source.stopped

        def work(reader: str) -> None:
            done: Optional[str] = None   # the ICCID of the card handled, while it stays
            looked = 0.0
            while not stop.is_set() and not self.source.batch_done():
                try:
                    here = present(reader)
                except Error:
                    here = False
                if not here:
                    done = None
                elif done is None or (time.monotonic() - looked >= recheck
                                      and self._peek(reader) not in (None, done)):
                    result = self.provision(reader)
                    results.append(result)
                    done, looked = result["iccid"] or "?", time.monotonic()
                    continue
                elif time.monotonic() - looked >= recheck:
                    looked = time.monotonic()
                stop.wait(poll)

        threads = [threading.Thread(target=work, args=(r,), name=f"station {r}")
                   for r in readers]
        _start_and_join(threads, self.source)
        return results

    def _peek(self, reader: str) -> Optional[str]:
        """The ICCID of the card in the reader (None: cannot tell)."""
        try:
            with self._open(reader) as card:
                return card.read_iccid()
        except Error:
            return None


def _start_and_join(threads: List[threading.Thread], source: Source) -> None:
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            try:
                t.join()
            except KeyboardInterrupt:
                # Cutting a write short would leave a half-written card.
                print("provision: finishing the cards in progress", file=sys.stderr)
                source.stopped.set()


def _failed(result: Dict[str, Any]) -> bool:
    return result.get("outcome") not in ("written", "skipped")


# ---- command line -------------------------------------------------------------

COMMANDS = ("import", "run", "status", "report")


def card_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the card work (keys, level, readers, progress), the
    same for ``provision JOB`` and ``provision run``."""
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
    p.add_argument("--progress", choices=("auto", "tty", "plain", "off"), default="auto",
                   help="progress on stderr (default: tty on a terminal, else plain lines)")
    p.add_argument("-q", "--quiet", action="store_true", help="same as --progress off")


def station_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--station", metavar="NAME",
                   help="this station's name in the store's results (default: the host name)")
    p.add_argument("--lease", metavar="SECONDS", type=float, default=DEFAULT_LEASE,
                   help=f"how long the station's claims outlive it when it stops answering "
                        f"(default {DEFAULT_LEASE:g})")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m scboot.provision",
        usage="%(prog)s JOB [options]\n       %(prog)s {import,run,status,report} --store URI "
              "...",
        description="Provision LwM2M bootstrap data onto every card in the readers, one thread "
                    "per reader; resumable (cards that already hold their data are skipped). "
                    "The job is kept in a job store (--store, default: sqlite next to JOB); "
                    "several stations share one with the commands import, run, status and "
                    "report (python3 -m scboot.provision COMMAND --help).",
        epilog="Exit status: 0 all cards written or skipped, 1 a card failed (see the report), "
               "2 usage/job/key/report/store error, 3 no PC/SC service or no card, 4 the store "
               "went away during the run, 8 a token refused its PIN. Details: pydoc "
               "scboot.provision")
    p.add_argument("job", metavar="JOB", help="job file: CSV, or JSON lines")
    p.add_argument("--job-format", choices=("csv", "jsonl"),
                   help="default: csv for *.csv, else jsonl")
    p.add_argument("--template", metavar="FILE",
                   help="bootstrap JSON with ${field} placeholders filled from each row")
    card_arguments(p)
    p.add_argument("--readers", metavar="NAMES", action="append",
                   help="readers to use, comma separated, repeatable (a name, an index or a "
                        "unique part of a name); default: every reader with a card")
    p.add_argument("--report", metavar="FILE",
                   help="report file, appended to (default: JOB with .report before the "
                        "extension)")
    p.add_argument("--report-format", choices=("csv", "jsonl"),
                   help="default: csv for *.csv, else jsonl")
    p.add_argument("--store", metavar="URI",
                   help="job store: sqlite:PATH or postgresql://... (default: sqlite:JOB "
                        "with .store.sqlite for the extension)")
    station_arguments(p)
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
        return load_key_file(path)
    except OSError as e:
        raise JobError(f"{what} {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise JobError(f"{what} {path}: not a text file (a JSON key set)") from None
    except Error as e:
        raise JobError(f"{what} {path}: {e.detail or e}") from None


def options_from(args: argparse.Namespace) -> Options:
    """Options from card_arguments (key files loaded); raises JobError."""
    level = _level(args.level)
    replace = parse_kvn(args.replace, "--replace")
    keys = _load_keys(args.keys, "--keys")
    try:
        new = _load_keys(args.new_keys, "--new-keys")
    except JobError:
        if keys is not None:
            keys.close()
        raise
    return Options(keys=keys, kdf3=args.kdf3, new_keys=new, new_kdf3=args.new_kdf3,
                   replace_kvn=replace, level=level, pad=args.pad)


def close_options(o: Options) -> None:
    for k in (o.keys, o.new_keys):
        if k is not None:
            k.close()


def exit_status(e: Error) -> int:
    """The exit status for a library error, from its family (the rule of
    the scboot command's exit codes): usage 2, transport (no PC/SC
    service, reader or card) 3, any other 1."""
    family = _c.scb_error_family(e.code)
    if family == _c.SCB_FAMILY_USAGE:
        return EXIT_USAGE
    return EXIT_NO_CARD if family == _c.SCB_FAMILY_TRANSPORT else EXIT_FAILED


def resolve_readers(given: Optional[Sequence[str]], with_card: bool) -> List[str]:
    """The readers to work: those ``--readers`` names (comma separated,
    repeatable; a name, an index or a unique part of a name), else every
    reader (``with_card``: every reader holding a card now). Asks PC/SC
    either way, so that a missing service is found before anything else
    happens. Raises :class:`scboot.Error`: :class:`NoServiceError` (no
    PC/SC service), :class:`NoReaderError` (a name no reader has),
    :class:`InvalidArgumentError` (a part of several names)."""
    listed = list_readers()
    names = [n for n, _ in listed]
    if not given:
        return [n for n, present in listed if present or not with_card]
    out = []
    for spec in (n.strip() for item in given for n in item.split(",") if n.strip()):
        if spec in names:
            out.append(spec)
        elif spec.isdigit() and int(spec) < len(names):
            out.append(names[int(spec)])
        else:
            match = [n for n in names if spec in n]
            if not match:
                raise NoReaderError(f"--readers {spec}: no such reader (PC/SC has "
                                    f"{', '.join(names) if names else 'none'})")
            if len(match) > 1:
                raise InvalidArgumentError(f"--readers {spec}: part of several reader names "
                                           f"({', '.join(match)})")
            out.append(match[0])
    return list(dict.fromkeys(out))


class terminate_as_interrupt:
    """SIGTERM handled as Ctrl-C: the cards in progress are finished."""

    def __enter__(self) -> None:
        def raise_interrupt(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt
        self._old = signal.signal(signal.SIGTERM, raise_interrupt)

    def __exit__(self, *exc: Any) -> None:
        signal.signal(signal.SIGTERM, self._old)


def _job_station(args: argparse.Namespace, job: Job, report: Report) -> Station:
    """The store of a one-command run: the job imported into it (once; the
    bindings an earlier run's report shows kept), a station started on it
    whose key loader finds the job's own key sets."""
    uri = args.store or default_uri(args.job)
    rows = store_rows(job, args.job, allow_inline=True)
    with open_store(uri, create=True) as store:
        import_id = store.find_import(job_digest(rows))
        if import_id is None:
            if store.import_count():
                raise StoreError(f"{args.job}: not the job {display_uri(uri)} holds (a store's "
                                 f"rows never change): give another --store, or add the rows "
                                 f"with python3 -m scboot.provision import")
            for line in report.previous:
                row = str(line.get("row") or "")
                if line.get("iccid") and row.isdigit():
                    job.restore(str(line["iccid"]), int(row), str(line.get("digest", "")))
            import_id = import_job(store, rows, args.job, job.assignments())

    def inline(imported: int, source_row: int, which: str) -> Optional[Keys]:
        if imported != import_id or not 1 <= source_row <= len(job.rows):
            return None
        cj = job.rows[source_row - 1]
        return cj.keys if which == "keys" else cj.new_keys

    return Station(uri, args.station, lease=args.lease, keys=KeyLoader(inline)).start()


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        from ._store_cli import main as command
        return command(argv)
    args = _parser().parse_args(argv)
    prog = "provision"
    opened: List[Any] = []
    try:
        options = options_from(args)
        opened += [k for k in (options.keys, options.new_keys) if k is not None]
        job = Job.load(args.job, args.job_format, args.template,
                       need_keys=options.keys is None)
        opened.append(job)
        report = Report(args.report or _default_report(args.job, args.report_format or
                                                       args.job_format),
                        args.report_format)
        opened.append(report)
        # The readers before the store: no PC/SC service (or no such reader)
        # is found before the job is imported.
        try:
            readers = resolve_readers(args.readers, with_card=True)
        except Error as e:
            print(f"{prog}: {e}", file=sys.stderr)
            for o in reversed(opened):
                o.close()
            return exit_status(e)
        station = _job_station(args, job, report)
        opened.append(station)
    except (JobError, ReportError, StoreError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        for o in reversed(opened):
            o.close()
        return EXIT_USAGE
    try:
        if not readers:
            print(f"{prog}: no reader holds a card", file=sys.stderr)
            return EXIT_NO_CARD
        progress = Progress(readers, mode="off" if args.quiet else args.progress)
        start = time.monotonic()
        with terminate_as_interrupt():
            results = Provisioner(station, options, report, progress).run(readers)
        progress.summary(time.monotonic() - start)
        if not args.quiet and args.progress != "off":
            print(f"{prog}: report in {report.path}", file=sys.stderr)
        station.close()
        if station.failure is not None:
            print(f"{prog}: stopped: {station.failure}", file=sys.stderr)
            return EXIT_STORE
        if station.key_loader.refused is not None:
            print(f"{prog}: stopped: {station.key_loader.refused}", file=sys.stderr)
            return EXIT_KEYSTORE
        return EXIT_FAILED if any(_failed(r) for r in results) else EXIT_OK
    finally:
        for o in reversed(opened):
            o.close()


if __name__ == "__main__":
    sys.exit(main())
