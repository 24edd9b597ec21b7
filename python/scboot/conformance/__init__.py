"""Conformance suite for smartcards that carry LwM2M bootstrap data
(OMA LwM2M Core, smartcard appendix; secure channel per its Appendix H:
GlobalPlatform SCP03 with the Security Domain of the PKCS#15 application).

Run it against a card in a PC/SC reader::

    python3 -m pytest --pyargs scboot.conformance --scboot-reader NAME --scboot-keys keys.json

(from a build tree add ``-p scboot.pytest_plugin``; ``--scboot-sim`` tests
the virtual card instead). keys.json: ``{"enc": hex, "mac": hex, "dek": hex,
"kvn": int}``. Without keys the secure channel checks are skipped.

What is checked, each failure saying what the card did wrong:

- EF.DIR (2F00) holds a PKCS#15 application template;
- the PKCS#15 ADF can be selected on a logical channel (MANAGE CHANNEL);
- SCP03 opens at every level the card claims in INITIALIZE UPDATE, and
  reads the bootstrap file under each;
- R-MAC and R-ENC are computed correctly, error status words carry none;
- the card's cryptogram does not verify with wrong keys (checked on the
  host: no EXTERNAL AUTHENTICATE is sent with wrong keys);
- EF.ODF points to an EF.DODF, which holds the bootstrap entry with a Path;
- the bootstrap OID encoding (the spec example's doubled encoding is
  reported as a warning, not a failure);
- the bootstrap EF is at most 32 KB and its content decodes;
- the bootstrap EF is not readable without the secure channel (when keys
  are given, i.e. the card is meant to follow Appendix H).

The suite never damages a card: a real Security Domain counts failed
mutual authentications and locks itself, so nothing that can fail EXTERNAL
AUTHENTICATE or writes to the card runs without ``--scboot-destructive``.
"""


class ConformanceWarning(UserWarning):
    """A deviation the field tolerates (reported, not failed)."""
