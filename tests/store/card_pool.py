"""The cards of an end-to-end batch, shared by the station worlds: a
directory of card profiles that a world's reader takes one at a time
(an atomic rename: no card reaches two readers), gives back when its
station stopped before finishing it (with what its bootstrap EF holds
then, so the card keeps its state when it moves), or records as done with
the EF it ended with."""
import itertools
import json
import os
import pathlib


class Pool:
    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.queue, self.taken, self.finished = (self.root / d for d in ("queue", "taken", "done"))
        self._seq = itertools.count()

    @classmethod
    def create(cls, root, profiles):
        pool = cls(root)
        for d in (pool.queue, pool.taken, pool.finished):
            d.mkdir(parents=True, exist_ok=True)
        for n, p in enumerate(profiles):
            (pool.queue / f"1-{n:05d}.json").write_text(json.dumps(p))
        return pool

    def take(self, who):
        """(name, profile) of the next card, or None when none is left.
        Cards given back come first."""
        for name in sorted(os.listdir(self.queue)):
            mine = self.taken / f"{who}-{name}"
            try:
                os.rename(self.queue / name, mine)
            except FileNotFoundError:   # another reader took it
                continue
            return name, json.loads(mine.read_text())
        return None

    def give_back(self, name, profile, who):
        tmp = self.root / f".{who}-{os.getpid()}-{next(self._seq)}"
        tmp.write_text(json.dumps(profile))
        os.rename(tmp, self.queue / f"0-{name}")

    def done(self, iccid, record):
        """Record a finished card; a card finished twice is an error."""
        fd = os.open(self.finished / f"{iccid}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)

    def left(self):
        return len(os.listdir(self.queue))

    def results(self):
        return {p.stem: json.loads(p.read_text()) for p in self.finished.glob("*.json")}
