"""Fixtures of the conformance suite (the card, keys and level come from
the scboot pytest plugin's options)."""
from typing import Iterator, Optional

import pytest

import scboot
from scboot.conformance.walk import CardWalk


@pytest.fixture
def keys(scboot_target) -> Iterator[Optional[scboot.Keys]]:
    """The card's key set when known (see scboot_keys), else None."""
    if not scboot_target.has_keys:
        yield None
    else:
        with scboot_target.keys() as k:
            yield k


@pytest.fixture
def walk(scboot_card, keys, scboot_level) -> CardWalk:
    """A step-by-step walk on a fresh connection to the card under test."""
    return CardWalk(scboot_card, keys, scboot_level)


@pytest.fixture
def secure_walk(walk, scboot_keys) -> CardWalk:
    """As walk, for checks that need the card's keys."""
    return walk
