/* ATR reading (ISO/IEC 7816-3 8.2, 7816-4 8.1.1): what the card says about
 * itself in its historical bytes. Bounded; a malformed ATR yields "no". */
#include "atr.h"

/* Locate the historical bytes. Returns false for a malformed ATR. */
static bool atr_historical(const uint8_t *atr, size_t len, const uint8_t **hist, size_t *hlen)
{
    if (atr == NULL || len < 2)
        return false;
    size_t k = atr[1] & 0x0F;
    uint8_t y = atr[1] >> 4;
    size_t i = 2;
    for (;;) {
        int n = ((y & 1) != 0) + ((y & 2) != 0) + ((y & 4) != 0); /* TA, TB, TC */
        i += (size_t)n;
        if ((y & 8) == 0)
            break;
        if (i >= len)
            return false;
        y = atr[i++] >> 4;                                         /* TDi */
    }
    if (i + k > len)
        return false;
    *hist = atr + i;
    *hlen = k;
    return true;
}

bool scb__atr_extended_length(const uint8_t *atr, size_t len)
{
    const uint8_t *h;
    size_t hl;
    if (!atr_historical(atr, len, &h, &hl) || hl < 1)
        return false;
    size_t end;
    if (h[0] == 0x80)
        end = hl;                 /* compact-TLV objects follow */
    else if (h[0] == 0x00 && hl >= 4)
        end = hl - 3;             /* ... followed by a 3-byte status indicator */
    else
        return false;
    for (size_t i = 1; i < end;) {
        uint8_t tag = h[i] >> 4;
        size_t l = h[i] & 0x0F;
        if (i + 1 + l > end)
            return false;
        /* Card capabilities (tag 7), third software function table, bit 7:
         * extended Lc and Le fields (ISO 7816-4 8.1.1.2.7 table 87). */
        if (tag == 0x7 && l >= 3)
            return (h[i + 3] & 0x40) != 0;
        i += 1 + l;
    }
    return false;
}
