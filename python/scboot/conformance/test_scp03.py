"""The secure channel (LwM2M Appendix H: GlobalPlatform SCP03 with the
Security Domain of the PKCS#15 application). Needs --scboot-keys.

Only key checks that cannot fail EXTERNAL AUTHENTICATE run by default: the
library verifies the card's cryptogram before it sends EXTERNAL
AUTHENTICATE, so wrong keys are caught on the host side.
"""
import os

import pytest

import scboot
from scboot.conformance.walk import MAX_EF_SIZE, ODF_FID, fault, what

ODF_PATH = ODF_FID.to_bytes(2, "big")

LEVELS = [0x01, 0x03, 0x11, 0x13, 0x33]
R_MAC_LEVELS = [0x33, 0x13, 0x11]          # strongest first


def level_id(level):
    return f"0x{level:02X}"


def claims(walk, level):
    """Does the card claim `level` in INITIALIZE UPDATE (its i parameter)?
    The library checks the card cryptogram and the level against i before
    it sends EXTERNAL AUTHENTICATE, so nothing that can fail is sent: wrong
    keys or a level the card lacks stop the handshake on the host side."""
    walk.open_application()
    try:
        walk.card.open_scp03(walk.keys, level)
        return True
    except scboot.SecurityLevelError:
        return False
    except scboot.CardCryptogramError as e:
        fault(f"SCP03: the card's cryptogram does not verify with the given keys "
              f"(kvn 0x{walk.keys.kvn:02X}): {what(e)}")
    except scboot.Error as e:
        fault(f"INITIALIZE UPDATE for level 0x{level:02X} failed: {what(e)}")
    finally:
        try:
            walk.card.close_channel()
        except scboot.Error:
            pass  # the verdict above stands; the next step reports a broken card


def read_under(walk, level):
    """ODF and DODF bytes, then the bootstrap EF's bytes (None when the
    card's access rule wants a higher level), inside a secure channel at
    level. Secure messaging is exercised on every command and response."""
    walk.open_application()
    walk.secure(level)
    if walk.card.scp03_level != level:
        fault(f"the secure channel runs at level {walk.card.scp03_level}, 0x{level:02X} "
              "was asked for")
    directory = read_directory(walk)
    entry = walk.bootstrap_entry()
    fcp = walk.select(entry.path.path, "the bootstrap EF")
    try:
        data = walk.card.read_binary(min(fcp.file_size or 0, MAX_EF_SIZE))
    except scboot.SecurityStatusError:
        data = None
    except scboot.Error as e:
        fault(f"READ BINARY of the bootstrap EF at level 0x{level:02X} failed: {what(e)}")
    walk.card.close_channel()
    return directory, data


def read_directory(walk):
    """EF.ODF and the DODFs it names, as read on the current channel."""
    files = [walk.read(ODF_PATH, "EF.ODF (5031)")[1]]
    for path in walk.dodf_paths():
        files.append(walk.read(path.path, f"EF.DODF {path.path.hex().upper()}")[1])
    return files


@pytest.mark.parametrize("level", LEVELS, ids=level_id)
def test_scp03_at_every_level_the_card_claims(walk, scboot_keys, scboot_level, level):
    if not claims(walk, level):
        i = walk.card.scp03_info.i_param
        pytest.skip(f"the card does not claim level 0x{level:02X} (i = 0x{i:02X})")
    _, data = read_under(walk, level)
    if data is None:
        if level == scboot_level:
            fault(f"the bootstrap EF is not readable inside a secure channel at level "
                  f"0x{level:02X} (6982)")
        return  # the card wants a stronger level for the bootstrap EF: its policy
    try:
        scboot.Bootstrap.parse(data)
    except scboot.ParseError as e:
        fault(f"at level 0x{level:02X} the bootstrap EF reads as bytes that do not decode: "
              f"{e.detail}")


def test_rmac_and_renc_are_correct(walk, scboot_keys):
    level = next((lv for lv in R_MAC_LEVELS if claims(walk, lv)), None)
    if level is None:
        pytest.skip(f"the card claims no R-MAC level (i = 0x{walk.card.scp03_info.i_param:02X})")
    protected, data = read_under(walk, level)
    if data is not None:
        try:
            scboot.Bootstrap.parse(data)
        except scboot.ParseError as e:
            fault(f"under R-MAC{' + R-ENC' if level & 0x20 else ''} the bootstrap EF decrypts "
                  f"to bytes that do not decode: {e.detail}")
    # The same files with responses in clear must give the same bytes: the
    # card's R-ENC encryption and R-MAC did not alter them.
    walk.open_application()
    try:
        clear = read_directory(walk)
    except pytest.fail.Exception:
        clear = None   # the card protects its directory files too: nothing to compare
    walk.card.close_channel()
    if clear is not None and clear != protected:
        fault(f"EF.ODF / EF.DODF read differently at level 0x{level:02X} (R-MAC"
              f"{' + R-ENC' if level & 0x20 else ''}) than in clear: the card's response "
              "protection alters the data")
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


def test_wrong_keys_rejected_before_external_authenticate(walk, scboot_keys):
    n = scboot_keys.key_length
    wrong = scboot.Keys(os.urandom(n), os.urandom(n), None, scboot_keys.kvn)
    walk.open_application()
    try:
        walk.card.probe_keys(wrong, level=walk.level)
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
def test_external_authenticate_with_wrong_cryptogram_is_rejected(walk, scboot_keys):
    walk.open_application()
    challenge = os.urandom(8)
    iu = walk.card.transmit_plain(bytes([0x80, 0x50, scboot_keys.kvn, 0x00, 8]) + challenge
                                  + b"\x00")
    if iu[-2:] != b"\x90\x00" or len(iu) < 2 + 29:
        fault(f"INITIALIZE UPDATE answered {iu.hex().upper()}")
    s16 = iu[12] & 0x01
    size = 16 if s16 else 8
    if s16:
        fault("S16 card: this check sends S8 lengths only")
    # An all-zero host cryptogram and C-MAC: the card must refuse it.
    ea = walk.card.transmit_plain(bytes([0x84, 0x82, walk.level, 0x00, 2 * size])
                                  + bytes(2 * size))
    if ea[-2:] == b"\x90\x00":
        fault("the card accepted EXTERNAL AUTHENTICATE with a zero host cryptogram and C-MAC")


@pytest.mark.scboot_destructive
def test_bootstrap_rewrite_reads_back(scboot_card, scboot_keys, scboot_level):
    bootstrap = scboot_card.read_bootstrap(scboot_keys, scboot_level)
    raw = bootstrap.raw
    size = 4 + int.from_bytes(raw[2:4], "big")
    access = bootstrap.access
    try:
        scboot_card.write_bootstrap(raw[:size], scboot_keys, scboot_level, path=access.path,
                                    aid=access.aid)
    except scboot.Error as e:
        fault(f"writing the card's own bootstrap file back failed: {what(e)}")
    again = scboot_card.read_bootstrap(scboot_keys, scboot_level, path=access.path,
                                       aid=access.aid)
    if again.digest != bootstrap.digest:
        fault("the bootstrap file reads back differently after rewriting the same bytes")
