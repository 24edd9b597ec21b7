"""Fixtures of the conformance suite (the card, keys, level and options
come from the scboot pytest plugin's options)."""
from typing import Any, Dict, Iterator

import pytest

from scboot.conformance.walk import CardWalk
from scboot.pytest_plugin import POLICY_PROPERTY, Target


@pytest.fixture
def walk(request: Any, scboot_card: Any, scboot_target: Target, scboot_level: int,
         scboot_options: Dict[str, Any]) -> Iterator[CardWalk]:
    """A step-by-step walk on a fresh connection to the card under test.
    The keys (when known) are taken when a step first needs the secure
    channel, so that checks without it run even when the keys are wrong;
    notes on the card's policy become the test's ``card_policy``
    properties."""
    keys = scboot_target.keys if scboot_target.has_keys else None

    def note(text: str) -> None:
        request.node.user_properties.append((POLICY_PROPERTY, text))

    w = CardWalk(scboot_card, keys, scboot_level, options=scboot_options, note=note)
    yield w
    w.close()
