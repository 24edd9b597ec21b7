"""Drive pcsc_session (tests/hardening/pcsc_session.c) from a test: one
long-lived library session over PC/SC, one command at a time, with its
trace lines (-d) collected as they come."""
import os
import pathlib
import queue
import subprocess
import threading
import time

BUILD_DIR = pathlib.Path(os.environ.get("SCB_BUILD_DIR",
                                        pathlib.Path(__file__).resolve().parents[2] / "build"))
SESSION = BUILD_DIR / "tests" / "hardening" / "pcsc_session"


class Session:
    def __init__(self, trace=False):
        self.p = subprocess.Popen([str(SESSION)] + (["-d"] if trace else []),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()  # stderr: trace lines (and sanitizer reports)
        self.stderr = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self):
        for line in self.p.stderr:
            self.stderr.append(line)
            self.lines.put(line.rstrip("\n"))

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def reply(self):
        out = self.p.stdout.readline().strip()
        assert out, "pcsc_session died:\n" + "".join(self.stderr)
        words = out.split(" msg=", 1)
        res = dict(w.split("=", 1) for w in words[0].split()[1:])
        res["msg"] = words[1] if len(words) > 1 else ""
        return res

    def cmd(self, line):
        self.send(line)
        return self.reply()

    def drain(self):
        """Forget the trace lines so far."""
        while not self.lines.empty():
            self.lines.get_nowait()

    def wait_trace(self, prefix, count, timeout=10.0):
        """Wait until `count` more trace lines starting with prefix have come."""
        deadline = time.monotonic() + timeout
        seen = 0
        while seen < count:
            left = deadline - time.monotonic()
            assert left > 0, f"only {seen} of {count} '{prefix}' trace lines"
            try:
                if self.lines.get(timeout=left).startswith(prefix):
                    seen += 1
            except queue.Empty:
                pass

    def finish(self):
        """Quit; the process must end cleanly (in sanitizer builds: no leak,
        no report)."""
        self.send("quit")
        rc = self.p.wait(30)
        self._reader.join(10)
        err = "".join(self.stderr)
        assert rc == 0, err
        assert "Sanitizer" not in err and "runtime error" not in err, err
