/*
 * Fuzz the bootstrap JSON glue. The first byte picks the direction:
 *  even: the rest is JSON text -> model; when it parses, JSON -> bytes ->
 *        JSON -> bytes gives the same bytes twice;
 *  odd:  the rest is a bootstrap file -> model -> JSON (secrets shown),
 *        which must be accepted again, and after that first normalisation
 *        JSON -> model -> JSON is a fixpoint.
 * A byte order mark before the text changes nothing, not even the line
 * and column a message names; the warnings of a model are bounded and
 * name an account.
 */
#include "scboot_json.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *encode(const scb_bootstrap_t *bs, size_t *len)
{
    *len = 0;
    if (scb_bootstrap_encode(bs, NULL, len) != SCB_E_BUFFER_TOO_SMALL)
        abort();
    uint8_t *b = malloc(*len);
    if (b == NULL || scb_bootstrap_encode(bs, b, len) != SCB_OK)
        abort();
    return b;
}

/* model -> JSON -> model, which must succeed */
static scb_bootstrap_t *through_json(const scb_bootstrap_t *bs, char **text)
{
    char detail[256];
    scb_bootstrap_t *back = NULL;
    if (scbj_bootstrap_to_json(bs, SCBJ_SHOW_SECRETS, text) != SCB_OK ||
        scbj_bootstrap_from_json(*text, &back, detail, sizeof(detail)) != SCB_OK)
        abort();
    return back;
}

static void check_warnings(const scb_bootstrap_t *bs)
{
    char w[128];
    size_t n = 0;
    while (scbj_bootstrap_warning(bs, n, w, sizeof(w)) == SCB_OK) {
        if (strncmp(w, "security[", 9) != 0 && strncmp(w, "servers[", 8) != 0)
            abort();
        if (++n > 2 * 65536 + 65536)
            abort(); /* at most two per Security and one per Server instance */
    }
}

static void from_text(const uint8_t *data, size_t size)
{
    char *json = malloc(size + 4), detail[256] = "", detail_bom[256] = "";
    memcpy(json, "\xEF\xBB\xBF", 3);
    memcpy(json + 3, data, size);
    json[size + 3] = 0;
    scb_bootstrap_t *bs = NULL, *with_bom = NULL;
    int rc = scbj_bootstrap_from_json(json + 3, &bs, detail, sizeof(detail));
    int rc_bom = scbj_bootstrap_from_json(json, &with_bom, detail_bom, sizeof(detail_bom));
    free(json);
    /* a text that starts with a mark of its own has one more with_bom */
    bool own_bom = size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0;
    if (!own_bom && (rc != rc_bom || strcmp(detail, detail_bom) != 0))
        abort();
    scb_bootstrap_free(&with_bom);
    if (rc != SCB_OK) {
        if (bs != NULL || detail[0] == 0)
            abort();
        return;
    }
    check_warnings(bs);
    char *text = NULL;
    scb_bootstrap_t *back = through_json(bs, &text);
    size_t l1, l2;
    uint8_t *b1 = encode(bs, &l1), *b2 = encode(back, &l2);
    if (l1 != l2 || memcmp(b1, b2, l1) != 0)
        abort();
    free(b1);
    free(b2);
    scbj_free(text);
    scb_bootstrap_free(&back);
    scb_bootstrap_free(&bs);
}

static void from_file(const uint8_t *data, size_t size)
{
    scb_bootstrap_t *bs = NULL;
    if (scb_bootstrap_decode(&bs, data, size, NULL, 0) != SCB_OK)
        return;
    char *t1 = NULL, *t2 = NULL, *t3 = NULL;
    check_warnings(bs);
    scb_bootstrap_t *m1 = through_json(bs, &t1);
    scb_bootstrap_t *m2 = through_json(m1, &t2);
    scb_bootstrap_t *m3 = through_json(m2, &t3);
    if (strcmp(t2, t3) != 0)
        abort();
    scbj_free(t1);
    scbj_free(t2);
    scbj_free(t3);
    scb_bootstrap_free(&m1);
    scb_bootstrap_free(&m2);
    scb_bootstrap_free(&m3);
    scb_bootstrap_free(&bs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        from_file(data + 1, size - 1);
    else
        from_text(data + 1, size - 1);
    return 0;
}
