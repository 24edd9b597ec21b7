/*
 * Fuzz the ATR reader (core/src/atr.c, ISO/IEC 7816-3 8.2 interface bytes,
 * 7816-4 8.1.1 historical bytes): it must stay inside the ATR whatever the
 * TDi chain and the compact-TLV objects claim, and its answer may not
 * depend on bytes past the ATR's end.
 */
#include "atr.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy: ASan sees any read past the end. */
    uint8_t *atr = calloc(1, size > 0 ? size : 1);
    if (atr == NULL)
        return 0;
    if (size > 0)
        memcpy(atr, data, size);
    bool ext = scb__atr_extended_length(atr, size);
    /* Same answer when trailing bytes follow (a reader's longer buffer). */
    uint8_t *longer = malloc(size + 16);
    if (longer != NULL) {
        if (size > 0)
            memcpy(longer, data, size);
        memset(longer + size, 0xFF, 16);
        if (scb__atr_extended_length(longer, size) != ext)
            abort();
        free(longer);
    }
    free(atr);
    return 0;
}
