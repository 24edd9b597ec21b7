/*
 * Fuzz the APDU engine's handling of card answers: scb_card_transmit
 * (61xx GET RESPONSE and 6Cxx resend loops, short and extended, T=0),
 * READ BINARY / READ RECORD / UPDATE BINARY loops, SELECT with FCP,
 * MANAGE CHANNEL, VERIFY, transactions, and the trace rendering of all of
 * it, against a transport whose answers are the fuzz input.
 *
 * Input: flags:1 nops:1 (op:1 arg:1) x nops, then the card's answers as
 * fuzzed_card.h records. flags: bit 0 T=0, bit 1 extended length, bits
 * 2-3 trace buffer size (none, 8, 64, 4096).
 * Checked beyond "no crash, no leak, no hang": every result is a known
 * code with a detail message when the card or transport failed; results
 * fit the caller's buffers and say how much room a too small one needed;
 * FCP and channel values stay in range.
 */
#include "fuzzed_card.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESP_CAP (65536 + 2)

/* Command APDUs for the transmit ops (ISO 7816-4 cases 1-4, short and
 * extended, a PC/SC pseudo-APDU, a malformed one). */
static const struct {
    const char *bytes;
    size_t len;
} apdus[] = {
    {"\x00\xA4\x00\x04\x02\x3F\x00\x00", 8},
    {"\x00\xB0\x00\x00\x00", 5},
    {"\x00\xB0\x00\x00\x10", 5},
    {"\x00\x70\x00\x00\x01", 5},
    {"\x00\xD6\x00\x00\x03\x01\x02\x03", 8},
    {"\x80\xCA\x00\x66", 4},
    {"\x00\xB0\x00\x00\x00\x00\x00", 7},
    {"\xFF\xCA\x00\x00\x00", 5},
    {"\x00\xC0\x00\x00\x00", 5},
    {"\x00\xB0", 2},
};
static const size_t resp_caps[] = {2, 3, 16, 258, RESP_CAP};

static void check_fcp(const scb_fcp_t *f)
{
    if (f->aid_len > sizeof(f->aid) || f->structure < SCB_FS_UNKNOWN || f->structure > SCB_FS_DF)
        abort();
}

static void op_transmit(scb_card_t *card, uint8_t arg, bool plain, uint8_t *resp)
{
    uint8_t big[4 + 3 + 300 + 2];
    const uint8_t *apdu;
    size_t alen;
    size_t which = (arg & 0x0F) % (SCB_ARRAY_LEN(apdus) + 1);
    if (which == SCB_ARRAY_LEN(apdus)) { /* case 4E: 300 data bytes */
        memcpy(big, "\x00\xD6\x00\x00\x00\x01\x2C", 7);
        memset(big + 7, 0xA5, 300);
        big[307] = 0x01;
        big[308] = 0x00;
        apdu = big;
        alen = sizeof(big);
    } else {
        apdu = (const uint8_t *)apdus[which].bytes;
        alen = apdus[which].len;
    }
    const size_t cap = resp_caps[(arg >> 4) % SCB_ARRAY_LEN(resp_caps)];
    size_t rl = cap;
    int rc = plain ? scb_card_transmit_plain(card, apdu, alen, resp, &rl)
                   : scb_card_transmit(card, apdu, alen, resp, &rl);
    fz_check_rc(card, rc);
    if (rc == SCB_OK && (rl < 2 || rl > cap))
        abort();
    if (rc == SCB_E_BUFFER_TOO_SMALL && rl <= cap)
        abort(); /* "too small" must say how much is needed */
}

static void run_op(scb_card_t *card, uint8_t op, uint8_t arg, uint8_t *buf)
{
    static const uint8_t aid[12] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                    0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
    static const uint8_t path[6] = {0x3F, 0x00, 0x50, 0x15, 0x64, 0x32};
    scb_fcp_t fcp;
    int rc;
    size_t len;
    switch (op % 13) {
    case 0:
    case 1:
        op_transmit(card, arg, op % 13 == 1, buf);
        return;
    case 2: {
        const size_t size = (size_t)(arg & 0x3F) * 37; /* 0: until the end */
        const size_t cap = (arg & 0x40) ? 64 : SCB_MAX_FILE_SIZE;
        len = cap;
        rc = scb_read_binary(card, size, buf, &len);
        if (rc == SCB_OK && (len > cap || (size != 0 && len > size)))
            abort();
        break;
    }
    case 3:
        len = (arg & 0x80) ? 8 : 258;
        rc = scb_read_record(card, (uint8_t)(arg & 0x7F), buf, &len);
        if (rc == SCB_OK && len > ((arg & 0x80) ? 8u : 258u))
            abort();
        break;
    case 4:
        memset(&fcp, 0xEE, sizeof(fcp));
        rc = scb_select_aid(card, aid, 5 + arg % 8, (arg & 0x80) ? SCB_SEL_NO_RESP : SCB_SEL_FCP,
                            &fcp);
        if (rc == SCB_OK)
            check_fcp(&fcp);
        break;
    case 5:
        rc = scb_select_fid(card, (uint16_t)(0x2F00 | arg), SCB_SEL_FCP, &fcp);
        if (rc == SCB_OK)
            check_fcp(&fcp);
        break;
    case 6:
        rc = scb_select_path(card, path + (arg & 1) * 2, (arg & 1) ? 4 : 6, (arg >> 1) & 1,
                             (arg & 0x80) ? SCB_SEL_NEXT : SCB_SEL_FCP, &fcp);
        if (rc == SCB_OK)
            check_fcp(&fcp);
        break;
    case 7: {
        uint8_t ch = 0xEE;
        rc = scb_channel_open(card, &ch);
        if (rc == SCB_OK && (ch < 1 || ch > 19 || scb_card_channel(card) != ch))
            abort();
        break;
    }
    case 8:
        rc = scb_channel_close(card);
        if (scb_card_channel(card) != 0 && rc != SCB_E_INVALID_ARG)
            abort(); /* whatever happens, the handle is back on channel 0 */
        break;
    case 9:
        rc = scb_channel_select(card, arg % 21);
        break;
    case 10:
        memset(buf, arg, 600);
        rc = scb_update_binary(card, (size_t)arg * 3, buf, (size_t)arg * 2 + 1);
        break;
    case 11:
        rc = scb_verify_pin(card, 0x01, (const uint8_t *)"12345678", 1 + arg % 8);
        break;
    default:
        rc = (arg & 1) ? scb_card_end(card) : scb_card_begin(card);
        if (rc == SCB_E_STATE)
            return;
        break;
    }
    fz_check_rc(card, rc);
    if (scb_card_channel(card) > 19)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const uint8_t flags = data[0];
    const size_t nops = data[1] % 17;
    if (size < 2 + 2 * nops)
        return 0;
    const uint8_t *ops = data + 2;
    fz_card_t c;
    unsigned tpf = ((flags & 1) ? SCB_TP_T0 : 0) | ((flags & 2) ? SCB_TP_EXTENDED_LENGTH : 0);
    fz_card_init(&c, data + 2 + 2 * nops, size - 2 - 2 * nops, tpf, 0);
    scb_card_t *card = fz_card_open(&c, NULL);
    static const size_t trace_caps[4] = {0, 8, 64, 4096};
    if (trace_caps[(flags >> 2) & 3] != 0)
        fz_trace_install(card, trace_caps[(flags >> 2) & 3]);
    uint8_t *buf = malloc(RESP_CAP);
    if (buf == NULL)
        abort();
    for (size_t i = 0; i < nops; i++)
        run_op(card, ops[2 * i], ops[2 * i + 1], buf);
    free(buf);
    scb_card_free(&card);
    fz_card_free(&c);
    return 0;
}
