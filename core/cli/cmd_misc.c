/* scboot readers, apdu and put-key. */
#include "cli.h"

#include "scboot_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cmd_readers(cli_opts_t *o)
{
    (void)o;
    char detail[256] = "";
    scb_readers_t *r = NULL;
    int rc = scb_readers_list(&r, detail, sizeof(detail));
    if (rc != SCB_OK)
        return cli_fail("listing readers", rc, detail);
    if (scb_readers_count(r) == 0)
        fprintf(stderr, "scboot: no PC/SC readers\n");
    for (size_t i = 0; i < scb_readers_count(r); i++)
        printf("%zu: %s%s\n", i, scb_readers_name(r, i),
               scb_readers_card_present(r, i) ? "  [card]" : "");
    scb_readers_free(&r);
    return 0;
}

int cmd_apdu(cli_opts_t *o)
{
    if (o->nargs < 1) {
        fprintf(stderr, "usage: scboot apdu [OPTIONS] HEX... (see scboot help apdu)\n");
        return EXIT_USAGE;
    }
    /* Check every APDU before touching the card. */
    for (int i = 0; i < o->nargs; i++) {
        uint8_t tmp[4 + 3 + 65535 + 2];
        if (cli_unhex(o->args[i], tmp, sizeof(tmp)) < 4) {
            fprintf(stderr, "scboot apdu: '%s' is not a command APDU in hex\n", o->args[i]);
            return EXIT_USAGE;
        }
    }
    scb_keys_t *keys = NULL;
    scb_card_t *card = NULL;
    int ret = 0;
    if ((ret = cli_open_card(o, &card, o->secure ? &keys : NULL)) != 0)
        return ret;
    int rc = SCB_OK;
    if (o->secure) {
        scb_access_info_t info;
        rc = scb_app_open(card, keys, o->lib, &info);
        if (rc != SCB_OK)
            ret = cli_fail("opening the application", rc, scb_card_errmsg(card));
    }
    static uint8_t cmd[4 + 3 + 65535 + 2], resp[65536 + 2];
    for (int i = 0; ret == 0 && i < o->nargs; i++) {
        long n = cli_unhex(o->args[i], cmd, sizeof(cmd));
        size_t rlen = sizeof(resp);
        rc = scb_card_transmit(card, cmd, (size_t)n, resp, &rlen);
        if (rc != SCB_OK) {
            ret = cli_fail("transmit", rc, scb_card_errmsg(card));
            break;
        }
        for (size_t j = 0; j < rlen; j++)
            printf("%02X", resp[j]);
        printf("\n");
    }
    if (o->secure)
        scb_app_close(card);
    scb_card_free(&card);
    scb_keys_free(&keys);
    return ret;
}

int cmd_put_key(cli_opts_t *o)
{
    if (o->new_keys == NULL || o->nargs > 0) {
        fprintf(stderr, "usage: scboot put-key --new-keys FILE|URI [--replace KVN] (see scboot "
                        "help put-key)\n");
        return EXIT_USAGE;
    }
    if (o->length != 0 && o->length != 16 && o->length != 24 && o->length != 32) {
        fprintf(stderr, "scboot put-key: --length is 16, 24 or 32\n");
        return EXIT_USAGE;
    }
    /* New keys in a token that does not hold them yet are generated there
     * by this PUT KEY (SCB_P11_GENERATE): they never exist on the host. */
    unsigned gen = SCB_P11_GENERATE | cli_length_flags(o);
    scb_keys_t *fresh = NULL;
    int rc;
    if (cli_is_uri(o->new_keys) && o->new_kvn < 0) {
        fprintf(stderr, "scboot put-key: new keys from a URI need their key version: "
                        "--new-kvn N\n");
        return EXIT_USAGE;
    }
    int ret = cli_keys_arg("--new-keys", o->new_keys, o->new_kvn, gen, &fresh);
    if (ret != 0)
        return ret;
    scb_keys_t *keys = NULL;
    scb_card_t *card = NULL;
    if ((ret = cli_open_card(o, &card, &keys)) == 0) {
        scb_access_info_t info;
        rc = scb_rotate_keys(card, keys, fresh, o->lib, &info);
        if (rc != SCB_OK) {
            char h[64] = "";
            /* 6A80 to an addition: the version most likely exists already */
            if (scb_card_last_sw(card) == 0x6A80 && !cli_flag(o, SCB_OPT_REPLACE_KVN))
                snprintf(h, sizeof(h), "to replace that key set: --replace 0x%02X",
                         scb_keys_kvn(fresh));
            ret = cli_fail_hint("rotating the keys", rc, scb_card_errmsg(card),
                                h[0] != 0 ? h : NULL);
        } else {
            uint8_t kcv[3][3];
            scb_keys_kcv(fresh, SCB_KEY_ENC, kcv[0]);
            scb_keys_kcv(fresh, SCB_KEY_MAC, kcv[1]);
            scb_keys_kcv(fresh, SCB_KEY_DEK, kcv[2]);
            printf("key set 0x%02X %s (KCV ENC %02X%02X%02X MAC %02X%02X%02X DEK "
                   "%02X%02X%02X), verified with a new session\n",
                   scb_keys_kvn(fresh), cli_flag(o, SCB_OPT_REPLACE_KVN) ? "replaced" : "added",
                   kcv[0][0], kcv[0][1], kcv[0][2], kcv[1][0], kcv[1][1], kcv[1][2], kcv[2][0],
                   kcv[2][1], kcv[2][2]);
            if (scb_keys_in_token(fresh))
                printf("the new keys are in the token (%s) and never left it in clear\n",
                       o->new_keys);
        }
    }
    scb_card_free(&card);
    scb_keys_free(&keys);
    scb_keys_free(&fresh);
    return ret;
}
