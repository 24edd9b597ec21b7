/*
 * Fuzz the bootstrap file decoder. Properties checked beyond "no crash":
 * a failure leaves no model and says why; a decoded model re-encodes to at
 * most the input's meaningful bytes (encoding is minimal), decodes again,
 * and re-encodes to the same bytes; the typed views and the digest run.
 */
#include "scboot.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char detail[256] = "";
    scb_bootstrap_t *bs = NULL;
    if (scb_bootstrap_decode(&bs, data, size, detail, sizeof(detail)) != SCB_OK) {
        if (bs != NULL || detail[0] == 0)
            abort();
        return 0;
    }
    size_t len = 0;
    if (scb_bootstrap_encode(bs, NULL, &len) != SCB_E_BUFFER_TOO_SMALL || len > size)
        abort();
    uint8_t *a = malloc(len), *b = malloc(len);
    size_t alen = len, blen = len;
    scb_bootstrap_t *again = NULL;
    if (a == NULL || b == NULL || scb_bootstrap_encode(bs, a, &alen) != SCB_OK ||
        scb_bootstrap_decode(&again, a, alen, detail, sizeof(detail)) != SCB_OK ||
        scb_bootstrap_encode(again, b, &blen) != SCB_OK || alen != blen ||
        memcmp(a, b, alen) != 0)
        abort();

    for (size_t i = 0; i < scb_bootstrap_security_count(bs); i++) {
        scb_security_t sec;
        if (scb_bootstrap_security(bs, i, &sec) == SCB_OK && sec.server_uri != NULL &&
            strlen(sec.server_uri) > size)
            abort();
    }
    for (size_t i = 0; i < scb_bootstrap_server_count(bs); i++) {
        scb_server_t srv;
        scb_bootstrap_server(bs, i, &srv);
    }
    uint8_t digest[32];
    if (scb_bootstrap_digest(bs, digest) != SCB_OK)
        abort();
    free(a);
    free(b);
    scb_bootstrap_free(&again);
    scb_bootstrap_free(&bs);
    return 0;
}
