/*
 * "bootstrap": {"json": {...}} in a profile: the bootstrap file given in the
 * shared bootstrap JSON format (scboot_json, core/json), encoded with the
 * public model API (scb_bootstrap_encode: minimal TLV lengths, Security,
 * Server, then the other objects).
 */
#include "sim_internal.h"
#include "scboot_json.h"

#include <stdio.h>
#include <stdlib.h>

int sim_bootstrap_from_json(struct json_object *obj, uint8_t **out, size_t *out_len,
                            char *detail, size_t dl)
{
    scb_bootstrap_t *bs = NULL;
    size_t len = SIM_MAX_EF_SIZE;
    *out = NULL;
    *out_len = 0;
    int rc = scbj_bootstrap_from_object(obj, &bs, detail, dl);
    if (rc != 0)
        return rc;
    uint8_t *buf = malloc(len);
    if (buf == NULL) {
        scb_bootstrap_free(&bs);
        return SCB_E_NOMEM;
    }
    rc = scb_bootstrap_encode(bs, buf, &len);
    scb_bootstrap_free(&bs);
    if (rc != 0) {
        if (detail != NULL && dl > 0)
            snprintf(detail, dl, "encoding failed: %s", scb_strerror(rc));
        sim_cleanse(buf, SIM_MAX_EF_SIZE); /* may hold a partial file with keys */
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}
