"""The conformance suite itself: it passes against the virtual card (in
process and through pcscd), never sends anything that could damage a card
unless asked, and fails, naming the fault, against cards built from the
virtual card's profile to misbehave."""
import json
import re
import sys
import subprocess

import pytest

import pcsc_env
from conftest import SOURCE_DIR

KEYS = str(SOURCE_DIR / "tests" / "python" / "data" / "sim_keys.json")
PCSC_READER = "Virtual PCD B 00 01"
# Commands that write to a card or its key sets (ISO 7816-4 / GP INS).
WRITING_INS = {0xD6: "UPDATE BINARY", 0xDC: "UPDATE RECORD", 0xD8: "PUT KEY",
               0xE2: "STORE DATA", 0xDA: "PUT DATA", 0xE4: "DELETE", 0xE6: "INSTALL",
               0x24: "CHANGE REFERENCE DATA", 0x2C: "RESET RETRY COUNTER"}


def run_suite(*args, timeout=600):
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "scboot.pytest_plugin",
           "-rfEsw", "--pyargs", "scboot.conformance", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         cwd=SOURCE_DIR / "tests" / "python")
    return out.returncode, out.stdout + out.stderr


def sim(profile=None):
    return ["--scboot-sim", json.dumps(profile)] if profile else ["--scboot-sim"]


def failures(output):
    """{test name: failure text} from pytest's FAILURES section."""
    if "= FAILURES =" not in output:
        return {}
    section = output.split("= FAILURES =", 1)[1].split("short test summary info", 1)[0]
    parts = re.split(r"^_{3,} (\S+) _{3,}$", section, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def trace_by_test(path):
    tests = {}
    current = None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("# ") and line.endswith(": connected"):
            current = line[2:-len(": connected")]
            tests.setdefault(current, [])
        elif current is not None:
            tests[current].append(line)
    return tests


def wire_commands(lines):
    """(APDU bytes, SW of its answer) for each wire command of a trace."""
    out = []
    for i, line in enumerate(lines):
        if line.startswith("A>> "):
            apdu = bytes.fromhex(line[4:].split("(")[0].replace(" ", "").replace(".", ""))
            answer = next((x for x in lines[i + 1:] if x.startswith("A<< ")), "")
            sw = re.search(r"\(([0-9A-F]{4})\)", answer)
            out.append((apdu, sw.group(1) if sw else None))
    return out


def test_passes_on_the_builtin_virtual_card():
    rc, output = run_suite(*sim(), "--scboot-keys", KEYS, "--scboot-destructive")
    assert rc == 0, output
    assert " failed" not in output and "skipped" not in output, output
    assert "card under test: virtual card" in output


def test_never_damages_a_card_without_opt_in(tmp_path):
    trace = tmp_path / "trace.txt"
    rc, output = run_suite(*sim(), "--scboot-keys", KEYS, "--scboot-trace", str(trace))
    assert rc == 0, output
    assert "2 skipped" in output and "--scboot-destructive" in output
    commands = [c for lines in trace_by_test(trace).values() for c in wire_commands(lines)]
    assert len(commands) > 100
    external_authenticates = 0
    for apdu, sw in commands:
        assert apdu[1] not in WRITING_INS, f"{WRITING_INS.get(apdu[1])} sent: {apdu.hex()}"
        if apdu[0] & 0x80 and apdu[1] == 0x82:
            external_authenticates += 1
            assert sw == "9000", f"EXTERNAL AUTHENTICATE answered {sw}"
    assert external_authenticates > 5


def test_misencoded_oid_is_a_warning_not_a_failure():
    rc, output = run_suite(*sim({"dodf": {"oid_form": "oid_do_misencoded"}}),
                           "--scboot-keys", KEYS)
    assert rc == 0, output
    assert "ConformanceWarning" in output and "encodes the bootstrap OID twice" in output


def test_bootstrap_readable_in_clear_fails():
    rc, output = run_suite(*sim({"bootstrap": {"read": "always"}}), "--scboot-keys", KEYS)
    assert rc == 1, output
    failed = failures(output)
    assert list(failed) == ["test_bootstrap_ef_not_readable_without_secure_channel"], output
    assert "readable without the secure channel" in failed[
        "test_bootstrap_ef_not_readable_without_secure_channel"]


def test_malformed_dodf_fails_naming_it():
    # The Nordic DODF entry cut inside its label.
    profile = {"dodf": {"hex": "A127300030110C0F4C774D324D20"}}
    rc, output = run_suite(*sim(profile), "--scboot-keys", KEYS)
    assert rc == 1, output
    failed = failures(output)
    assert "test_dodf_holds_the_bootstrap_entry_with_a_path" in failed, output
    assert "EF.DODF 6430 is malformed" in failed["test_dodf_holds_the_bootstrap_entry_with_a_path"]
    # what does not depend on the DODF still passes
    assert "test_efdir_lists_the_pkcs15_application" not in failed


def test_wrong_rmac_fails_naming_it(tmp_path):
    # Find, on a good card, the first response that carries an R-MAC in the
    # R-MAC test: the one right after EXTERNAL AUTHENTICATE at level 0x33.
    trace = tmp_path / "trace.txt"
    rc, output = run_suite(*sim(), "--scboot-keys", KEYS, "--scboot-trace", str(trace),
                           "-k", "test_rmac_and_renc_are_correct")
    assert rc == 0, output
    (lines,) = trace_by_test(trace).values()
    commands = wire_commands(lines)
    # The first EXTERNAL AUTHENTICATE at 0x33 is the level check (claims),
    # whose session is closed again; the second opens the one read through.
    ea = [i for i, (apdu, _) in enumerate(commands) if apdu[1] == 0x82 and apdu[2] == 0x33][1]
    corrupt_at = ea + 2          # APDUs count from 1: the command after EA
    rc, output = run_suite(*sim({"faults": {"corrupt_rmac_at": corrupt_at}}),
                           "--scboot-keys", KEYS)
    assert rc == 1, output
    failed = failures(output)
    text = failed.get("test_rmac_and_renc_are_correct", "")
    assert "R-MAC" in text and "does not verify" in text, output


def test_card_cryptogram_that_never_verifies_fails_naming_it():
    rc, output = run_suite(*sim({"faults": {"bad_card_cryptogram": True}}), "--scboot-keys", KEYS)
    assert rc == 1, output
    assert "cryptogram does not verify" in output


def test_a_level_the_card_does_not_claim_is_skipped_not_failed():
    """i = 30: R-MAC but no R-ENC. The level checks learn that from the
    library's handshake (before EXTERNAL AUTHENTICATE) and skip 0x33."""
    profile = {"scp03": {"i": "0x30", "level_required": "0x13"}}
    rc, output = run_suite(*sim(profile), "--scboot-keys", KEYS, "--scboot-level", "0x13")
    assert rc == 0, output
    assert "the card does not claim level 0x33 (i = 0x30)" in output
    assert " failed" not in output, output


def test_the_virtual_cards_own_keys_serve_without_a_key_file():
    rc, output = run_suite(*sim())
    assert rc == 0, output
    assert "keys: the virtual card's" in output


@pytest.fixture
def served_card():
    """The virtual card served to a vpcd reader by `python3 -m scboot.sim`."""
    def serve(profile=None):
        argv = [sys.executable, "-m", "scboot.sim", "--vpcd", str(pcsc_env.READERS[PCSC_READER])]
        if profile:
            argv += ["--profile", json.dumps(profile)]
        return pcsc_env.CardProcess(argv, PCSC_READER)
    pcsc_env.ensure_pcscd(need=(PCSC_READER,))
    yield serve
    pcsc_env.stop_pcscd()


@pytest.mark.pcscd
def test_passes_through_pcscd(served_card):
    with served_card():
        rc, output = run_suite("--scboot-reader", PCSC_READER, "--scboot-keys", KEYS,
                               "--scboot-destructive")
    assert rc == 0, output
    assert " failed" not in output and "skipped" not in output, output
    assert f"reader '{PCSC_READER}'" in output


@pytest.mark.pcscd
def test_fails_through_pcscd_on_a_card_readable_in_clear(served_card):
    with served_card({"bootstrap": {"read": "always"}}):
        rc, output = run_suite("--scboot-reader", PCSC_READER, "--scboot-keys", KEYS)
    assert rc == 1, output
    assert list(failures(output)) == ["test_bootstrap_ef_not_readable_without_secure_channel"]


@pytest.mark.pcscd
def test_without_keys_the_secure_channel_checks_are_skipped(served_card):
    with served_card({"bootstrap": {"read": "always"}}):
        rc, output = run_suite("--scboot-reader", PCSC_READER)
    assert rc == 0, output
    assert "needs the card's SCP03 keys" in output
    assert "keys: none" in output


# ---- the walk resolves paths as the library does ----------------------------

@pytest.mark.parametrize("path,expect", [
    ("6432", (0x6432, b"", False)),
    ("7FFF6432", (0x6432, b"", False)),                 # the current ADF, then a FID
    ("7FFF50156432", (None, bytes.fromhex("50156432"), False)),
    ("3F0050156432", (None, bytes.fromhex("3F0050156432"), True)),
    ("50156432", (None, bytes.fromhex("50156432"), False)),
])
def test_path_select(path, expect):
    from scboot import pkcs15
    how = pkcs15.path_select(path)
    assert (how.fid, how.path, how.from_mf) == expect


@pytest.mark.parametrize("bad", ["", "64", "643201", "11" * 18])
def test_path_select_refuses_what_is_not_a_list_of_fids(bad):
    from scboot import pkcs15
    import scboot
    with pytest.raises(scboot.ParseError):
        pkcs15.path_select(bad)


@pytest.mark.parametrize("path", ["6432", "7FFF6432", "3F00501564 32"])
def test_walk_selects_the_bootstrap_ef_as_the_library_does(path):
    """A DODF entry whose Path is 7FFF + FID: the walk sends the SELECT the
    library's read sends (by FID), not a SELECT by path."""
    import scboot
    from scboot.conformance.walk import CardWalk
    profile = {"bootstrap": {"read": "always"}, "dodf": {"path": path.replace(" ", "")}}

    def selects_of_the_ef(run):
        with scboot.Card.sim(profile) as card:
            lines = []
            card.set_trace(lambda kind, line: lines.append(line.split()[2:])
                           if kind == scboot.TraceKind.WIRE_CMD else None)
            run(card)
        # SELECT (A4) commands whose data holds the bootstrap EF's FID
        return [cmd for cmd in lines if cmd[0] == "A4" and "6432" in "".join(cmd[4:])]

    def walk(card):
        w = CardWalk(card, None, 0x33)
        w.enter()
        w.bootstrap_ef()

    library = selects_of_the_ef(lambda card: card.read_bootstrap())
    assert len(library) == 1
    assert selects_of_the_ef(walk) == library
