import sys
import pathlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import pcsc_env  # noqa: E402


@pytest.fixture(scope="session")
def pcscd():
    readers = pcsc_env.ensure_pcscd(need=tuple(pcsc_env.READERS))
    yield readers
    pcsc_env.stop_pcscd()
