"""The key set: does it open the card? Checked first (the other checks
that need the keys are skipped when it does not), with INITIALIZE UPDATE
only: the library verifies the card cryptogram on the host, so nothing is
sent that a wrong key could make fail."""
from scboot.pytest_plugin import Target



def test_the_keys_open_the_card(scboot_target: Target) -> None:
    # The plugin's key check; its failure is the diagnosis.
    scboot_target.keys().close()
