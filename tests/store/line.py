"""A provisioning line in process: readers whose virtual cards come and go.
A card stays in its reader until the station reports its result (the line
is the Provisioner's report), then the next card of that reader's queue
comes after a gap, as an operator would swap them."""
import threading
import time

import scboot
from scboot.sim import VirtualCard

BOOTSTRAP_EF = "50156432"   # ADF PKCS#15 / EF.LwM2M_Bootstrap (core/sim/PROFILE.md)


class Line:
    def __init__(self, queues, gap=0.15):
        """queues: reader -> list of card profiles."""
        self.gap = gap
        self.lock = threading.Lock()
        self.queues = {r: [VirtualCard(p) for p in q] for r, q in queues.items()}
        self.cards = {}          # ICCID -> VirtualCard, every card the line had
        self.current = {}
        self.since = {}
        self.results = []
        for r in self.queues:
            self._next(r, 0.0)

    @property
    def readers(self):
        return list(self.queues)

    def _next(self, reader, gap):
        q = self.queues[reader]
        self.current[reader] = q.pop(0) if q else None
        self.since[reader] = time.monotonic() + gap
        vc = self.current[reader]
        if vc is not None:
            with vc.card() as c:
                self.cards[c.read_iccid()] = vc

    def insert(self, reader, vc):
        """Put a card (back) into a reader, in front of its queue."""
        with self.lock:
            self.queues[reader].insert(0, vc)
            if self.current[reader] is None:
                self._next(reader, self.gap)

    def present(self, reader):
        with self.lock:
            return self.current[reader] is not None and time.monotonic() >= self.since[reader]

    def open_card(self, reader):
        with self.lock:
            vc = self.current[reader]
        if vc is None:
            raise scboot.NoCardError("no card in the reader")
        return vc.card()

    def write(self, result):   # the Provisioner's report
        with self.lock:
            self.results.append(dict(result))
            self._next(result["reader"], self.gap)

    def content(self, iccid, size=None):
        raw = self.cards[iccid].read_file(BOOTSTRAP_EF)
        return raw if size is None else raw[:size]

    def close(self):
        for vc in self.cards.values():
            vc.close()
