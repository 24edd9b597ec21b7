"""pytest plugin: test code (or a card) against a smartcard.

Options::

    --scboot-reader NAME     PC/SC reader of the card under test (exact name,
                             index, or unique substring)
    --scboot-sim [PROFILE]   the virtual card in this process instead (a fresh
                             card per test, from PROFILE: a JSON file or text)
    --scboot-keys FILE|URI   SCP03 key set, JSON {"enc": hex, "mac": hex,
                             "dek": hex, "kvn": int} or {"pkcs11": URI,
                             "kvn": int}, or a pkcs11: URI of keys in a token
                             (PIN from its pin-source or SCBOOT_PIN11; the
                             virtual card's own keys when omitted with
                             --scboot-sim)
    --scboot-level LEVEL     secure channel level (default 0x33)
    --scboot-destructive     also run tests that write to the card or can fail
                             EXTERNAL AUTHENTICATE (marked scboot_destructive)
    --scboot-trace FILE      write every APDU (secrets masked) to FILE

Fixtures: ``scboot_card`` (a connected :class:`scboot.Card`),
``scboot_keys`` (:class:`scboot.Keys`), ``scboot_level`` (int),
``scboot_secure_card`` (a card with the PKCS#15 application selected on a
logical channel and SCP03 open at the level), ``scboot_target`` (what is
under test; ``scboot_target.open()`` gives another connection).

The plugin is registered through the ``pytest11`` entry point when the
package is installed; from a build tree add ``-p scboot.pytest_plugin``.
"""
from __future__ import annotations

import os
from typing import IO, Any, Iterator, Optional

import pytest

import scboot

DESTRUCTIVE_MARK = "scboot_destructive"
_VALID_LEVELS = (0x00, 0x01, 0x03, 0x11, 0x13, 0x33)


def _level(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise pytest.UsageError(f"--scboot-level: not a number: {text!r}") from None
    if value not in _VALID_LEVELS:
        levels = ", ".join(f"0x{v:02X}" for v in _VALID_LEVELS)
        raise pytest.UsageError(f"--scboot-level: 0x{value:02X} is not one of {levels}")
    return value


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("scboot", "scboot: smartcards with LwM2M bootstrap data")
    group.addoption("--scboot-reader", metavar="NAME", default=None,
                    help="PC/SC reader of the card under test: exact name, index, "
                         "or a unique substring")
    group.addoption("--scboot-sim", metavar="PROFILE", nargs="?", const="", default=None,
                    help="test the virtual card in this process (a fresh card per test), "
                         "optionally built from PROFILE (JSON file or text)")
    group.addoption("--scboot-keys", metavar="FILE|URI", default=None,
                    help='SCP03 key set as JSON: {"enc": hex, "mac": hex, "dek": hex, '
                         '"kvn": int} or {"pkcs11": URI, "kvn": int}, or a pkcs11: URI '
                         '(keys in a token; PIN from pin-source= or SCBOOT_PIN11)')
    group.addoption("--scboot-level", metavar="LEVEL", default="0x33",
                    help="SCP03 security level for the secure channel (default 0x33)")
    group.addoption("--scboot-destructive", action="store_true", default=False,
                    help="also run tests that write to the card or can fail EXTERNAL "
                         "AUTHENTICATE: a real Security Domain counts failed "
                         "authentications and locks itself")
    group.addoption("--scboot-trace", metavar="FILE", default=None,
                    help="write every APDU exchanged (secrets masked) to FILE")


class Target:
    """The card under test, as the options describe it."""

    def __init__(self, config: Any) -> None:
        self.reader: Optional[str] = config.getoption("scboot_reader")
        self.sim_profile: Optional[str] = config.getoption("scboot_sim")
        self.keys_path: Optional[str] = config.getoption("scboot_keys")
        self.level: int = _level(config.getoption("scboot_level"))
        self.destructive: bool = config.getoption("scboot_destructive")
        trace_path = config.getoption("scboot_trace")
        self._trace: Optional[IO[str]] = open(trace_path, "w", encoding="utf-8") \
            if trace_path else None
        self._test = ""
        if self.reader is not None and self.sim_profile is not None:
            raise pytest.UsageError("give either --scboot-reader or --scboot-sim, not both")
        if (self.keys_path is not None and not self.keys_path.startswith("pkcs11:")
                and not os.path.exists(self.keys_path)):
            raise pytest.UsageError(f"--scboot-keys: no such file: {self.keys_path}")

    @property
    def configured(self) -> bool:
        return self.reader is not None or self.sim_profile is not None

    def describe(self) -> str:
        if self.reader is not None:
            return f"reader {self.reader!r}"
        if self.sim_profile is not None:
            return f"virtual card ({self.sim_profile or 'built-in profile'})"
        return "none (give --scboot-reader NAME or --scboot-sim)"

    def open(self) -> scboot.Card:
        """A new connection to the card under test (skips the test when none is configured)."""
        if not self.configured:
            pytest.skip("no card under test: give --scboot-reader NAME or --scboot-sim")
        if self.reader is not None:
            card = scboot.Card.open(self.reader)
        else:
            card = scboot.Card.sim(self.sim_profile or None)
        if self._trace is not None:
            self._trace.write(f"# {self._test}: connected\n")
            card.set_trace(lambda kind, line: self._trace.write(line + "\n"))
        return card

    @property
    def has_keys(self) -> bool:
        """Keys are known: --scboot-keys, or the virtual card's own."""
        return self.keys_path is not None or self.sim_profile is not None

    def keys(self) -> scboot.Keys:
        """The key set of --scboot-keys; for the virtual card without that
        option its own key set. Skips the test when there is none."""
        if self.keys_path is not None and self.keys_path.startswith("pkcs11:"):
            return scboot.Keys.from_pkcs11(self.keys_path, os.environ.get("SCBOOT_PIN11"))
        if self.keys_path is not None:
            return scboot.Keys.load(self.keys_path)
        if self.sim_profile is not None:
            from scboot.sim import VirtualCard
            with VirtualCard(self.sim_profile or None) as card:
                return card.host_keys()
        pytest.skip("needs the card's SCP03 keys: give --scboot-keys FILE")

    def begin_test(self, nodeid: str) -> None:
        self._test = nodeid
        if self._trace is not None:
            self._trace.flush()

    def close(self) -> None:
        if self._trace is not None:
            self._trace.close()
            self._trace = None


_TARGET_KEY = pytest.StashKey[Target]()


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", f"{DESTRUCTIVE_MARK}: writes to the card or can fail EXTERNAL "
                   "AUTHENTICATE; runs only with --scboot-destructive")
    config.stash[_TARGET_KEY] = Target(config)


def pytest_unconfigure(config: Any) -> None:
    target = config.stash.get(_TARGET_KEY, None)
    if target is not None:
        target.close()


def pytest_report_header(config: Any) -> str:
    target = config.stash[_TARGET_KEY]
    keys = target.keys_path or ("the virtual card's" if target.sim_profile is not None else "none")
    return (f"scboot {scboot.__version__}: card under test: {target.describe()}; "
            f"keys: {keys}; level 0x{target.level:02X}; "
            f"destructive tests: {'yes' if target.destructive else 'no'}")


def pytest_collection_modifyitems(config: Any, items: Any) -> None:
    if config.stash[_TARGET_KEY].destructive:
        return
    skip = pytest.mark.skip(reason="writes to the card or can fail EXTERNAL AUTHENTICATE: "
                                   "run with --scboot-destructive")
    for item in items:
        if DESTRUCTIVE_MARK in item.keywords:
            item.add_marker(skip)


def pytest_runtest_setup(item: Any) -> None:
    config = item.config
    config.stash[_TARGET_KEY].begin_test(item.nodeid)


@pytest.fixture(scope="session")
def scboot_target(request: Any) -> Target:
    """What is under test (reader or virtual card), keys path, level, options."""
    return request.config.stash[_TARGET_KEY]


@pytest.fixture(scope="session")
def scboot_level(scboot_target: Target) -> int:
    """The secure channel level of --scboot-level."""
    return scboot_target.level


@pytest.fixture
def scboot_keys(scboot_target: Target) -> Iterator[scboot.Keys]:
    """The SCP03 key set of --scboot-keys."""
    with scboot_target.keys() as keys:
        yield keys


@pytest.fixture
def scboot_card(scboot_target: Target) -> Iterator[scboot.Card]:
    """A connection to the card under test, closed after the test."""
    with scboot_target.open() as card:
        yield card


@pytest.fixture
def scboot_secure_card(scboot_card: scboot.Card, scboot_keys: scboot.Keys,
                       scboot_level: int) -> Iterator[scboot.Card]:
    """The card with its PKCS#15 application selected on a logical channel
    and an SCP03 secure channel open at --scboot-level."""
    scboot_card.open_app(scboot_keys, scboot_level)
    yield scboot_card
    if not scboot_card.closed:
        scboot_card.close_app()
