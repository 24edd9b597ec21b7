/* Key-set binding glue: flat arguments for scb_keys_new (see scb_bind.h). */
#include "scb_bind.h"

int scb_bind_keys_new(scb_keys_t **out, const uint8_t *enc, size_t enc_len, const uint8_t *mac,
                      size_t mac_len, const uint8_t *dek, size_t dek_len, int kvn)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    /* One length for the whole set; the core checks that it is an AES size. */
    if (enc == NULL || mac == NULL || enc_len != mac_len || (dek != NULL && dek_len != enc_len) ||
        kvn < 0 || kvn > 0xFF)
        return SCB_E_INVALID_ARG;
    return scb_keys_new(out, enc, mac, dek, enc_len, (uint8_t)kvn);
}
