"""PC/SC test environment: a pcscd with the project's four vpcd readers and
card processes that connect to them. Shared by every end-to-end test suite.

pcscd has one fixed socket (/run/pcscd), so there is at most one daemon.
ensure_pcscd() uses a running one, or starts one with the reader
configuration tests/pcsc/setup-readers.sh writes (root needed), and
stop_pcscd() stops only a daemon this module started, by PID.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]
SETUP_READERS = SOURCE_DIR / "tests" / "pcsc" / "setup-readers.sh"
BUILD_DIR = pathlib.Path(os.environ.get("SCB_BUILD_DIR", SOURCE_DIR / "build")).resolve()

# reader name -> port the card process connects to
READERS = {
    "Virtual PCD 00 00": 35963,
    "Virtual PCD 00 01": 35964,
    "Virtual PCD B 00 00": 35965,
    "Virtual PCD B 00 01": 35966,
}

_started = None


def probe_path():
    return BUILD_DIR / "tests" / "e2e" / "pcsc_probe"


def list_readers():
    """{name: present} or None when pcscd is not reachable."""
    out = subprocess.run([str(probe_path()), "list"], capture_output=True, text=True, timeout=20)
    if out.returncode != 0:
        return None
    readers = {}
    for line in out.stdout.splitlines():
        name, present = line.rsplit("\t", 1)
        readers[name] = present == "1"
    return readers


def ensure_pcscd(need=("Virtual PCD 00 00",)):
    """Make sure a pcscd serves the readers in `need`; start one if none runs."""
    global _started
    readers = list_readers()
    if readers is None:
        pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
        conf = subprocess.run([str(SETUP_READERS), str(BUILD_DIR / "pcsc")], check=True,
                              capture_output=True, text=True).stdout.strip()
        if os.geteuid() != 0:
            raise RuntimeError("pcscd is not running and only root can start it "
                               f"(sudo {pcscd} -f -c {conf})")
        _started = subprocess.Popen([pcscd, "-f", "-c", conf],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            readers = list_readers()
            if readers is not None and all(n in readers for n in need):
                break
            time.sleep(0.1)
    if readers is None:
        raise RuntimeError("pcscd did not come up")
    missing = [n for n in need if n not in readers]
    if missing:
        raise RuntimeError(f"pcscd runs without the readers {missing}: stop it and start it "
                           f"with pcscd -f -c $({SETUP_READERS})")
    return readers


def stop_pcscd():
    global _started
    if _started is not None:
        _started.send_signal(signal.SIGTERM)
        try:
            _started.wait(10)
        except subprocess.TimeoutExpired:
            _started.kill()
        _started = None


def wait_card(reader, present=True, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readers = list_readers() or {}
        if readers.get(reader) == present:
            return True
        time.sleep(0.05)
    return False


class CardProcess:
    """A card process (argv) that connects to a vpcd reader; context manager."""

    def __init__(self, argv, reader):
        self.argv = [str(a) for a in argv]
        self.reader = reader
        self.proc = None

    def __enter__(self):
        # a previous card on this reader must be gone first
        wait_card(self.reader, present=False, timeout=10)
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_card(self.reader, True, timeout=10):
            self.stop()
            raise RuntimeError(f"card process {self.argv} did not appear in {self.reader!r}")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        wait_card(self.reader, present=False, timeout=10)

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture(scope="session")
def pcscd():
    """A pcscd serving the four vpcd readers for the whole test session."""
    readers = ensure_pcscd(need=tuple(READERS))
    yield readers
    stop_pcscd()
