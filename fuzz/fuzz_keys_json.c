/*
 * Fuzz the key-set JSON parser: no crash, a failure says why and leaves no
 * key set, a success has a valid AES key length.
 */
#include "scboot_json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size + 1), detail[256] = "";
    if (json == NULL)
        return 0;
    memcpy(json, data, size);
    json[size] = 0;
    scb_keys_t *keys = NULL;
    int rc = scbj_keys_from_json(json, &keys, detail, sizeof(detail));
    free(json);
    if (rc != SCB_OK) {
        if (keys != NULL || detail[0] == 0)
            abort();
        return 0;
    }
    size_t len = scb_keys_length(keys);
    if (len != 16 && len != 24 && len != 32)
        abort();
    scb_keys_free(&keys);
    return 0;
}
