/* scboot write: bootstrap JSON (as `read --json --show-secrets` prints it)
 * or raw bytes -> the card's bootstrap EF, inside a secure channel. */
#include "cli.h"

#include "scboot_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The file's bytes: raw as given, or JSON validated and encoded. */
static int load_input(const cli_opts_t *o, uint8_t **data, size_t *len)
{
    size_t n = 0;
    char *text = cli_read_file(o->args[0], &n, o->raw ? SCB_MAX_FILE_SIZE : 4u << 20);
    if (text == NULL) {
        fprintf(stderr, "scboot write: cannot read %s: %s\n", o->args[0],
                errno == EFBIG ? "larger than the 32 KB a bootstrap EF holds" : strerror(errno));
        return EXIT_USAGE; /* the input is wrong, whatever the card holds */
    }
    if (o->raw) {
        *data = (uint8_t *)text;
        *len = n;
        return 0;
    }
    /* JSON as `read --json --show-secrets` prints it (its "read" member is
     * output only: the JSON layer ignores it). Text and tree are wiped. */
    scb_bootstrap_t *bs = NULL;
    char detail[300] = "";
    int rc = memchr(text, 0, n) != NULL
                 ? (snprintf(detail, sizeof(detail), "JSON text: contains a NUL byte"),
                    SCB_E_VALIDATION)
                 : scbj_bootstrap_from_json(text, &bs, detail, sizeof(detail));
    memset(text, 0, n);
    free(text);
    if (rc != SCB_OK) {
        fprintf(stderr, "scboot write: %s: %s\n", o->args[0], detail);
        return EXIT_USAGE;
    }
    /* accounts a client will likely refuse: written, but said */
    for (size_t i = 0; scbj_bootstrap_warning(bs, i, detail, sizeof(detail)) == SCB_OK; i++)
        fprintf(stderr, "scboot write: warning: %s\n", detail);
    uint8_t *buf = malloc(SCB_MAX_FILE_SIZE);
    size_t blen = SCB_MAX_FILE_SIZE;
    rc = buf != NULL ? scb_bootstrap_encode(bs, buf, &blen) : SCB_E_NOMEM;
    scb_bootstrap_free(&bs);
    if (rc != SCB_OK) {
        free(buf);
        if (rc == SCB_E_BUFFER_TOO_SMALL)
            fprintf(stderr, "scboot write: %s encodes to %zu bytes, more than the %u bytes a "
                            "bootstrap EF holds\n", o->args[0], blen, SCB_MAX_FILE_SIZE);
        return rc == SCB_E_BUFFER_TOO_SMALL ? EXIT_USAGE : cli_fail("encoding", rc, NULL);
    }
    *data = buf;
    *len = blen;
    return 0;
}

int cmd_write(cli_opts_t *o)
{
    if (o->nargs != 1) {
        fprintf(stderr, "usage: scboot write [OPTIONS] FILE (see scboot help write)\n");
        return EXIT_USAGE;
    }
    if (cli_flag(o, SCB_OPT_NO_SECURE_CHANNEL)) {
        fprintf(stderr, "scboot write: writing needs the secure channel (C-DEC + C-MAC)\n");
        return EXIT_USAGE;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int ret = load_input(o, &data, &len);
    if (ret != 0)
        return ret;
    scb_keys_t *keys = NULL;
    scb_card_t *card = NULL;
    if ((ret = cli_open_card(o, &card, &keys)) == 0) {
        scb_access_info_t info;
        int rc = scb_write_bootstrap(card, keys, o->lib, data, len, &info);
        if (rc != SCB_OK) {
            ret = cli_fail("writing the bootstrap data", rc, scb_card_errmsg(card));
        } else {
            char path[40] = "";
            for (size_t i = 0; i < info.path_len; i++)
                snprintf(path + 2 * i, sizeof(path) - 2 * i, "%02X", info.path[i]);
            printf("wrote %zu bytes to bootstrap EF %s (%zu bytes)%s, %lu APDUs\n", len, path,
                   info.ef_size, cli_flag(o, SCB_OPT_NO_VERIFY) ? "" : ", read back and verified", info.apdus);
            if (o->use_sim)
                fprintf(stderr, "scboot write: note: the virtual card in process keeps nothing: "
                                "the data is gone when this command ends (use `scboot sim` "
                                "behind pcscd to keep a card)\n");
        }
    }
    scb_card_free(&card);
    scb_keys_free(&keys);
    memset(data, 0, len);
    free(data);
    return ret;
}
