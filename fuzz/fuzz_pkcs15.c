/*
 * Fuzz the PKCS#15 parsers. The first byte picks the parser (modulo 4):
 * 0 EF.DIR record, 1 ODF (both entry points, small capacity), 2 DODF,
 * 3 AODF (the next byte: the authId's length, 0..8, then the authId;
 * above 8: the first PIN object). Checked: errors come with a message;
 * results are bounded and labels are NUL-terminated valid UTF-8.
 */
#include "scboot.h"
#include "scboot/pkcs15.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_label(const char *label, size_t cap)
{
    size_t n = strnlen(label, cap);
    if (n >= cap || scb_value_check_string((const uint8_t *)label, n) != SCB_OK)
        abort();
}

static void check_path(const scb_path_t *p)
{
    if (p->len > sizeof(p->bytes))
        abort();
}

static void check_error(int rc, const char *detail)
{
    if (rc != SCB_OK && rc != SCB_E_BUFFER_TOO_SMALL && detail[0] == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char detail[256] = "";
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: {
        scb_app_template_t app;
        int rc = scb_pkcs15_parse_dir(p, n, &app, detail, sizeof(detail));
        check_error(rc, detail);
        if (rc == SCB_OK) {
            check_label(app.label, sizeof(app.label));
            check_path(&app.path);
            if (app.aid_len < SCB_PKCS15_AID_LEN || app.aid_len > sizeof(app.aid))
                abort();
        }
        break;
    }
    case 1: {
        scb_path_t paths[2];
        size_t count = 2;
        int rc = scb_pkcs15_parse_odf(p, n, paths, &count, detail, sizeof(detail));
        check_error(rc, detail);
        bool filled = rc == SCB_OK || rc == SCB_E_BUFFER_TOO_SMALL;
        for (size_t i = 0; filled && i < count && i < 2; i++)
            check_path(&paths[i]);
        scb_odf_entry_t entries[3];
        size_t ecount = 3;
        detail[0] = 0;
        int rc2 = scb_pkcs15_parse_odf_entries(p, n, entries, &ecount, detail, sizeof(detail));
        check_error(rc2, detail);
        if ((rc == SCB_OK || rc == SCB_E_BUFFER_TOO_SMALL) && rc2 != SCB_OK &&
            rc2 != SCB_E_BUFFER_TOO_SMALL)
            abort(); /* both walk the same file */
        break;
    }
    case 3: {
        if (n < 1)
            break;
        size_t id_len = p[0] <= 8 ? p[0] : 0;
        const uint8_t *id = p[0] <= 8 ? p + 1 : NULL;
        if (n < 1 + id_len)
            break;
        scb_pin_object_t o;
        int rc = scb_pkcs15_find_pin(p + 1 + id_len, n - 1 - id_len, id, id_len, &o, detail,
                                     sizeof(detail));
        check_error(rc, detail);
        if (rc == SCB_OK) {
            check_label(o.label, sizeof(o.label));
            check_path(&o.path);
            if (o.auth_id_len > sizeof(o.auth_id) ||
                (id != NULL && (o.auth_id_len != id_len || memcmp(o.auth_id, id, id_len) != 0)))
                abort();
            if (o.min_length > 255 || o.stored_length > 255 || o.max_length > 255 ||
                (o.has_max_length && o.min_length > o.max_length))
                abort();
        } else if (o.auth_id_len != 0) {
            abort(); /* nothing half-filled */
        }
        break;
    }
    default: {
        scb_dodf_entry_t e;
        int rc = scb_pkcs15_find_bootstrap(p, n, &e, detail, sizeof(detail));
        check_error(rc, detail);
        if (rc == SCB_OK) {
            check_label(e.label, sizeof(e.label));
            check_path(&e.path);
            if (e.oid_form == SCB_OID_NONE || e.oid_value_len > sizeof(e.oid_value) ||
                e.auth_id_len > sizeof(e.auth_id))
                abort();
        }
        break;
    }
    }
    return 0;
}
