"""Shared pieces of the provisioning tests: the package from the build
tree, the pcscd fixture, four virtual card processes (one per vpcd reader,
each with its own ICCID), and a runner for ``python3 -m scboot.provision``."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("SCB_BUILD_DIR", SOURCE_DIR / "build")).resolve()
if not any(pathlib.Path(p, "scboot").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(BUILD_DIR / "python"))
sys.path.insert(0, str(SOURCE_DIR / "tests" / "e2e"))

import pcsc_env  # noqa: E402
import scboot  # noqa: E402
from pcsc_env import pcscd  # noqa: E402,F401  (the shared fixture)
from scboot._job import Job  # noqa: E402
from scboot.provision import Options, Provisioner  # noqa: E402
from scboot.sim import VirtualCard  # noqa: E402

PACKAGE_PARENT = str(pathlib.Path(scboot.__file__).resolve().parents[1])
SCBOOT = BUILD_DIR / "core" / "cli" / "scboot"
GP_KEY = "404142434445464748494A4B4C4D4E4F"
READERS = list(pcsc_env.READERS)
ICCIDS = [f"89883000000000001{i}{i}" for i in range(1, 5)]   # one per reader, in order


def pytest_configure(config):
    config.addinivalue_line("markers", "pcscd: talks to the system's pcscd (vpcd readers)")


@pytest.fixture
def keys_file(tmp_path):
    p = tmp_path / "keys.json"
    p.write_text(json.dumps({"enc": GP_KEY, "mac": GP_KEY, "dek": GP_KEY, "kvn": 48}))
    return p


@pytest.fixture
def keys():
    with scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30) as k:
        yield k


def card_profile(i, **extra):
    """The virtual card of reader i: the built-in card with its own ICCID."""
    return {"iccid": ICCIDS[i], **extra}


class Cards:
    """Four `scboot sim` processes behind the four vpcd readers."""

    def __init__(self, tmp_path, profiles, extra_args):
        self.procs = []
        for i, reader in enumerate(READERS):
            path = tmp_path / f"card{i}.json"
            path.write_text(json.dumps(profiles[i]))
            argv = [SCBOOT, "sim", "--vpcd", f"127.0.0.1:{pcsc_env.READERS[reader]}",
                    "--profile", path, *extra_args[i]]
            self.procs.append(pcsc_env.CardProcess(argv, reader))

    def __enter__(self):
        try:
            for p in self.procs:
                p.__enter__()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for p in self.procs:
            p.stop()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture
def cards(pcscd, tmp_path):
    """A factory: cards(profiles=None, extra_args=None) -> a started Cards
    (stopped at the end of the test)."""
    started = []

    def start(profiles=None, extra_args=None):
        c = Cards(tmp_path, profiles or [card_profile(i) for i in range(4)],
                  extra_args or [[] for _ in range(4)])
        started.append(c.__enter__())
        return c

    yield start
    for c in started:
        c.stop()


def run_provision(*args, timeout=120):
    """python3 -m scboot.provision ARGS (stderr is a pipe: plain progress)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT] + [
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return subprocess.run([sys.executable, "-m", "scboot.provision", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def read_raw(reader, keys_file, tmp_path):
    """The card's bootstrap file bytes as the CLI reads them."""
    out = tmp_path / "read.bin"
    r = subprocess.run([str(SCBOOT), "read", "--reader", reader, "--keys", str(keys_file),
                        "--raw", "-o", str(out)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def provision_in_process(profile, job_path, keys, commands=None):
    """The result of the job's first row on an in-process virtual card made
    from profile (``commands`` collects the INS of every wire command)."""
    vc = VirtualCard(profile)

    def open_card(reader):
        card = vc.card()
        if commands is not None:
            card.set_trace(lambda kind, line: commands.append(line.split()[2])
                           if kind == scboot.TraceKind.WIRE_CMD else None)
        return card

    with Job.load(str(job_path), need_keys=False) as job:
        return Provisioner(job, Options(keys=keys), open_card=open_card).provision("x")


def first_update_binary(profile, job_path, keys):
    """The number of the first UPDATE BINARY the card sees when the
    provisioning job runs against it (a dry run on an in-process copy)."""
    commands = []
    result = provision_in_process(profile, job_path, keys, commands)
    assert result["outcome"] == "written", result
    assert commands.count("D6") >= 2   # the write spans several commands
    return commands.index("D6") + 1


def report_lines(path):
    return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines()]
