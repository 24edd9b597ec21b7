/*
 * Fuzz secure-messaging unwrap (R-MAC, R-ENC, padding, status words with
 * and without data) inside a real session: the handshake runs against the
 * virtual card behind the fuzzed card, then every answer is a record from the
 * input: raw wire bytes (which must fail the R-MAC), sealed blocks with a
 * valid R-MAC whose padding the fuzzer chooses, or well-formed sealed
 * plaintext.
 *
 * Input: flags:1, then (command:1 record) pairs. flags: bits 0-2 level
 * (01 03 11 13 33 33 33 33), bit 3 S16, bit 4 extended length, bit 5 T=0.
 * command: bits 0-2 pick the plain command, bit 7 a 16-byte answer buffer.
 * Checked: a well-formed sealed 9000 answer unwraps to exactly its
 * plaintext; any secure-channel failure ends the session, and secured
 * transmits are then refused without touching the card; results are known
 * codes with a detail message.
 */
#include "fuzzed_card.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *bytes;
    size_t len;
} commands[] = {
    {"\x00\xB0\x00\x00\x00", 5},
    {"\x00\xB0\x00\x00\xEF", 5},
    {"\x00\xA4\x00\x04\x02\x50\x31\x00", 8},
    {"\x80\xCA\x00\x66\x00", 5},
    {"\x00\xD6\x00\x00\x04\x01\x02\x03\x04", 9},
    {"\x00\xB2\x01\x04\x00", 5},
    {"\x80\xF2\x80\x00\x02\x4F\x00\x00", 8},
    {"\x00\x20\x00\x01\x08\x31\x32\x33\x34\xFF\xFF\xFF\xFF", 13},
};

/* The record at the read position, without consuming it. */
static bool peek_record(const fz_card_t *c, int *kind, const uint8_t **b, size_t *n)
{
    size_t left = fz_left(c);
    const uint8_t *p = c->in + c->pos;
    if (left < 2)
        return false;
    size_t hl = (p[0] & 0x80) ? 3 : 2;
    if (left < hl)
        return false;
    size_t len = hl == 3 ? (size_t)(p[1] & 0x7F) << 8 | p[2] : p[1];
    if (len > left - hl)
        len = left - hl;
    *kind = p[0] & 0x07;
    *b = p + hl;
    *n = len;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t levels[8] = {0x01, 0x03, 0x11, 0x13, 0x33, 0x33, 0x33, 0x33};
    if (size < 1)
        return 0;
    const uint8_t flags = data[0];
    /* Two FZ_CARD records for INITIALIZE UPDATE and EXTERNAL AUTHENTICATE,
     * then the fuzz input. */
    uint8_t *in = malloc(size + 3);
    if (in == NULL)
        abort();
    memcpy(in, "\x03\x00\x03\x00", 4);
    memcpy(in + 4, data + 1, size - 1);
    fz_card_t c;
    const unsigned tpf =
        ((flags & 0x10) ? SCB_TP_EXTENDED_LENGTH : 0) | ((flags & 0x20) ? SCB_TP_T0 : 0);
    fz_card_init(&c, in, size + 3, tpf, FZ_CARD_SD_SELECTED | ((flags & 8) ? FZ_CARD_S16 : 0));
    scb_keys_t *keys = NULL;
    scb_card_t *card = fz_card_open(&c, &keys);
    fz_trace_install(card, 512);
    scb_opts_t *o = fz_opts_new();
    fz_opt_int(o, SCB_OPT_LEVEL, levels[flags & 7]);
    if (flags & 8)
        fz_opt_int(o, SCB_OPT_S16, 1);
    if (scb_scp03_open(card, keys, o) != SCB_OK)
        abort(); /* the card end's own handshake must succeed */
    scb_opts_free(&o);

    uint8_t resp[300];
    for (;;) {
        const uint8_t *cmd = fz_take(&c, 1);
        if (cmd == NULL)
            break;
        const size_t which = *cmd & 7;
        const size_t cap = (*cmd & 0x80) ? 16 : sizeof(resp);
        int kind = -1;
        const uint8_t *rec = NULL;
        size_t rec_len = 0;
        const bool have = peek_record(&c, &kind, &rec, &rec_len);
        const bool was_open = scb_scp03_is_open(card);
        const unsigned long before = scb_card_apdu_count(card);
        size_t rl = cap;
        int rc = scb_card_transmit(card, (const uint8_t *)commands[which].bytes,
                                   commands[which].len, resp, &rl);
        fz_check_rc(card, rc);
        if (!was_open) {
            if (rc != SCB_E_SCP_NO_SESSION || scb_card_apdu_count(card) != before)
                abort();
            continue;
        }
        if (scb_error_family(rc) == SCB_FAMILY_SECURE && scb_scp03_is_open(card))
            abort(); /* a secure-channel failure must end the session */
        /* A well-formed sealed 9000 answer, fetched in one exchange, to a
         * command the card end accepted: its plaintext comes out exactly
         * (when the buffer holds it). A card end that refused the command
         * (6982: its session is over, as GP 2.3 10.8 wants) seals with a
         * state the host does not share, so the host must refuse the
         * R-MAC instead, which the family check above already covers. */
        if (have && kind == FZ_PLAIN && rec_len >= 2 && rec[rec_len - 2] == 0x90 &&
            rec[rec_len - 1] == 0x00 && scb_card_apdu_count(card) == before + 1 &&
            c.card_sw == 0x9000) {
            const size_t plain = rec_len - 2;
            if (plain + 2 <= cap) {
                if (rc != SCB_OK || rl != plain + 2 || memcmp(resp, rec, plain) != 0 ||
                    resp[plain] != 0x90 || resp[plain + 1] != 0x00)
                    abort();
            } else if (rc != SCB_E_BUFFER_TOO_SMALL || rl != plain + 2) {
                abort();
            }
        }
    }
    scb_keys_free(&keys);
    scb_card_free(&card);
    fz_card_free(&c);
    free(in);
    return 0;
}
