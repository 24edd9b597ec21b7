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
    # The plugin's key check: INITIALIZE UPDATE, no EXTERNAL AUTHENTICATE.
    check = [ln[len("# key check: A>> "):].split() for ln in trace.read_text().splitlines()
             if ln.startswith("# key check: A>> ")]
    assert [c[1] for c in check if c[0].startswith("8")] == ["50"], check
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
    # whose session is closed again; the second reads the files the way the
    # card is meant to be read (at --scboot-level), the third reads them
    # under the level's response protection.
    ea = [i for i, (apdu, _) in enumerate(commands) if apdu[1] == 0x82 and apdu[2] == 0x33][2]
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


# A valid card whose access rules ask level 0x13 for EF.ODF and EF.DODF too
# (and the bootstrap EF): the built-in ODF and DODF moved out of the way,
# the files the walk reads (5031 -> 6431 -> 6432) readable under "sm" only.
POLICY_13 = {
    "scp03": {"level_required": "0x13"},
    "odf": {"fid": "5041"},
    "dodf": {"fid": "6440"},
    "files": [
        {"fid": "5031", "size": 32, "hex": "A706300404026431", "read": "sm", "update": "sm"},
        {"fid": "6431", "size": 128, "read": "sm", "update": "sm",
         "hex": "A12530110C0F4C774D324D20426F6F7473747261703000A10E300C0604672B0901"
                "300404026432"},
    ],
}


def test_a_policy_asking_more_than_a_level_is_reported_not_failed():
    """Levels 0x01, 0x03 and 0x11 are proven by their sessions and the
    wrapped SELECTs the card accepts; the 6982s to READ BINARY there are the
    card's access rules, listed as its policy."""
    import scboot
    with scboot.Card.sim(POLICY_13) as card:   # the profile is the card it says
        card.open_app(None)
        with pytest.raises(scboot.SecurityStatusError):
            card.select_fid(0x5031)
            card.read_binary()
    rc, output = run_suite(*sim(POLICY_13), "--scboot-keys", KEYS, "-v")
    assert rc == 0, output
    assert failures(output) == {}, output
    for level in ("0x01", "0x03", "0x11", "0x13", "0x33"):
        assert f"test_scp03_at_every_level_the_card_claims[{level}] PASSED" in output, output
    assert "test_rmac_and_renc_are_correct PASSED" in output
    policy = output.split("scboot: the card's policy", 1)[1]
    for level in ("0x01", "0x03", "0x11"):
        assert (f"at level {level} the card accepts the secure channel and refuses READ BINARY "
                f"of EF.ODF (5031), EF.DODF 6431, the bootstrap EF (6982)") in policy, output
    assert "at level 0x13 the card" not in policy


def test_a_6982_that_ends_the_session_is_not_taken_for_policy():
    """A card that answers 6982 to READ BINARY at a level and then refuses
    the next wrapped command did not accept the level's secure messaging:
    a failure, not a policy."""
    import scboot
    from scboot.conformance.test_scp03 import read_under
    from scboot.conformance.walk import CardWalk

    class Dropping:
        """The virtual card, dropping its session after the first READ BINARY."""
        def __init__(self):
            self.vc = scboot.sim.VirtualCard(POLICY_13)
            self.dropped = False

        def __call__(self, apdu):
            resp = self.vc.process(apdu)
            if apdu[1] == 0xB0 and not self.dropped:
                self.dropped = True
                self.vc.reset()   # the session (and the channel) gone
            return resp

    import scboot.sim  # noqa: F401
    dropping = Dropping()
    with scboot.Card.from_transmit(dropping) as card, dropping.vc.host_keys() as keys:
        walk = CardWalk(card, keys, 0x33)
        files = [(bytes.fromhex("5031"), "EF.ODF (5031)", b"")]
        with pytest.raises(pytest.fail.Exception, match="refused the next command wrapped"):
            read_under(walk, 0x01, files)
    assert walk.notes == []


def test_without_a_card_every_check_skips_and_the_run_says_what_to_give():
    rc, output = run_suite()
    assert rc == 4, output
    assert "18 skipped" in output
    lines = [ln for ln in output.splitlines() if ln.startswith("scboot: every check was skipped")]
    assert lines == ["scboot: every check was skipped: no card under test: give --scboot-reader "
                     "NAME (a PC/SC reader) or --scboot-sim [PROFILE] (the virtual card)"], output


@pytest.mark.parametrize("content", ['{"enc": "40414243', "404142434445464748494A4B4C4D4E4F",
                                     '{"enc": "zz", "mac": "00"}', "\xff\xfe"])
def test_a_malformed_key_file_is_one_usage_error_naming_it(tmp_path, content):
    path = tmp_path / "keys.json"
    path.write_bytes(content.encode("latin-1"))
    rc, output = run_suite(*sim(), "--scboot-keys", str(path))
    assert rc == 4, output
    assert "Traceback" not in output and " error" not in output, output
    (line,) = [ln for ln in output.splitlines() if ln.strip()]
    assert line.startswith(f"ERROR: --scboot-keys {path}: not a"), output
    rc, output = run_suite(*sim(), "--scboot-keys", str(tmp_path / "none.json"))
    assert rc == 4 and output.strip() == (f"ERROR: --scboot-keys {tmp_path / 'none.json'}: "
                                          "No such file or directory"), output


def test_wrong_keys_are_one_failure_with_the_diagnosis(tmp_path):
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"enc": "00112233445566778899AABBCCDDEEFF", "kvn": 48,
                                 "mac": "00112233445566778899AABBCCDDEEFF"}))
    rc, output = run_suite(*sim(), "--scboot-keys", str(wrong))
    assert rc == 1, output
    failed = failures(output)
    assert list(failed) == ["test_the_keys_open_the_card"], output
    assert (f"the SCP03 keys (--scboot-keys {wrong}, kvn 0x30) do not open the card: card "
            "cryptogram does not verify") in failed["test_the_keys_open_the_card"]
    assert output.count("cryptogram does not verify") == 1, output
    # the checks that need no keys ran; the others say why they did not
    assert "2 passed" in output and "15 skipped" in output, output
    assert "needs keys that open the card; they do not (the failure of " \
           "test_keys.py::test_the_keys_open_the_card says why)" in output
    # run on their own, the checks needing the keys fail once, the first of them
    rc, output = run_suite(*sim(), "--scboot-keys", str(wrong), "-k", "test_scp03")
    assert rc == 1 and len(failures(output)) == 1, output


S16_CARD = {"scp03": {"i": "0x71", "s16": True}}


def test_an_s16_card_passes_without_an_option():
    rc, output = run_suite(*sim(S16_CARD), "--scboot-destructive")
    assert rc == 0, output
    assert " failed" not in output and "skipped" not in output, output
    assert "mode: the card's" in output


def test_s16_can_be_forced():
    rc, output = run_suite(*sim(S16_CARD), "--scboot-s16", "--scboot-destructive")
    assert rc == 0, output
    assert "skipped" not in output and "mode: S16 (forced)" in output, output
    # forced on an S8 card: one failure that says so
    rc, output = run_suite(*sim(), "--scboot-s16")
    assert rc == 1, output
    assert list(failures(output)) == ["test_the_keys_open_the_card"], output
    assert "S16 forced" in output and "answered 6700" in output


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
