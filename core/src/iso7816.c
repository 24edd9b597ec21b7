/*
 * ISO 7816-4 / ETSI TS 102 221 commands on top of the engine: SELECT,
 * READ BINARY / READ RECORD / UPDATE BINARY loops, VERIFY (logical
 * channels: channel.c).
 */
#include "crypto.h"
#include "internal.h"

#include <string.h>

static void apdu_init(scb_apdu_t *a, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2)
{
    memset(a, 0, sizeof(*a));
    a->cla = cla;
    a->ins = ins;
    a->p1 = p1;
    a->p2 = p2;
}

/* ------------------------------------------------------------------------ */
/* FCP (TS 102 221 11.1.1.4, ISO 7816-4 7.4)                                 */
/* ------------------------------------------------------------------------ */
/* Read one BER-TLV header with a one-byte tag (all FCP tags are) and a
 * definite length; bounded by end. */
static bool tlv_next(const uint8_t **p, const uint8_t *end, uint8_t *tag, size_t *len)
{
    const uint8_t *q = *p;
    if (end - q < 2)
        return false;
    *tag = *q++;
    size_t l = *q++;
    if (l == 0x81) {
        if (end - q < 1)
            return false;
        l = *q++;
    } else if (l == 0x82) {
        if (end - q < 2)
            return false;
        l = (size_t)q[0] << 8 | q[1];
        q += 2;
    } else if (l > 0x7F) {
        return false;
    }
    if ((size_t)(end - q) < l)
        return false;
    *len = l;
    *p = q;
    return true;
}

static size_t be_uint(const uint8_t *v, size_t n)
{
    size_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = x << 8 | v[i];
    return x;
}

int scb_fcp_parse(const uint8_t *fcp, size_t len, scb_fcp_t *out)
{
    if (fcp == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    const uint8_t *p = fcp, *end = fcp + len;
    uint8_t tag;
    size_t l;
    if (!tlv_next(&p, end, &tag, &l) || tag != 0x62)
        return SCB_E_PARSE;
    const uint8_t *tend = p + l;
    while (p < tend) {
        if (!tlv_next(&p, tend, &tag, &l))
            return SCB_E_PARSE;
        const uint8_t *v = p;
        switch (tag) {
        case 0x82: /* file descriptor: FD byte, coding, [record length (1-2), records] */
            if (l < 1 || l > 6)
                return SCB_E_PARSE;
            if ((v[0] & 0x38) == 0x38)
                out->structure = SCB_FS_DF;
            else if ((v[0] & 0x07) == 0x01)
                out->structure = SCB_FS_TRANSPARENT;
            else if ((v[0] & 0x07) == 0x02)
                out->structure = SCB_FS_LINEAR_FIXED;
            else if ((v[0] & 0x07) == 0x06)
                out->structure = SCB_FS_CYCLIC;
            if (l == 5) {
                out->record_len = be_uint(v + 2, 2);
                out->record_count = v[4];
            } else if (l == 4) {
                out->record_len = be_uint(v + 2, 2);
            } else if (l == 3) {
                out->record_len = v[2];
            }
            break;
        case 0x83:
            if (l != 2)
                return SCB_E_PARSE;
            out->fid = (uint16_t)be_uint(v, 2);
            break;
        case 0x80: /* data bytes in the file */
            if (l < 1 || l > 4)
                return SCB_E_PARSE;
            out->file_size = be_uint(v, l);
            out->has_size = 1;
            break;
        case 0x84:
            if (l < 1 || l > sizeof(out->aid))
                return SCB_E_PARSE;
            memcpy(out->aid, v, l);
            out->aid_len = l;
            break;
        case 0x8A:
            if (l != 1)
                return SCB_E_PARSE;
            out->lcs = v[0];
            break;
        default:
            break; /* security attributes, proprietary: not needed */
        }
        p += l;
    }
    if (out->has_size == 0 && out->structure == SCB_FS_LINEAR_FIXED && out->record_count > 0)
        out->file_size = out->record_len * out->record_count;
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* SELECT (ISO 7816-4 11.2.2, TS 102 221 11.1.1)                             */
/* ------------------------------------------------------------------------ */
static int do_select(scb_card_t *card, uint8_t p1, unsigned flags, const uint8_t *data,
                     size_t dlen, scb_fcp_t *fcp, const char *what)
{
    const bool no_resp = (flags & SCB_SEL_NO_RESP) != 0;
    scb_apdu_t a;
    apdu_init(&a, 0x00, 0xA4, p1, (uint8_t)((no_resp ? 0x0C : 0x04) | ((flags & SCB_SEL_NEXT) ? 0x02 : 0x00)));
    a.data = data;
    a.lc = dlen;
    if (!no_resp) {
        a.has_le = true;
        a.ne = 256;
    }
    uint8_t r[258];
    size_t rlen = sizeof(r);
    int rc = scb__command(card, &a, r, &rlen, what);
    if (rc != SCB_OK)
        return rc;
    if (fcp != NULL && !no_resp && rlen > 0 && scb_fcp_parse(r, rlen, fcp) != SCB_OK) {
        memset(fcp, 0, sizeof(*fcp));
        return scb__fail(card, SCB_E_PARSE, "%s: malformed FCP template (%zu bytes)", what, rlen);
    }
    return SCB_OK;
}

/* The FCP out parameter is defined whatever the result: zeroed first. */
static void fcp_clear(scb_fcp_t *fcp)
{
    if (fcp != NULL)
        memset(fcp, 0, sizeof(*fcp));
}

int scb__select_aid(scb_card_t *card, const uint8_t *aid, size_t aid_len, unsigned flags,
                    scb_fcp_t *fcp)
{
    fcp_clear(fcp);
    return do_select(card, 0x04, flags, aid, aid_len, fcp, "SELECT by AID");
}

int scb__select_fid(scb_card_t *card, uint16_t fid, unsigned flags, scb_fcp_t *fcp)
{
    fcp_clear(fcp);
    const uint8_t f[2] = {(uint8_t)(fid >> 8), (uint8_t)fid};
    return do_select(card, 0x00, flags, f, 2, fcp, "SELECT by FID");
}

int scb__select_path(scb_card_t *card, const uint8_t *path, size_t path_len, bool from_mf,
                     unsigned flags, scb_fcp_t *fcp)
{
    fcp_clear(fcp);
    if (from_mf && path[0] == 0x3F && path[1] == 0x00) {
        path += 2;   /* P1 08: the path starts below the MF */
        path_len -= 2;
        if (path_len == 0)
            return scb__select_fid(card, 0x3F00, flags, fcp);
    }
    return do_select(card, from_mf ? 0x08 : 0x09, flags, path, path_len, fcp,
                     "SELECT by path");
}

/* A public SELECT: the common entry, then the worker inside a transaction. */
#define SELECT_ENTRY(card, fcp, valid, call)                                                      \
    do {                                                                                           \
        fcp_clear(fcp);                                                                            \
        SCB__ENTER(card);                                                                          \
        if (!(valid))                                                                              \
            return scb__fail(card, SCB_E_INVALID_ARG, "%s", "SELECT: invalid arguments");         \
        int rc_ = scb__begin(card);                                                                \
        if (rc_ != SCB_OK)                                                                         \
            return rc_;                                                                            \
        rc_ = (call);                                                                              \
        scb__end(card);                                                                            \
        return rc_;                                                                                \
    } while (0)

int scb_select_aid(scb_card_t *card, const uint8_t *aid, size_t aid_len, unsigned flags,
                   scb_fcp_t *fcp)
{
    SELECT_ENTRY(card, fcp, aid != NULL && aid_len >= 1 && aid_len <= 16,
                 scb__select_aid(card, aid, aid_len, flags, fcp));
}

int scb_select_fid(scb_card_t *card, uint16_t fid, unsigned flags, scb_fcp_t *fcp)
{
    SELECT_ENTRY(card, fcp, true, scb__select_fid(card, fid, flags, fcp));
}

int scb_select_path(scb_card_t *card, const uint8_t *path, size_t path_len, int from_mf,
                    unsigned flags, scb_fcp_t *fcp)
{
    SELECT_ENTRY(card, fcp, path != NULL && path_len >= 2 && path_len % 2 == 0 && path_len <= 32,
                 scb__select_path(card, path, path_len, from_mf != 0, flags, fcp));
}

/* ------------------------------------------------------------------------ */
/* READ BINARY / READ RECORD / UPDATE BINARY / VERIFY                        */
/* ------------------------------------------------------------------------ */
int scb__read_binary_at(scb_card_t *card, size_t offset, size_t size, uint8_t *buf, size_t *len,
                        unsigned flags)
{
    if (card == NULL || buf == NULL || len == NULL)
        return SCB_E_INVALID_ARG;
    const bool until_end = size == 0;
    size_t want = until_end ? SCB_MAX_FILE_SIZE - offset : size;
    if (offset > SCB_MAX_FILE_SIZE || want > SCB_MAX_FILE_SIZE - offset)
        return scb__fail(card, SCB_E_FILE_TOO_LARGE, "file of %zu bytes exceeds the %u byte limit",
                         size, SCB_MAX_FILE_SIZE);
    if (!until_end && want > *len) {
        *len = want;
        return scb__fail(card, SCB_E_BUFFER_TOO_SMALL, "buffer too small for %zu bytes", want);
    }
    if (want > *len)
        want = *len;
    const size_t chunk = scb__max_read_chunk(card);
    size_t off = 0;
    while (off < want) {
        size_t n = want - off < chunk ? want - off : chunk;
        /* Offset in P1-P2 (P1 bit 8 = 0): at most 7FFF (ISO 7816-4 11.3.3). */
        const size_t at = offset + off;
        scb_apdu_t a;
        apdu_init(&a, 0x00, 0xB0, (uint8_t)(at >> 8), (uint8_t)at);
        a.has_le = true;
        a.ne = n;
        a.flags = flags;
        size_t got = *len - off;
        uint16_t sw = 0;
        int rc = scb__transmit(card, &a, buf + off, &got, &sw);
        if (rc != SCB_OK)
            return rc;
        if (got > n) /* whatever the status word, even 6282 (end of file) */
            return scb__fail(card, SCB_E_BAD_RESPONSE,
                             "READ BINARY at offset %zu: asked %zu bytes, got %zu", at, n, got);
        if (sw == 0x6282 || (until_end && at > 0 && sw == 0x6B00)) {
            off += got; /* end of file */
            break;
        }
        if (!scb__sw_ok(sw))
            return scb__sw_error(card, sw, "READ BINARY");
        if (got == 0)
            return scb__fail(card, SCB_E_BAD_RESPONSE,
                             "READ BINARY at offset %zu: card returned no data", at);
        off += got;
        if (until_end && got < n)
            break;
    }
    *len = off;
    return SCB_OK;
}

int scb__read_binary(scb_card_t *card, size_t size, uint8_t *buf, size_t *len, unsigned flags)
{
    return scb__read_binary_at(card, 0, size, buf, len, flags);
}

int scb_read_binary(scb_card_t *card, size_t size, uint8_t *buf, size_t *len)
{
    SCB__ENTER(card);
    if (buf == NULL || len == NULL)
        return scb__fail(card, SCB_E_INVALID_ARG, "READ BINARY: no buffer");
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = scb__read_binary(card, size, buf, len, 0);
    scb__end(card);
    return rc;
}

int scb__read_record(scb_card_t *card, uint8_t sfi, uint8_t rec, uint8_t *buf, size_t *len,
                     uint16_t *sw)
{
    scb_apdu_t a;
    /* P2: SFI in bits 8-4 (0: the current EF), 100 = record number in P1 */
    apdu_init(&a, 0x00, 0xB2, rec, (uint8_t)(sfi << 3 | 0x04));
    a.has_le = true;
    a.ne = 256;
    return scb__transmit(card, &a, buf, len, sw);
}

int scb_read_record(scb_card_t *card, uint8_t record, uint8_t *buf, size_t *len)
{
    SCB__ENTER(card);
    if (buf == NULL || len == NULL || record == 0)
        return scb__fail(card, SCB_E_INVALID_ARG, "READ RECORD: record 1..255 and a buffer");
    uint16_t sw = 0;
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = scb__read_record(card, 0, record, buf, len, &sw);
    scb__end(card);
    if (rc == SCB_OK && !scb__sw_ok(sw))
        rc = scb__sw_error(card, sw, "READ RECORD");
    return rc;
}

int scb__update_binary(scb_card_t *card, size_t offset, const uint8_t *data, size_t len,
                       unsigned flags, size_t *written)
{
    if (card == NULL || (data == NULL && len > 0))
        return SCB_E_INVALID_ARG;
    if (offset + len > SCB_MAX_FILE_SIZE)
        return scb__fail(card, SCB_E_FILE_TOO_LARGE,
                         "UPDATE BINARY beyond the %u byte limit", SCB_MAX_FILE_SIZE);
    const size_t chunk = scb__max_write_chunk(card);
    size_t done = 0;
    if (written != NULL)
        *written = 0;
    while (done < len) {
        size_t n = len - done < chunk ? len - done : chunk;
        size_t off = offset + done;
        scb_apdu_t a;
        apdu_init(&a, 0x00, 0xD6, (uint8_t)(off >> 8), (uint8_t)off);
        a.data = data + done;
        a.lc = n;
        a.flags = flags;
        size_t rlen = 0;
        int rc = scb__command(card, &a, NULL, &rlen, "UPDATE BINARY");
        if (rc != SCB_OK)
            return rc;
        done += n;
        if (written != NULL)
            *written = done;
    }
    return SCB_OK;
}

int scb_update_binary(scb_card_t *card, size_t offset, const uint8_t *data, size_t len)
{
    SCB__ENTER(card);
    if (data == NULL && len > 0)
        return scb__fail(card, SCB_E_INVALID_ARG, "UPDATE BINARY: no data");
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = scb__update_binary(card, offset, data, len, 0, NULL);
    scb__end(card);
    return rc;
}

int scb__verify_pin(scb_card_t *card, uint8_t ref, const uint8_t *pin, size_t pin_len,
                    size_t block_len, uint8_t pad)
{
    /* The PIN padded to the length the card stores (TS 102 221 9.5.1: 8
     * bytes, FF; a PKCS#15 PIN object may say otherwise). */
    uint8_t block[SCB__PIN_BLOCK_MAX];
    if (pin_len == 0 || block_len > sizeof(block) || pin_len > block_len)
        return scb__fail(card, SCB_E_INVALID_ARG, "VERIFY: a PIN of %zu bytes in a block of %zu",
                         pin_len, block_len);
    memset(block, pad, block_len);
    memcpy(block, pin, pin_len);
    scb_apdu_t a;
    apdu_init(&a, 0x00, 0x20, 0x00, ref);
    a.data = block;
    a.lc = block_len;
    a.flags = SCB__APDU_SENSITIVE_CMD;
    size_t rlen = 0;
    uint16_t sw = 0;
    int rc = scb__transmit(card, &a, NULL, &rlen, &sw);
    scb__cleanse(block, sizeof(block));
    if (rc != SCB_OK)
        return rc;
    /* 63C0: that was the last try; 6983: no try was left (ISO 7816-4
     * 5.6.1, TS 102 221 10.2.1.3 "authentication/PIN method blocked"). */
    if (sw == 0x63C0 || sw == 0x6983)
        return scb__fail(card, SCB_E_PIN_WRONG,
                         "VERIFY: the PIN is blocked (no tries left): unblock it with the PUK");
    if ((sw & 0xFFF0) == 0x63C0)
        return scb__fail(card, SCB_E_PIN_WRONG, "VERIFY: PIN rejected, %u %s left",
                         (unsigned)(sw & 0x0F), (sw & 0x0F) == 1 ? "try" : "tries");
    if (!scb__sw_ok(sw))
        return scb__sw_error(card, sw, "VERIFY");
    return SCB_OK;
}

int scb_verify_pin(scb_card_t *card, uint8_t ref, const uint8_t *pin, size_t pin_len)
{
    SCB__ENTER(card);
    if (pin == NULL || pin_len == 0 || pin_len > 8)
        return scb__fail(card, SCB_E_INVALID_ARG, "VERIFY: a PIN of 1..8 bytes");
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    rc = scb__verify_pin(card, ref, pin, pin_len, SCB__PIN_BLOCK_UICC, 0xFF);
    scb__end(card);
    return rc;
}
