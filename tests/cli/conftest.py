import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))
from pcsc_env import pcscd  # noqa: E402,F401  (the shared fixture)


def pytest_configure(config):
    config.addinivalue_line("markers", "pcscd: talks to pcscd (vpcd readers)")


def pytest_collection_modifyitems(items):
    # A test that asks for the pcscd fixture needs the daemon: marked so a
    # build without PC/SC can deselect it (-m "not pcscd").
    for item in items:
        if "pcscd" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pcscd)
