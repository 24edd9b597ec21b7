"""Shared fixtures: where the recorded vectors and the C build live."""

import json
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

VECTORS = Path(os.environ.get("SCB_VECTORS_DIR", HERE.parent / "vectors"))


def load(name):
    with open(VECTORS / name) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def scp03_vectors():
    return load("scp03.json")
