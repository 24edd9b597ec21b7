/*
 * Fuzz the SCP03 handshake's handling of the card: the INITIALIZE UPDATE
 * answer (length, SCP id, i parameter, S8/S16, KVN, sequence counter,
 * pseudo-random challenge, card cryptogram) and the EXTERNAL AUTHENTICATE
 * answer (scb_scp03_open), or the INITIALIZE UPDATE answer alone
 * (scb_scp03_probe), with the host challenge pinned by the caller or drawn
 * from the handle's RNG hook (which may fail), with and without KDF3 and
 * an SD AID.
 * An FZ_CARD record lets the virtual card (its Security Domain selected,
 * in the mode the host asks for) answer INITIALIZE UPDATE validly for
 * whatever host challenge was sent, so the fuzzer also reaches the level
 * checks, the EXTERNAL AUTHENTICATE answer and the first secured commands.
 *
 * Input: p0:1 p1:1, then fuzzed_card.h records.
 *   p0: bit 0 S16, bit 1 KDF3, bit 2 pinned host challenge, bit 3 SD AID,
 *       bits 4-6 level (00 01 03 11 13 33 33 33), bit 7 KVN 00 (else 30)
 *   p1: bits 0-1 RNG (fixed bytes, failing, fixed bytes, zeros), bit 2
 *       T=0, bit 3 a key probe instead of an open, bits 4-7 secured
 *       commands after opening
 * Checked: a failed open leaves no session, refuses secured transmits
 * without sending anything and says why; a successful one runs at the
 * level asked; a probe never leaves a session (and does not bar plain
 * commands); every result is a known code.
 */
#include "fuzzed_card.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int rng_fixed(void *user, uint8_t *buf, size_t len)
{
    const uint8_t fill = (uint8_t)(uintptr_t)user;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(fill + i);
    return 0;
}

static int rng_fail(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    (void)buf;
    (void)len;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t levels[8] = {0x00, 0x01, 0x03, 0x11, 0x13, 0x33, 0x33, 0x33};
    static const uint8_t host_challenge[16] = {0x64, 0xF8, 0x94, 0xA0, 0x38, 0xA7, 0x95, 0x1A,
                                               0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    if (size < 2)
        return 0;
    const uint8_t p0 = data[0], p1 = data[1];
    fz_card_t c;
    fz_card_init(&c, data + 2, size - 2, (p1 & 4) ? SCB_TP_T0 : 0,
                 FZ_CARD_SD_SELECTED | ((p0 & 1) ? FZ_CARD_S16 : 0));
    scb_keys_t *keys = NULL;
    scb_card_t *card = fz_card_open(&c, &keys);
    switch (p1 & 3) {
    case 1: scb_card_set_rng(card, rng_fail, NULL); break;
    case 3: scb_card_set_rng(card, rng_fixed, (void *)(uintptr_t)0); break;
    default: scb_card_set_rng(card, rng_fixed, (void *)(uintptr_t)0x64); break;
    }
    fz_trace_install(card, 256);

    const bool s16 = (p0 & 1) != 0;
    const bool probe = (p1 & 8) != 0;
    const uint8_t level = levels[(p0 >> 4) & 7];
    scb_opts_t *o = fz_opts_new();
    fz_opt_int(o, SCB_OPT_LEVEL, level);
    fz_opt_int(o, SCB_OPT_KVN, (p0 & 0x80) ? 0 : FZ_KVN);
    if (s16)
        fz_opt_int(o, SCB_OPT_S16, 1);
    if (p0 & 2)
        fz_opt_int(o, SCB_OPT_KDF3, 1);
    if (p0 & 4)
        fz_opt_bytes(o, SCB_OPT_HOST_CHALLENGE, host_challenge, s16 ? 16 : 8);
    if (p0 & 8)
        fz_opt_bytes(o, SCB_OPT_SD_AID, scb_pkcs15_default_aid(), SCB_PKCS15_AID_LEN);

    scb_scp03_info_t info;
    int rc;
    if (probe) {
        memset(&info, 0xEE, sizeof(info));
        rc = scb_scp03_probe(card, keys, o, &info);
        fz_check_rc(card, rc);
        if (info.s16 != 0 && info.s16 != 1)
            abort();
    } else {
        rc = scb_scp03_open(card, keys, o);
        fz_check_rc(card, rc);
    }
    scb_opts_free(&o);
    if (scb_scp03_info(card, &info) == SCB_OK && info.s16 != 0 && info.s16 != 1)
        abort();
    if (rc != SCB_OK || probe) {
        if (scb_scp03_is_open(card) || scb_scp03_level(card) != -1)
            abort();
        /* after a failed open, secured transmits are refused without
         * touching the card; after a probe (whatever its result) plain
         * commands may follow, as scb_scp03_probe says */
        const unsigned long before = scb_card_apdu_count(card);
        uint8_t r[64];
        size_t rl = sizeof(r);
        if (rc != SCB_OK && !probe &&
            (scb_card_transmit(card, (const uint8_t *)"\x80\xCA\x00\x66\x00", 5, r, &rl) !=
                 SCB_E_SCP_NO_SESSION ||
             scb_card_apdu_count(card) != before))
            abort();
    } else {
        if (!scb_scp03_is_open(card) || scb_scp03_level(card) != level)
            abort();
        /* a few secured commands whose answers are the next records */
        uint8_t r[300];
        for (unsigned i = 0; i < (p1 >> 4); i++) {
            size_t rl = sizeof(r);
            rc = scb_card_transmit(card, (const uint8_t *)"\x80\xCA\x00\x66\x00", 5, r, &rl);
            fz_check_rc(card, rc);
            if (rc != SCB_OK && scb_scp03_is_open(card) && rc != SCB_E_BUFFER_TOO_SMALL)
                abort(); /* a failed secured exchange leaves no session behind */
        }
    }
    scb_scp03_close(card);
    scb_keys_free(&keys);
    scb_card_free(&card);
    fz_card_free(&c);
    return 0;
}
