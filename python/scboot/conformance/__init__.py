"""Conformance suite for smartcards that carry LwM2M bootstrap data
(OMA LwM2M Core, smartcard appendix; secure channel per its Appendix H:
GlobalPlatform SCP03 with the Security Domain of the PKCS#15 application).

Run it against a card in a PC/SC reader::

    python3 -m pytest --pyargs scboot.conformance --scboot-reader NAME --scboot-keys keys.json

(from a build tree add ``-p scboot.pytest_plugin``; ``--scboot-sim`` tests
the virtual card instead). keys.json: ``{"enc": hex, "mac": hex, "dek": hex,
"kvn": int}``. Without keys the secure channel checks are skipped. The
card's mode (S8 or S16) is the one the library detects; ``--scboot-s16``
forces S16.

What is checked, each failure saying what the card did wrong:

- the keys open the card (INITIALIZE UPDATE and the card cryptogram only;
  when they do not, that check fails with the diagnosis and the checks
  needing the keys are skipped);
- EF.DIR (2F00) holds a PKCS#15 application template;
- the PKCS#15 ADF can be selected on a logical channel (MANAGE CHANNEL);
- SCP03 opens at every level the card claims in INITIALIZE UPDATE and the
  card accepts commands wrapped at each (every SELECT); the files read at
  a level are the same bytes as at ``--scboot-level``. A READ BINARY the
  card refuses (6982) at a level below a file's access rule, with the
  session still accepting commands after it, is the card's policy: it is
  reported (a ``card_policy`` property, listed in the summary), not
  failed;
- R-MAC and R-ENC are computed correctly (the files read the same with
  less response protection, in clear or at the weakest level the card's
  policy allows), error status words carry none;
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
