import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from pcsc_env import pcscd  # noqa: E402,F401  (the shared fixture)
