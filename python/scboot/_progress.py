"""Progress of a provisioning run on stderr: on a terminal a status line
redrawn in place under the finished cards' lines; otherwise (a log, a
pipe) plain lines only, one when a card starts and one when it ends."""
from __future__ import annotations

import os
import shutil
import sys
import threading
from typing import Any, Dict, Mapping, Optional, Sequence, TextIO

__all__ = ["Progress", "result_line"]

_CLEAR = "\r\x1b[K"   # carriage return, erase to the end of the line


def _short_names(readers: Sequence[str]) -> Dict[str, str]:
    """Reader names without the words they all start with ("Virtual PCD
    00 00", "Virtual PCD B 00 00" -> "00 00", "B 00 00"): the status line
    has room for more readers."""
    prefix = os.path.commonprefix(list(readers)) if len(readers) > 1 else ""
    prefix = prefix[:prefix.rfind(" ") + 1]
    if not prefix or any(r == prefix.rstrip() for r in readers):
        return {r: r for r in readers}
    return {r: r[len(prefix):] for r in readers}


def result_line(r: Mapping[str, Any]) -> str:
    """One card's result as text (never holds key material)."""
    who = f"{r['reader']}: " + (f"ICCID {r['iccid']}" if r.get("iccid") else "no ICCID")
    if r.get("row") is not None:
        who += f", row {r['row']}"
    what = r["outcome"]
    if r.get("keys"):
        what += f", keys {r['keys']}"
    facts = [f"{r['seconds']:.2f} s", f"{r['apdus']} APDUs"]
    if r.get("digest") and r["outcome"] in ("written", "skipped"):
        facts.insert(0, f"digest {r['digest'][:16]}")
    line = f"{who}: {what} ({', '.join(facts)})"
    return line + (f": {r['error']}" if r.get("error") else "")


class Progress:
    """``mode``: "auto" (tty when the stream is a terminal), "tty",
    "plain" or "off"; ``total``: the cards expected (0: unknown). Safe to
    call from the reader threads."""

    def __init__(self, readers: Sequence[str], stream: Optional[TextIO] = None,
                 mode: str = "auto") -> None:
        self.stream = stream if stream is not None else sys.stderr
        if mode == "auto":
            isatty = getattr(self.stream, "isatty", None)
            mode = "tty" if isatty is not None and isatty() else "plain"
        self.mode = mode
        self.total = len(readers)
        self._steps: Dict[str, str] = {r: "waiting" for r in readers}
        self._short = _short_names(readers)
        self._counts = {"written": 0, "skipped": 0, "interrupted": 0, "failed": 0}
        self._done = 0
        self._lock = threading.Lock()

    def _emit(self, line: Optional[str]) -> None:
        """A finished line (plain, or above the status line), then the
        status line again on a terminal."""
        if self.mode == "off":
            return
        out = ""
        if self.mode == "tty":
            out += _CLEAR
        if line is not None:
            out += line + "\n"
        if self.mode == "tty":
            out += self._status()
        if out:
            self.stream.write(out)
            self.stream.flush()

    def _status(self) -> str:
        c = self._counts
        count = f"{self._done}/{self.total}" if self.total else f"{self._done}"
        head = (f"[{count}] {c['written']} written, {c['skipped']} skipped, "
                f"{c['interrupted'] + c['failed']} failed")
        busy = [f"{self._short[r]}: {s}" for r, s in self._steps.items() if s]
        text = head + (" | " + "; ".join(busy) if busy else "")
        width = shutil.get_terminal_size((100, 24)).columns
        return text if len(text) < width else text[:max(width - 4, 10)] + "..."

    def step(self, reader: str, text: str) -> None:
        """What a reader's card is doing now (the terminal shows it)."""
        with self._lock:
            self._steps[reader] = text
            if self.mode == "tty":
                self._emit(None)

    def started(self, reader: str, iccid: str, row: Optional[int]) -> None:
        """A card was identified and matched with a job row."""
        with self._lock:
            if self.mode == "plain":
                where = f"row {row}" if row is not None else "no job row"
                self._emit(f"{reader}: ICCID {iccid}, {where}: started")

    def finished(self, reader: str, result: Mapping[str, Any]) -> None:
        """A card is done (``reader`` as given to the constructor)."""
        with self._lock:
            self._done += 1
            self._counts[result["outcome"]] += 1
            self._steps[reader] = ""
            self._emit(result_line(result))

    def summary(self, seconds: float) -> str:
        """The closing line (also on a terminal: the status line ends)."""
        with self._lock:
            c = self._counts
            failed = c["interrupted"] + c["failed"]
            text = (f"{self._done} card{'s' if self._done != 1 else ''} in {seconds:.1f} s: "
                    f"{c['written']} written, {c['skipped']} skipped, {failed} failed"
                    + (f" ({c['interrupted']} interrupted: re-provision them)"
                       if c["interrupted"] else ""))
            if self.mode == "tty":
                self.stream.write(_CLEAR)
            if self.mode != "off":
                self.stream.write(text + "\n")
                self.stream.flush()
            return text
