/* scboot: the command line. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define CARD_OPTS "reader sim modem keys debug timeout"
#define MODEM SCB_SCOPE_MODEM

const cli_command_t cli_commands[] = {
    {"read", cmd_read, "read and decode the LwM2M bootstrap file (the main job)",
     "read [OPTIONS]",
     "Read the LwM2M bootstrap file (EF.DIR -> PKCS#15 ADF on a logical channel ->\n"
     "SCP03 -> ODF -> DODF -> bootstrap EF) and print its accounts.",
     SCB_SCOPE_SCP | SCB_SCOPE_APP | SCB_SCOPE_EF | MODEM,
     CARD_OPTS " json raw output show-secrets"},
    {"write", cmd_write, "write bootstrap data (JSON, or the file's bytes with --raw)",
     "write [OPTIONS] FILE",
     "Write bootstrap data to the card inside a secure channel (at least C-DEC +\n"
     "C-MAC), then read it back and compare.",
     SCB_SCOPE_SCP | SCB_SCOPE_APP | SCB_SCOPE_EF | SCB_SCOPE_WRITE | MODEM, CARD_OPTS " raw"},
    {"put-key", cmd_put_key, "add or replace an SCP03 key set (PUT KEY under the DEK)",
     "put-key --new-keys FILE|URI [--new-kvn N] [--replace KVN] [OPTIONS]",
     "Add a key set (or replace the one with KVN) under the current keys' DEK,\n"
     "check the card's key check values, then open a session with the new keys.\n"
     "The current keys come from the usual key options. New keys named by a URI\n"
     "whose objects do not exist yet are generated in the token, wrapped under\n"
     "the card's DEK and made non-extractable: they never exist outside the token.",
     SCB_SCOPE_SCP | SCB_SCOPE_APP | SCB_SCOPE_ROTATE | MODEM,
     CARD_OPTS " new-keys new-kvn length"},
    {"readers", cmd_readers, "list PC/SC readers", "readers",
     "List PC/SC readers and whether a card is present.", 0, ""},
    {"apdu", cmd_apdu, "send APDUs (--secure: through the secure channel)",
     "apdu [OPTIONS] HEX...",
     "Send command APDUs and print the responses (data and SW in hex).",
     SCB_SCOPE_SCP | SCB_SCOPE_APP | MODEM, CARD_OPTS " secure"},
    {"sim", cmd_sim, "run the virtual card for pcscd's vpcd driver",
     "sim --vpcd HOST:PORT [--profile FILE] [--forever] [--rolling] [--delay-ms N]",
     "Run the virtual UICC as a card for pcscd's vpcd driver (reader \"Virtual PCD\n"
     "00 00\" listens on 35963). Any PC/SC program then sees the card.\n"
     "--rolling: a line of cards; each time a host selects EF.ICCID after other\n"
     "commands, the card becomes a new one from the profile with the next ICCID.",
     0, "vpcd profile forever rolling delay-ms"},
    {"keys", cmd_keys, "key sets in a PKCS#11 token: import, generate, list",
     "keys import --keys FILE --to URI | generate --to URI [--length 16|24|32] | list URI",
     cli_keys_about, 0, "keys to length"},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        cli_usage(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc > 2 && !cli_usage(stdout, argv[2])) {
            fprintf(stderr, "scboot help: no command '%s' (see scboot help)\n", argv[2]);
            return EXIT_USAGE;
        }
        if (argc <= 2)
            cli_usage(stdout, NULL);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("scboot %s\n", scb_version());
        return 0;
    }
    for (size_t i = 0; cli_commands[i].name != NULL; i++) {
        if (strcmp(argv[1], cli_commands[i].name) != 0)
            continue;
        cli_opts_t o;
        int ret = cli_parse(argv[1], argc - 2, argv + 2, &o) ? cli_commands[i].run(&o)
                                                              : EXIT_USAGE;
        cli_free(&o);
        return ret;
    }
    fprintf(stderr, "scboot: unknown command '%s' (see scboot help)\n", argv[1]);
    return EXIT_USAGE;
}
