/*
 * Fuzz the whole job: scb_read_bootstrap (EF.DIR, logical channel, ADF,
 * SCP03, ODF, DODF, bootstrap EF, channel close) and scb_write_bootstrap
 * (the same way in, UPDATE BINARY, read-back) against a card whose every
 * answer is a record of the input; under SCP03 the answers can be sealed
 * by the virtual card behind the fuzzed card, so the fuzzer reaches the
 * PKCS#15 and bootstrap parsing behind a real secure channel.
 *
 * Input: f0:1 f1:1, then fuzzed_card.h records.
 *   f0: bit 0 no secure channel, 1 skip EF.DIR, 2 no logical channel,
 *       3 remembered path 6432, 4 remembered AID, 5 T=0, 6 extended
 *       length, 7 write instead of read
 *   f1: bits 0-2 level (33 03 13 11 01 33 33 33), bit 3 S16, bit 4 PIN,
 *       bit 5 SD AID, bit 6 pad, bit 7 no_verify (both on a write only:
 *       a read refuses write options)
 * Checked: success gives a model (read) whose raw bytes decode again and
 * bounded info; failure gives no model and a detail message; either way
 * the handle ends on the basic channel with no session open.
 */
#include "fuzzed_card.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A small valid bootstrap file (header, then object id, version 00 =
 * implicit 1.0, length, OMA-TLV): Security /0/0 with a URI, bootstrap
 * flag, PSK mode and a secret key; Server /1/0 with SSID and lifetime. */
static const uint8_t bootstrap_file[] = {
    0x00, 0x02, 0x00, 0x2F,                                     /* 2 objects, 47 bytes */
    0x00, 0x00, 0x00, 0x00, 0x1B,                               /* object 0 */
    0x08, 0x00, 0x18,                                           /* instance 0 */
    0xC8, 0x00, 0x0A, 'c', 'o', 'a', 'p', 's', ':', '/', '/', 'b', 's', /* 0: URI */
    0xC1, 0x01, 0x01,                                           /* 1: bootstrap server */
    0xC1, 0x02, 0x00,                                           /* 2: PSK */
    0xC3, 0x05, 0x11, 0x22, 0x33,                               /* 5: secret key */
    0x00, 0x01, 0x00, 0x00, 0x0A,                               /* object 1 */
    0x08, 0x00, 0x07, 0xC1, 0x00, 0x65, 0xC2, 0x01, 0x01, 0x2C, /* /1/0: SSID 101, 300 s */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t levels[8] = {0x33, 0x03, 0x13, 0x11, 0x01, 0x33, 0x33, 0x33};
    static const uint8_t path[2] = {0x64, 0x32};
    if (size < 2)
        return 0;
    const uint8_t f0 = data[0], f1 = data[1];
    fz_card_t c;
    const unsigned tpf =
        ((f0 & 0x20) ? SCB_TP_T0 : 0) | ((f0 & 0x40) ? SCB_TP_EXTENDED_LENGTH : 0);
    fz_card_init(&c, data + 2, size - 2, tpf, (f1 & 0x08) ? FZ_CARD_S16 : 0);
    scb_keys_t *keys = NULL;
    scb_card_t *card = fz_card_open(&c, &keys);
    fz_trace_install(card, 300);

    /* A read takes no write options: pad and no_verify only on a write. */
    const bool write = (f0 & 0x80) != 0;
    scb_opts_t *o = fz_opts_new();
    if (f0 & 0x01)
        fz_opt_int(o, SCB_OPT_NO_SECURE_CHANNEL, 1);
    if (f0 & 0x02)
        fz_opt_int(o, SCB_OPT_SKIP_EFDIR, 1);
    if (f0 & 0x04)
        fz_opt_int(o, SCB_OPT_NO_LOGICAL_CHANNEL, 1);
    if (write && (f1 & 0x40))
        fz_opt_int(o, SCB_OPT_PAD, 1);
    if (write && (f1 & 0x80))
        fz_opt_int(o, SCB_OPT_NO_VERIFY, 1);
    if (f0 & 0x08)
        fz_opt_bytes(o, SCB_OPT_PATH, path, sizeof(path));
    if (f0 & 0x10)
        fz_opt_bytes(o, SCB_OPT_AID, scb_pkcs15_default_aid(), SCB_PKCS15_AID_LEN);
    fz_opt_int(o, SCB_OPT_LEVEL, levels[f1 & 7]);
    if (f1 & 0x08)
        fz_opt_int(o, SCB_OPT_S16, 1);
    if (f1 & 0x10)
        fz_opt_bytes(o, SCB_OPT_PIN, (const uint8_t *)"1234", 4);
    if (f1 & 0x20)
        fz_opt_bytes(o, SCB_OPT_SD_AID, scb_pkcs15_default_aid(), SCB_PKCS15_AID_LEN);

    scb_access_info_t info;
    memset(&info, 0xEE, sizeof(info));
    int rc;
    if (write) {
        rc = scb_write_bootstrap(card, keys, o, bootstrap_file, sizeof(bootstrap_file), &info);
        fz_check_rc(card, rc);
    } else {
        scb_bootstrap_t *bs = NULL;
        rc = scb_read_bootstrap(card, keys, o, &bs, &info);
        fz_check_rc(card, rc);
        if ((rc == SCB_OK) != (bs != NULL))
            abort();
        if (bs != NULL) {
            const uint8_t *raw = NULL;
            size_t rawlen = 0;
            scb_bootstrap_t *again = NULL;
            char detail[200];
            if (scb_bootstrap_raw(bs, &raw, &rawlen) != SCB_OK || rawlen > SCB_MAX_FILE_SIZE ||
                scb_bootstrap_decode(&again, raw, rawlen, detail, sizeof(detail)) != SCB_OK)
                abort();
            scb_bootstrap_free(&again);
            scb_bootstrap_free(&bs);
        }
    }
    if (rc == SCB_OK && (info.aid_len > sizeof(info.aid) || info.path_len > sizeof(info.path) ||
                         info.channel > 19 || strnlen(info.label, sizeof(info.label)) >= sizeof(info.label)))
        abort();
    /* whatever happened: back on the basic channel, no session left */
    if (scb_card_channel(card) != 0 || scb_scp03_is_open(card))
        abort();
    scb_opts_free(&o);
    scb_keys_free(&keys);
    scb_card_free(&card);
    fz_card_free(&c);
    return 0;
}
