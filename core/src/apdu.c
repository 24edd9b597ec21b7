/*
 * Command APDU encoding and parsing (ISO/IEC 7816-4:2013 5.1, 5.4.1) and
 * the logical-channel CLA byte.
 */
#include "internal.h"

#include <string.h>

int scb__apdu_encode(const scb_apdu_t *a, uint8_t *out, size_t *len)
{
    if (a == NULL || out == NULL || len == NULL)
        return SCB_E_INVALID_ARG;
    if (a->lc > 65535 || (a->lc > 0 && a->data == NULL) || (a->has_le && (a->ne == 0 || a->ne > 65536)))
        return SCB_E_INVALID_ARG;
    const bool ext = a->extended || a->lc > 255 || (a->has_le && a->ne > 256);
    if (!ext && a->has_le && a->ne > 256)
        return SCB_E_INVALID_ARG;
    size_t need = 4 + a->lc;
    if (a->lc > 0)
        need += ext ? 3 : 1;
    if (a->has_le)
        need += ext ? (a->lc > 0 ? 2 : 3) : 1;
    if (need > *len) {
        *len = need;
        return SCB_E_BUFFER_TOO_SMALL;
    }
    size_t o = 0;
    out[o++] = a->cla;
    out[o++] = a->ins;
    out[o++] = a->p1;
    out[o++] = a->p2;
    if (a->lc > 0) {
        if (ext) {
            out[o++] = 0x00;
            out[o++] = (uint8_t)(a->lc >> 8);
        }
        out[o++] = (uint8_t)a->lc;
        memcpy(out + o, a->data, a->lc);
        o += a->lc;
    }
    if (a->has_le) {
        /* Ne 256 / 65536 encode as 00 / 00 00 (ISO 7816-4 5.1). */
        if (ext) {
            if (a->lc == 0)
                out[o++] = 0x00;
            out[o++] = (uint8_t)((a->ne >> 8) & 0xFF);
            out[o++] = (uint8_t)(a->ne & 0xFF);
        } else {
            out[o++] = (uint8_t)(a->ne & 0xFF);
        }
    }
    *len = o;
    return SCB_OK;
}

int scb__apdu_parse(const uint8_t *buf, size_t len, scb_apdu_t *out)
{
    if (buf == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (len < 4)
        return SCB_E_INVALID_ARG;
    out->cla = buf[0];
    out->ins = buf[1];
    out->p1 = buf[2];
    out->p2 = buf[3];
    if (len == 4)
        return SCB_OK;                               /* case 1 */
    const size_t b = buf[4];
    if (len == 5) {                                  /* case 2S */
        out->has_le = true;
        out->ne = b == 0 ? 256 : b;
        return SCB_OK;
    }
    if (b != 0) {                                    /* short Lc */
        if (len == 5 + b) {                          /* case 3S */
            out->lc = b;
            out->data = buf + 5;
            return SCB_OK;
        }
        if (len == 6 + b) {                          /* case 4S */
            out->lc = b;
            out->data = buf + 5;
            out->has_le = true;
            out->ne = buf[len - 1] == 0 ? 256 : buf[len - 1];
            return SCB_OK;
        }
        return SCB_E_INVALID_ARG;
    }
    /* b == 0 and len > 5: extended length. */
    out->extended = true;
    if (len == 7) {                                  /* case 2E */
        size_t le = (size_t)buf[5] << 8 | buf[6];
        out->has_le = true;
        out->ne = le == 0 ? 65536 : le;
        return SCB_OK;
    }
    if (len < 8)
        return SCB_E_INVALID_ARG;
    const size_t lc = (size_t)buf[5] << 8 | buf[6];
    if (lc == 0)
        return SCB_E_INVALID_ARG;
    if (len == 7 + lc) {                             /* case 3E */
        out->lc = lc;
        out->data = buf + 7;
        return SCB_OK;
    }
    if (len == 9 + lc) {                             /* case 4E */
        size_t le = (size_t)buf[len - 2] << 8 | buf[len - 1];
        out->lc = lc;
        out->data = buf + 7;
        out->has_le = true;
        out->ne = le == 0 ? 65536 : le;
        return SCB_OK;
    }
    return SCB_E_INVALID_ARG;
}

bool scb__cla_has_sm(uint8_t cla)
{
    if ((cla & 0x40) != 0)          /* further interindustry: bit 6 */
        return (cla & 0x20) != 0;
    return (cla & 0x0C) != 0;       /* first interindustry: bits 4-3 */
}

uint8_t scb__cla_for_channel(uint8_t cla, uint8_t channel)
{
    /* FF is not a class: PC/SC reader pseudo-APDUs (PC/SC part 3) pass as is. */
    if (cla == 0xFF)
        return cla;
    const uint8_t prop = cla & 0x80;
    const uint8_t chain = cla & 0x10;
    const bool further = (cla & 0x40) != 0;
    const bool sm = scb__cla_has_sm(cla);
    if (channel < 4) {
        if (!further)
            return (uint8_t)((cla & 0xFC) | channel); /* keeps 80/84/A0 classes */
        /* Back to the first interindustry form: GP secure class is 84. */
        uint8_t smbits = sm ? (prop ? 0x04 : 0x08) : 0x00;
        return (uint8_t)(prop | chain | smbits | channel);
    }
    /* Channels 4-19 (ISO 7816-4 5.4.1 table 3): 01xx cccc / 11xx cccc for
     * GP proprietary; one SM bit (0x20). */
    return (uint8_t)(prop | 0x40 | (sm ? 0x20 : 0x00) | chain | ((channel - 4) & 0x0F));
}
