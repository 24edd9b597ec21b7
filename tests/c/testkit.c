#include "testkit.h"

#include <ctype.h>

int tk_failures;
int tk_checks;

int tk_done(void)
{
    fprintf(stderr, "%d checks, %d failed\n", tk_checks, tk_failures);
    return tk_failures == 0 ? 0 : 1;
}

static int nibble(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t tk_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (isspace((unsigned char)*p))
            continue;
        int v = nibble((unsigned char)*p);
        if (v < 0) {
            fprintf(stderr, "tk_unhex: bad hex '%s'\n", hex);
            abort();
        }
        if (hi < 0) {
            hi = v;
        } else {
            if (n >= cap) {
                fprintf(stderr, "tk_unhex: buffer too small for '%.40s...'\n", hex);
                abort();
            }
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0) {
        fprintf(stderr, "tk_unhex: odd length '%s'\n", hex);
        abort();
    }
    return n;
}

uint8_t *tk_unhex_alloc(const char *hex, size_t *len)
{
    size_t cap = strlen(hex) / 2 + 1;
    uint8_t *p = malloc(cap);
    if (p == NULL)
        abort();
    *len = tk_unhex(hex, p, cap);
    return p;
}

char *tk_hex(const uint8_t *data, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 3 <= cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02X", data[i]);
    if (cap > 0)
        out[o < cap ? o : cap - 1] = 0;
    return out;
}

void tk_eq_mem(const char *file, int line, const char *what, const uint8_t *a, size_t alen,
               const uint8_t *b, size_t blen)
{
    tk_checks++;
    if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
        return;
    tk_failures++;
    char ha[2 * 700 + 1], hb[2 * 700 + 1];
    fprintf(stderr, "%s:%d: %s differs\n  got      (%zu) %s\n  expected (%zu) %s\n", file,
            line, what, alen, tk_hex(a, alen, ha, sizeof(ha)), blen,
            tk_hex(b, blen, hb, sizeof(hb)));
}

void tk_eq_hex(const char *file, int line, const char *what, const uint8_t *a, size_t alen,
               const char *hex)
{
    size_t blen = 0;
    uint8_t *b = tk_unhex_alloc(hex, &blen);
    tk_eq_mem(file, line, what, a, alen, b, blen);
    free(b);
}

/* ---- vectors ---- */
json_object *tk_load_vectors(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", SCB_VECTORS_DIR, name);
    json_object *o = json_object_from_file(path);
    if (o == NULL) {
        fprintf(stderr, "cannot load vectors %s: %s\n", path, json_util_get_last_err());
        abort();
    }
    return o;
}

const char *tk_json_str(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL ||
        json_object_get_type(v) != json_type_string)
        return NULL;
    return json_object_get_string(v);
}

int64_t tk_json_int(json_object *o, const char *key, int64_t dflt)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL ||
        json_object_get_type(v) != json_type_int)
        return dflt;
    return json_object_get_int64(v);
}
