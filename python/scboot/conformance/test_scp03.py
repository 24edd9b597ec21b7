"""The secure channel (LwM2M Appendix H: GlobalPlatform SCP03 with the
Security Domain of the PKCS#15 application). Needs --scboot-keys.

Only key checks that cannot fail EXTERNAL AUTHENTICATE run by default: the
library verifies the card's cryptogram before it sends EXTERNAL
AUTHENTICATE, so wrong keys are caught on the host side.
"""
import os
from typing import Any, Dict, List, Optional, Tuple

import pytest

import scboot
from scboot.conformance.walk import MAX_EF_SIZE, ODF_FID, CardWalk, fault, what

File = Tuple[bytes, str, bytes]   # a file of the walk: path, name, content

ODF_PATH = ODF_FID.to_bytes(2, "big")

LEVELS = [0x01, 0x03, 0x11, 0x13, 0x33]
R_MAC_LEVELS = [0x33, 0x13, 0x11]          # strongest first


def level_id(level: int) -> str:
    return f"0x{level:02X}"


def protection(level: int) -> str:
    """What a level does to the card's answers (R-MAC, R-MAC + R-ENC)."""
    return "R-MAC + R-ENC" if level & 0x20 else "R-MAC" if level & 0x10 else "no protection"


def claims(walk: CardWalk, level: int) -> bool:
    """Does the card claim `level` in INITIALIZE UPDATE (its i parameter)?
    The library checks the card cryptogram and the level against i before
    it sends EXTERNAL AUTHENTICATE, so nothing that can fail is sent: wrong
    keys or a level the card lacks stop the handshake on the host side."""
    keys = walk.keys
    walk.open_application()
    try:
        walk.card.open_scp03(keys, level, **walk.options)
        return True
    except scboot.SecurityLevelError:
        return False
    except scboot.CardCryptogramError as e:
        fault(f"SCP03: the card's cryptogram does not verify with the given keys "
              f"(kvn 0x{keys.kvn:02X}): {what(e)}")
    except scboot.Error as e:
        fault(f"INITIALIZE UPDATE for level 0x{level:02X} failed: {what(e)}")
    finally:
        try:
            walk.card.close_channel()
        except scboot.Error:
            pass  # the verdict above stands; the next step reports a broken card


def card_files(walk: CardWalk) -> List[File]:
    """EF.ODF, the DODFs and the bootstrap EF as (path, name, bytes), found
    and read the way the card is meant to be read: inside a secure channel
    at the level under test (--scboot-level)."""
    walk.enter()
    files = [(ODF_PATH, "EF.ODF (5031)", walk.read(ODF_PATH, "EF.ODF (5031)")[1])]
    for path in walk.dodf_paths():
        name = f"EF.DODF {path.path.hex().upper()}"
        files.append((path.path, name, walk.read(path.path, name)[1]))
    entry = walk.bootstrap_entry()
    files.append((entry.path.path, "the bootstrap EF",
                  walk.read(entry.path.path, "the bootstrap EF")[1]))
    walk.card.close_channel()
    return files


def read_under(walk: CardWalk, level: Optional[int], files: List[File],
               record: bool = True) -> Dict[bytes, Optional[bytes]]:
    """{path: bytes, or None where the card's access rule refuses the read
    at this level}, each file read inside a secure channel at `level`
    (None: without one).

    The level is proven by the session (EXTERNAL AUTHENTICATE at it) and by
    the commands wrapped at it that the card accepts: every SELECT. A READ
    BINARY the card refuses with 6982 is its access rule asking more (the
    card's policy, recorded, not a fault) when the next wrapped command is
    still accepted: a card that could not unwrap a command ends the session
    (GP Amendment D 6.2.4), so a SELECT after it would be refused too."""
    walk.open_application()
    if level is not None:
        walk.secure(level)
        if walk.card.scp03_level != level:
            fault(f"the secure channel runs at level {walk.card.scp03_level}, 0x{level:02X} "
                  "was asked for")
    where = f"at level 0x{level:02X}" if level is not None else "without a secure channel"
    out: Dict[bytes, Optional[bytes]] = {}
    refused = []
    for path, name, _ in files:
        fcp = walk.select(path, f"{name} {where}")
        try:
            out[path] = walk.card.read_binary(min(fcp.file_size or 0, MAX_EF_SIZE))
        except scboot.SecurityStatusError:
            out[path] = None
            if level is None:
                continue        # a file the card protects: Appendix H wants that
            try:
                walk.card.select_fid(ODF_FID)
            except scboot.Error as e:
                fault(f"READ BINARY of {name} {where} was refused with 6982, and the card "
                      f"then refused the next command wrapped at that level ({what(e)}): it "
                      "did not accept the secure messaging of the level, this is not an "
                      "access rule")
            refused.append(name)
        except scboot.Error as e:
            fault(f"READ BINARY of {name} {where} failed: {what(e)}")
    walk.card.close_channel()
    if refused and record:
        walk.policy(f"{where} the card accepts the secure channel and refuses READ BINARY of "
                    f"{', '.join(refused)} (6982): its access rules ask for a higher level")
    return out


def decodes(data: Optional[bytes], how: str) -> None:
    """Fault unless the bootstrap EF's bytes (None: not read) decode."""
    if data is not None:
        try:
            scboot.Bootstrap.parse(data)
        except scboot.ParseError as e:
            fault(f"{how} bytes that do not decode: {e.detail}")


@pytest.mark.parametrize("level", LEVELS, ids=level_id)
def test_scp03_at_every_level_the_card_claims(walk: CardWalk, scboot_keys: scboot.Keys,
                                              scboot_level: int, level: int) -> None:
    if not claims(walk, level):
        i = walk.card.scp03_info.i_param
        pytest.skip(f"the card does not claim level 0x{level:02X} (i = 0x{i:02X})")
    files = card_files(walk)
    got = read_under(walk, level, files)
    for path, name, expected in files:
        if got[path] is not None and got[path] != expected:
            fault(f"{name} reads differently at level 0x{level:02X} than at 0x{scboot_level:02X}: "
                  "the secure messaging of one of the levels alters the data")
    bootstrap_path = files[-1][0]
    if got[bootstrap_path] is None and level == scboot_level:
        fault(f"the bootstrap EF is not readable inside a secure channel at level "
              f"0x{level:02X} (6982)")
    decodes(got[bootstrap_path], f"at level 0x{level:02X} the bootstrap EF reads as")


def weaker_levels(level: int) -> List[Optional[int]]:
    """Where the same files can be read with less response protection than
    at `level`: in clear (None) first, then the levels whose R-MAC / R-ENC
    bits are a strict part of its own."""
    r = level & 0x30
    return [None] + [lv for lv in LEVELS if (lv & 0x30) != r and (lv & 0x30) & ~r == 0]


def test_rmac_and_renc_are_correct(walk: CardWalk, scboot_keys: scboot.Keys) -> None:
    level = next((lv for lv in R_MAC_LEVELS if claims(walk, lv)), None)
    if level is None:
        pytest.skip(f"the card claims no R-MAC level (i = 0x{walk.card.scp03_info.i_param:02X})")
    files = card_files(walk)
    protected = read_under(walk, level, files)
    decodes(protected[files[-1][0]], f"under {protection(level)} the bootstrap EF decrypts to")
    # The same files read with less response protection must give the same
    # bytes: the card's R-ENC encryption and R-MAC did not alter them. The
    # card's policy may refuse some reads at a weaker level: each file is
    # compared at the weakest level that reads it.
    unchecked = {path for path, _, _ in files if protected[path] is not None}
    for weaker in weaker_levels(level):
        if not unchecked:
            break
        if weaker is not None and not claims(walk, weaker):
            continue
        plain = read_under(walk, weaker, [f for f in files if f[0] in unchecked], record=False)
        for path, name, _ in files:
            if path not in unchecked or plain.get(path) is None:
                continue
            if plain[path] != protected[path]:
                shown = f"level 0x{weaker:02X}" if weaker is not None else "clear"
                fault(f"{name} reads differently at level 0x{level:02X} ({protection(level)}) "
                      f"than in {shown}: the card's response protection alters the data")
            unchecked.discard(path)
    if unchecked:
        names = ", ".join(name for path, name, _ in files if path in unchecked)
        walk.policy(f"the card's access rules let {names} be read at level 0x{level:02X} "
                    f"only, so its {protection(level)} could not be compared with a reading "
                    "with less response protection")
    # A failing command's answer carries no R-MAC and no data (Amendment D
    # 6.2.5: only 9000, 62xx and 63xx responses are protected).
    walk.open_application()
    walk.secure(level)
    missing = 0x5F0E  # a FID a PKCS#15 application does not use
    try:
        walk.card.select_fid(missing)
    except scboot.CardStatusError:
        pass
    except scboot.Error as e:
        fault(f"SELECT of a missing file under level 0x{level:02X} gave an answer the host "
              f"cannot accept: {what(e)}. An error status word must come without R-MAC "
              "and without data")
    else:
        fault(f"SELECT of the unused FID {missing:04X} succeeded; cannot check error answers")


def test_wrong_keys_rejected_before_external_authenticate(walk: CardWalk,
                                                          scboot_keys: scboot.Keys) -> None:
    n = scboot_keys.key_length
    wrong = scboot.Keys(os.urandom(n), os.urandom(n), None, scboot_keys.kvn)
    walk.open_application()
    try:
        walk.card.probe_keys(wrong, level=walk.level, **walk.options)
    except scboot.CardCryptogramError:
        pass
    except scboot.Error as e:
        fault(f"INITIALIZE UPDATE with random keys failed other than by a wrong card "
              f"cryptogram: {what(e)}")
    else:
        fault("the card's cryptogram verified with random keys: the card does not derive "
              "its cryptogram from its static keys (GP Amendment D 6.2.2.2)")
    if walk.card.scp03_level is not None:
        fault("a secure channel is open after a failed key check")
    # The right keys still work: nothing was counted against the card.
    walk.secure()


@pytest.mark.scboot_destructive
def test_external_authenticate_with_wrong_cryptogram_is_rejected(walk: CardWalk,
                                                                 scboot_keys: scboot.Keys) -> None:
    walk.open_application()
    # The card's mode as the library finds it: an 8-byte challenge, then 16
    # bytes when an S16 card answers 6700 (Amd D 7.1.1); --scboot-s16: 16.
    forced = walk.options.get("s16")
    for size in ((16,) if forced else (8,) if forced is False else (8, 16)):
        iu = walk.card.transmit_plain(bytes([0x80, 0x50, scboot_keys.kvn, 0x00, size])
                                      + os.urandom(size) + b"\x00")
        if iu[-2:] != b"\x67\x00":
            break
    if iu[-2:] != b"\x90\x00" or len(iu) < 2 + 13 + 2 * size:
        fault(f"INITIALIZE UPDATE with a {size}-byte challenge answered {iu.hex().upper()}")
    if bool(iu[12] & 0x01) != (size == 16):
        fault(f"INITIALIZE UPDATE: the card answered a {size}-byte challenge with i = "
              f"0x{iu[12]:02X}, which says {'S16' if iu[12] & 0x01 else 'S8'}")
    # An all-zero host cryptogram and C-MAC (8 bytes each in S8, 16 in S16):
    # the card must refuse it.
    ea = walk.card.transmit_plain(bytes([0x84, 0x82, walk.level, 0x00, 2 * size])
                                  + bytes(2 * size))
    if ea[-2:] == b"\x90\x00":
        fault("the card accepted EXTERNAL AUTHENTICATE with a zero host cryptogram and C-MAC")


@pytest.mark.scboot_destructive
def test_bootstrap_rewrite_reads_back(scboot_card: scboot.Card, scboot_keys: scboot.Keys,
                                      scboot_level: int, scboot_options: Dict[str, Any]) -> None:
    bootstrap = scboot_card.read_bootstrap(scboot_keys, scboot_level, **scboot_options)
    raw, access = bootstrap.raw, bootstrap.access
    assert raw is not None and access is not None   # what a read gives
    size = 4 + int.from_bytes(raw[2:4], "big")
    try:
        scboot_card.write_bootstrap(raw[:size], scboot_keys, scboot_level, path=access.path,
                                    aid=access.aid, **scboot_options)
    except scboot.Error as e:
        fault(f"writing the card's own bootstrap file back failed: {what(e)}")
    again = scboot_card.read_bootstrap(scboot_keys, scboot_level, path=access.path,
                                       aid=access.aid, **scboot_options)
    if again.digest != bootstrap.digest:
        fault("the bootstrap file reads back differently after rewriting the same bytes")
