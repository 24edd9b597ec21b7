/*
 * Hook for a bootstrap file given in the profile as JSON
 * ("bootstrap": {"json": {...}} in the shared bootstrap JSON format).
 *
 * Encoding that JSON is the job of the JSON glue library scboot_json
 * (branch codec), which was not in the tree when the virtual card was
 * written. At integration this file becomes a call into scboot_json
 * (parse the JSON into a scb_bootstrap_t, then scb_bootstrap_encode);
 * until then the profile must give the file as "hex" and this hook says so.
 */
#include "sim_internal.h"

#include <stdio.h>

int sim_bootstrap_from_json(struct json_object *obj, uint8_t **out, size_t *out_len,
                            char *detail, size_t dl)
{
    (void)obj;
    *out = NULL;
    *out_len = 0;
    if (detail != NULL && dl > 0)
        snprintf(detail, dl, "this build has no scboot_json to encode a bootstrap file from "
                             "JSON; give the file as \"hex\"");
    return SCB_E_UNSUPPORTED;
}
