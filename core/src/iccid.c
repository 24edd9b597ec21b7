/* EF.ICCID (TS 102 221 13.2): the card's identity, for provisioning reports. */
#include "internal.h"

#include <string.h>

int scb_read_iccid(scb_card_t *card, char *out, size_t out_len)
{
    SCB__ENTER(card);
    if (out == NULL || out_len < 21)
        return scb__fail(card, SCB_E_INVALID_ARG, "ICCID: a buffer of at least 21 bytes");
    out[0] = 0;
    int rc = scb__begin(card);
    if (rc != SCB_OK)
        return rc;
    const uint8_t path[2] = {0x2F, 0xE2};
    uint8_t raw[10];
    size_t n = sizeof(raw);
    rc = scb__select_path(card, path, sizeof(path), true, SCB_SEL_NO_RESP, NULL);
    if (rc == SCB_OK)
        rc = scb__read_binary(card, sizeof(raw), raw, &n, 0);
    scb__end(card);
    if (rc != SCB_OK)
        return rc;
    /* BCD, low nibble first; F fills an odd length (TS 102 221 13.2). */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t nib[2] = {(uint8_t)(raw[i] & 0x0F), (uint8_t)(raw[i] >> 4)};
        for (int k = 0; k < 2; k++) {
            if (nib[k] == 0x0F)
                goto done;
            if (nib[k] > 9)
                return scb__fail(card, SCB_E_PARSE, "EF.ICCID byte %zu is not BCD", i);
            out[o++] = (char)('0' + nib[k]);
        }
    }
done:
    out[o] = 0;
    if (o == 0)
        return scb__fail(card, SCB_E_PARSE, "EF.ICCID is empty");
    return SCB_OK;
}
