import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))
from pcsc_env import pcscd  # noqa: E402,F401  (the shared fixture)
