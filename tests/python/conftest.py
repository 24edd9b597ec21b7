"""Shared helpers of the binding's tests.

scboot is imported from the CMake build tree (PYTHONPATH=build/python, set
by ctest) or, when run by hand, from $SCB_BUILD_DIR/python or ./build/python.
"""
import json
import os
import pathlib
import sys

import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("SCB_BUILD_DIR", SOURCE_DIR / "build")).resolve()
VECTORS = SOURCE_DIR / "tests" / "vectors"

if not any(pathlib.Path(p, "scboot").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(BUILD_DIR / "python"))
sys.path.insert(0, str(SOURCE_DIR / "tests" / "e2e"))  # pcsc_env

import scboot  # noqa: E402  (after the path set-up above)

# Subprocesses (the conformance suite under test, card processes) import
# the same package, whatever the current directory.
PACKAGE_PARENT = str(pathlib.Path(scboot.__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(
    [PACKAGE_PARENT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])


def load_vectors(name):
    with open(VECTORS / name, encoding="utf-8") as f:
        return json.load(f)


class Script:
    """A transport function that checks each command against the next
    expected one and answers with the recorded response."""

    def __init__(self, exchanges):
        self.exchanges = [(bytes.fromhex(c), bytes.fromhex(r)) for c, r in exchanges]
        self.sent = []

    def __call__(self, command):
        self.sent.append(command)
        i = len(self.sent) - 1
        assert i < len(self.exchanges), f"unexpected extra command {command.hex()}"
        expected, response = self.exchanges[i]
        assert command == expected, f"command {i}: sent {command.hex()}, expected {expected.hex()}"
        return response

    def done(self):
        return len(self.sent) == len(self.exchanges)


@pytest.fixture
def script():
    return Script


def pytest_configure(config):
    config.addinivalue_line("markers", "pcscd: talks to the system's pcscd (vpcd readers)")
    config.addinivalue_line("markers", "pip: builds the package with pip (slow)")
    config.addinivalue_line("markers", "mypy: runs Debian's mypy over the package (python.mypy)")
