import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "e2e"))
from pcsc_env import pcscd  # noqa: E402,F401  (the shared fixture)
from softhsm import Token  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "pcscd: runs through the pcscd (RESOURCE_LOCK pcscd)")


@pytest.fixture
def token(tmp_path):
    """A SoftHSM2 token of this test's own, in its temporary directory."""
    return Token(tmp_path / "hsm")
