"""Where the bootstrap data lives: EF.DIR, the PKCS#15 application on a
logical channel, EF.ODF, EF.DODF and the bootstrap EF."""
import warnings

import scboot
from scboot import pkcs15
from scboot.conformance import ConformanceWarning
from scboot.conformance.walk import MAX_EF_SIZE, CardWalk, fault, what
from scboot.pytest_plugin import Target


def test_efdir_lists_the_pkcs15_application(walk: CardWalk) -> None:
    app = walk.application()
    if not app.aid.startswith(pkcs15.DEFAULT_AID[:7]):
        fault(f"EF.DIR's PKCS#15 template names AID {app.aid.hex().upper()}, which does not "
              f"start with the PKCS#15 RID+PIX {pkcs15.DEFAULT_AID[:7].hex().upper()}")


def test_pkcs15_application_selectable_on_a_logical_channel(walk: CardWalk) -> None:
    channel = walk.open_application()
    assert walk.card.channel == channel
    try:
        walk.card.close_channel()
    except scboot.Error as e:
        fault(f"MANAGE CHANNEL (close) of channel {channel} failed: {what(e)}")


def test_odf_points_to_a_dodf(walk: CardWalk) -> None:
    walk.enter()
    paths = walk.dodf_paths()
    for path in paths:
        if not 2 <= len(path.path) <= 8 or len(path.path) % 2:
            fault(f"EF.ODF dataObjects Path {path.path.hex().upper()} is not a FID or a path "
                  "of FIDs")


def test_dodf_holds_the_bootstrap_entry_with_a_path(walk: CardWalk) -> None:
    walk.enter()
    entry = walk.bootstrap_entry()
    if not entry.path.path:
        fault("the DODF bootstrap entry has an empty Path")
    walk.select(entry.path.path, "the bootstrap EF named by the DODF entry")


def test_bootstrap_oid_encoding(walk: CardWalk) -> None:
    walk.enter()
    entry = walk.bootstrap_entry()
    if entry.oid_form.misencoded:
        warnings.warn(ConformanceWarning(
            f"the DODF encodes the bootstrap OID twice ({entry.oid_value.hex(' ').upper()} "
            "inside an OBJECT IDENTIFIER): the form of the specification's example, which "
            "clients accept, but DER would be 06 04 67 2B 09 01"))


def test_bootstrap_ef_at_most_32k(walk: CardWalk) -> None:
    walk.enter()
    entry = walk.bootstrap_entry()
    fcp = walk.select(entry.path.path, "the bootstrap EF")
    if fcp.file_size is None:
        fault("the bootstrap EF's FCP gives no file size (80/81)")
    if fcp.file_size > MAX_EF_SIZE:
        fault(f"the bootstrap EF is {fcp.file_size} bytes: at most {MAX_EF_SIZE} are allowed")


def test_bootstrap_content_decodes(walk: CardWalk, scboot_target: Target) -> None:
    walk.enter()
    _, fcp, data = walk.bootstrap_ef()
    try:
        bootstrap = scboot.Bootstrap.parse(data)
    except scboot.ParseError as e:
        fault(f"the bootstrap EF ({len(data)} bytes) does not decode: {e.detail}")
    declared = 4 + int.from_bytes(data[2:4], "big")
    if fcp.file_size is not None and declared > fcp.file_size:
        fault(f"the bootstrap file declares {declared} bytes, its EF holds {fcp.file_size}")
    # The library's own read (one call, remembered nothing) finds the same file.
    with scboot_target.open() as card:
        try:
            again = card.read_bootstrap(walk.keys if walk.has_keys else None,
                                        scboot_target.level, **walk.options)
        except scboot.Error as e:
            fault(f"the step-by-step walk read the bootstrap file, the library's read "
                  f"failed: {what(e)}")
    if again.digest != bootstrap.digest:
        fault("two reads of the bootstrap file gave different content")


def test_bootstrap_ef_not_readable_without_secure_channel(walk: CardWalk,
                                                          scboot_keys: scboot.Keys) -> None:
    # The keys are only used to find the EF; the read itself is in clear.
    walk.open_application()
    walk.secure()
    entry = walk.bootstrap_entry()
    walk.card.close_scp03()
    walk.card.close_channel()
    walk.open_application()
    fcp = walk.select(entry.path.path, "the bootstrap EF (without secure channel)")
    try:
        data = walk.card.read_binary(min(fcp.file_size or 16, 16))
    except scboot.CardStatusError:
        return  # refused (6982 expected; any error status protects the data)
    fault(f"the bootstrap EF (path {entry.path.path.hex().upper()}) is readable without the "
          f"secure channel: READ BINARY in clear returned {len(data)} bytes with SW "
          f"{walk.card.last_sw:04X}. With SCP03 keys provisioned (LwM2M Appendix H) the card "
          "must refuse it (6982)")
