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
    --scboot-s16             force S16 mode (without it the library detects
                             the card's mode: S8, or S16 when the card answers
                             6700 to an 8-byte challenge)
    --scboot-destructive     also run tests that write to the card or can fail
                             EXTERNAL AUTHENTICATE (marked scboot_destructive)
    --scboot-trace FILE      write every APDU (secrets masked) to FILE

Fixtures: ``scboot_card`` (a connected :class:`scboot.Card`),
``scboot_keys`` (:class:`scboot.Keys`), ``scboot_level`` (int),
``scboot_options`` (the library options the command line asks for, e.g.
``{"s16": True}``: pass them to the card calls), ``scboot_secure_card`` (a
card with the PKCS#15 application selected on a logical channel and SCP03
open at the level), ``scboot_target`` (what is under test;
``scboot_target.open()`` gives another connection).

What a run reports besides each test's verdict:

- a key file that cannot be read, or is not a key set, is a usage error
  naming the file (nothing runs);
- keys that do not open the card are found once, by the first test that
  asks for them, with INITIALIZE UPDATE only (the card cryptogram is
  checked on the host, nothing is sent that could count against the card):
  that test fails with the diagnosis, later ones that need the keys are
  skipped saying so;
- notes a test records about the card's policy (``card_policy`` user
  properties: an access rule that asks more than a level under test) are
  listed in a summary section, and in a JUnit XML report;
- a run in which every test was skipped for want of a card (no
  ``--scboot-reader`` or ``--scboot-sim``) ends with exit status 4 and a
  line saying what to give.

The plugin is registered through the ``pytest11`` entry point when the
package is installed; from a build tree add ``-p scboot.pytest_plugin``.
"""
from __future__ import annotations

import os
from typing import IO, Any, Callable, Dict, Generator, Iterator, List, Optional, TypeVar, cast

import pytest

import scboot

DESTRUCTIVE_MARK = "scboot_destructive"
POLICY_PROPERTY = "card_policy"
NO_TARGET = ("no card under test: give --scboot-reader NAME (a PC/SC reader) or --scboot-sim "
             "[PROFILE] (the virtual card)")
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
    group.addoption("--scboot-s16", action="store_true", default=False,
                    help="force S16 mode (16-byte challenges and MACs); without it the mode "
                         "is the card's, detected by the library")
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
        # The library's options for every session (names of its option table).
        self.options: Dict[str, Any] = {"s16": True} if config.getoption("scboot_s16") else {}
        self._trace: Optional[IO[str]] = None
        self._test = ""
        self._phase = ""
        # The key check: None not made yet, "" the keys open the card (or
        # it could not tell), else the diagnosis; the test that reports it.
        self.key_verdict: Optional[str] = None
        self.verdict_test: Optional[str] = None
        self.skipped_for_target = 0
        if self.reader is not None and self.sim_profile is not None:
            raise pytest.UsageError("give either --scboot-reader or --scboot-sim, not both")
        if self.keys_path is not None and not self.keys_path.startswith("pkcs11:"):
            self._check_key_file(self.keys_path)   # a token's keys: checked by the key check
        trace_path = config.getoption("scboot_trace")
        if trace_path:
            try:
                self._trace = open(trace_path, "w", encoding="utf-8")
            except OSError as e:
                raise pytest.UsageError(f"--scboot-trace {trace_path}: {e.strerror or e}") \
                    from None

    @staticmethod
    def _check_key_file(path: str) -> None:
        """A usage error, naming the file, unless it holds a key set."""
        try:
            scboot.Keys.load(path).close()
        except OSError as e:
            raise pytest.UsageError(f"--scboot-keys {path}: {e.strerror or e}") from None
        except UnicodeDecodeError:
            raise pytest.UsageError(f"--scboot-keys {path}: not a text file (a JSON key set "
                                    f'{{"enc": hex, "mac": hex, "dek": hex, "kvn": int}})') \
                from None
        except scboot.Error as e:
            raise pytest.UsageError(f"--scboot-keys {path}: not a key set: {e.detail or e} "
                                    f'(expected JSON {{"enc": hex, "mac": hex, "dek": hex, '
                                    f'"kvn": int}})') from None

    @property
    def configured(self) -> bool:
        return self.reader is not None or self.sim_profile is not None

    def describe(self) -> str:
        if self.reader is not None:
            return f"reader {self.reader!r}"
        if self.sim_profile is not None:
            return f"virtual card ({self.sim_profile or 'built-in profile'})"
        return "none (give --scboot-reader NAME or --scboot-sim)"

    def open(self, purpose: str = "") -> scboot.Card:
        """A new connection to the card under test (skips the test when
        none is configured). The trace has a ``# TEST: connected`` line,
        then the connection's lines; a connection made for a ``purpose``
        of the plugin's own (the key check) has each of its lines marked
        ``# PURPOSE:`` instead, so that the test's own stay together."""
        if not self.configured:
            self.skipped_for_target += 1
            pytest.skip(NO_TARGET)
        if self.reader is not None:
            card = scboot.Card.open(self.reader)
        else:
            card = scboot.Card.sim(self.sim_profile or None)
        if self._trace is not None:
            out: IO[str] = self._trace
            if purpose:
                out.write(f"# {purpose} for {self._test}\n")
                card.set_trace(lambda kind, line: out.write(f"# {purpose}: {line}\n"))
            else:
                out.write(f"# {self._test}: connected\n")
                card.set_trace(lambda kind, line: out.write(line + "\n"))
        return card

    @property
    def has_keys(self) -> bool:
        """Keys are known: --scboot-keys, or the virtual card's own."""
        return self.keys_path is not None or self.sim_profile is not None

    def _load_keys(self) -> scboot.Keys:
        if self.keys_path is not None and self.keys_path.startswith("pkcs11:"):
            return scboot.Keys.from_pkcs11(self.keys_path, os.environ.get("SCBOOT_PIN11"))
        if self.keys_path is not None:
            return scboot.Keys.load(self.keys_path)
        if self.sim_profile is not None:
            from scboot.sim import VirtualCard
            with VirtualCard(self.sim_profile or None) as card:
                return card.host_keys()
        pytest.skip("needs the card's SCP03 keys: give --scboot-keys FILE")

    def keys(self) -> scboot.Keys:
        """The key set of --scboot-keys; for the virtual card without that
        option its own key set. Skips the test when there is none, or when
        the key check (made once) found that the keys do not open the card:
        the test that made the check fails with the diagnosis instead."""
        if not self.configured:
            self.skipped_for_target += 1
            pytest.skip(NO_TARGET)
        keys = self._load_keys()
        try:
            if self.key_verdict is None:
                self.key_verdict = self._key_check(keys)
            if self.key_verdict:
                if self.verdict_test is None:
                    self.verdict_test = self._test
                if self.verdict_test != self._test:
                    pytest.skip(f"needs keys that open the card; they do not (the failure of "
                                f"{_test_name(self.verdict_test)} says why)")
                if self._phase == "call":
                    pytest.fail(self.key_verdict, pytrace=False)
                # asked for by a fixture: the test fails when it starts
                # (pytest_runtest_call), as a failure rather than an error
        except BaseException:
            keys.close()
            raise
        return keys

    def _key_check(self, keys: scboot.Keys) -> str:
        """"" when the keys open the card or this cannot tell (the checks
        then say what fails), else why they do not. INITIALIZE UPDATE only:
        the card cryptogram is verified on the host, nothing is sent that
        a wrong key could make fail."""
        where = (f"--scboot-keys {self.keys_path}" if self.keys_path is not None
                 else "the virtual card's own keys")
        try:
            with self.open("key check") as card:
                card.open_app(None)
                card.probe_keys(keys, **self.options)
        except scboot.CardCryptogramError as e:
            return (f"the SCP03 keys ({where}, kvn 0x{keys.kvn:02X}) do not open the card: "
                    f"{e.detail or e}. Wrong keys, master keys that need KDF3, or a card that "
                    f"derives its cryptogram differently from GP Amendment D. Nothing was sent "
                    f"after INITIALIZE UPDATE, so nothing counted against the card; the checks "
                    f"that need the keys are skipped")
        except scboot.NoKeySetError as e:
            return (f"the card has no key set with the version of the SCP03 keys ({where}, "
                    f"kvn 0x{keys.kvn:02X}): {e.detail or e}; the checks that need the keys "
                    f"are skipped")
        except scboot.SecurityLevelError:
            return ""       # the level checks say which levels the card claims
        except scboot.SecureChannelError as e:
            return (f"the card refuses INITIALIZE UPDATE with the SCP03 keys ({where}, kvn "
                    f"0x{keys.kvn:02X}{', S16 forced' if self.options.get('s16') else ''}): "
                    f"{e.detail or e}; the checks that need the keys are skipped")
        except scboot.Error:
            return ""       # not about the keys: the checks say what fails
        return ""

    def begin_test(self, nodeid: str, phase: str) -> None:
        self._test = nodeid
        self._phase = phase
        if self._trace is not None:
            self._trace.flush()

    def close(self) -> None:
        if self._trace is not None:
            self._trace.close()
            self._trace = None


class _RunRecord:
    """What the run did, for its summary and exit status."""

    def __init__(self) -> None:
        self.ran = 0              # tests that passed or failed
        self.policy: List[str] = []


_F = TypeVar("_F", bound=Callable[..., Any])


def _hookimpl(**how: bool) -> Callable[[_F], _F]:
    """pytest.hookimpl with its type (pluggy carries none)."""
    return cast(Callable[[_F], _F], pytest.hookimpl(**how))


_TARGET_KEY = pytest.StashKey[Target]()
_RECORD_KEY = pytest.StashKey[_RunRecord]()


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", f"{DESTRUCTIVE_MARK}: writes to the card or can fail EXTERNAL "
                   "AUTHENTICATE; runs only with --scboot-destructive")
    config.stash[_TARGET_KEY] = Target(config)
    config.stash[_RECORD_KEY] = _RunRecord()


def pytest_unconfigure(config: Any) -> None:
    target = config.stash.get(_TARGET_KEY, None)
    if target is not None:
        target.close()


def pytest_report_header(config: Any) -> str:
    target = config.stash[_TARGET_KEY]
    keys = target.keys_path or ("the virtual card's" if target.sim_profile is not None else "none")
    mode = "S16 (forced)" if target.options.get("s16") else "the card's"
    return (f"scboot {scboot.__version__}: card under test: {target.describe()}; "
            f"keys: {keys}; level 0x{target.level:02X}; mode: {mode}; "
            f"destructive tests: {'yes' if target.destructive else 'no'}")


def pytest_collection_modifyitems(config: Any, items: Any) -> None:
    if config.stash[_TARGET_KEY].destructive:
        return
    skip = pytest.mark.skip(reason="writes to the card or can fail EXTERNAL AUTHENTICATE: "
                                   "run with --scboot-destructive")
    for item in items:
        if DESTRUCTIVE_MARK in item.keywords:
            item.add_marker(skip)


def _test_name(nodeid: str) -> str:
    """A test as a person finds it: file name and test, whatever pytest's
    rootdir (which paths on the command line move)."""
    path, sep, rest = nodeid.partition("::")
    return path.rsplit("/", 1)[-1] + sep + rest


def pytest_runtest_setup(item: Any) -> None:
    item.config.stash[_TARGET_KEY].begin_test(item.nodeid, "setup")


@_hookimpl(tryfirst=True)
def pytest_runtest_call(item: Any) -> None:
    target = item.config.stash[_TARGET_KEY]
    target.begin_test(item.nodeid, "call")
    if target.key_verdict and target.verdict_test == item.nodeid:
        pytest.fail(target.key_verdict, pytrace=False)


@_hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    record = item.config.stash[_RECORD_KEY]
    if report.passed and report.when == "call" or report.failed:
        record.ran += 1
    if report.when == "call":
        for name, value in report.user_properties:
            line = f"{report.nodeid}: {value}"
            if name == POLICY_PROPERTY and line not in record.policy:
                record.policy.append(line)


@_hookimpl(tryfirst=True)
def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    target = session.config.stash[_TARGET_KEY]
    record = session.config.stash[_RECORD_KEY]
    if (exitstatus == pytest.ExitCode.OK and not target.configured and record.ran == 0
            and target.skipped_for_target):
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    target = config.stash[_TARGET_KEY]
    record = config.stash[_RECORD_KEY]
    if record.policy:
        terminalreporter.section("scboot: the card's policy (reported as such, not a fault)")
        for line in record.policy:
            terminalreporter.write_line(line)
    if not target.configured and record.ran == 0 and target.skipped_for_target:
        terminalreporter.write_line(f"scboot: every check was skipped: {NO_TARGET}", red=True,
                                    bold=True)


@pytest.fixture(scope="session")
def scboot_target(request: Any) -> Target:
    """What is under test (reader or virtual card), keys path, level, options."""
    target: Target = request.config.stash[_TARGET_KEY]
    return target


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


@pytest.fixture(scope="session")
def scboot_options(scboot_target: Target) -> Dict[str, Any]:
    """The library options of the command line (``{"s16": True}`` with
    --scboot-s16), for the card calls: ``card.open_scp03(keys, level,
    **scboot_options)``."""
    return dict(scboot_target.options)


@pytest.fixture
def scboot_secure_card(scboot_card: scboot.Card, scboot_keys: scboot.Keys,
                       scboot_level: int, scboot_options: Dict[str, Any]) -> Iterator[scboot.Card]:
    """The card with its PKCS#15 application selected on a logical channel
    and an SCP03 secure channel open at --scboot-level."""
    scboot_card.open_app(scboot_keys, scboot_level, **scboot_options)
    yield scboot_card
    if not scboot_card.closed:
        scboot_card.close_app()
