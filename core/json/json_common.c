/* Helpers shared by bootstrap_json.c and keys_json.c (see json_common.h). */
#include "json_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int scbj__fail(char *detail, size_t detail_len, int rc, const char *path, const char *fmt, ...)
{
    if (detail == NULL || detail_len == 0)
        return rc;
    int n = snprintf(detail, detail_len, "%s: ", path);
    if (n < 0 || (size_t)n >= detail_len)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail + n, detail_len - (size_t)n, fmt, ap);
    va_end(ap);
    return rc;
}

void scbj__wipe_bytes(void *p, size_t len)
{
    volatile unsigned char *v = p; /* volatile: the stores are not optimised away */
    while (len-- > 0)
        *v++ = 0;
}

static void wipe_tree(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_string: {
        /* json-c's string storage is ours to clear: the tree is released next */
        char *s = (char *)json_object_get_string(o);
        scbj__wipe_bytes(s, (size_t)json_object_get_string_len(o));
        break;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            wipe_tree(json_object_array_get_idx(o, i));
        break;
    case json_type_object: {
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            wipe_tree(val);
        }
        break;
    }
    default:
        break;
    }
}

void scbj__wipe_put(json_object *o)
{
    if (o != NULL) {
        wipe_tree(o);
        json_object_put(o);
    }
}

/* json-c clamps integers beyond 64 bits to the nearest limit without a
 * word (tried with 0.16): find such literals in the text first. Returns the
 * offset of the first one, or len when there is none. */
static size_t oversized_integer(const char *t, size_t len)
{
    size_t i = 0;
    bool in_string = false;
    while (i < len) {
        char c = t[i];
        if (in_string) {
            i += c == '\\' ? 2 : 1;
            in_string = c != '"';
            continue;
        }
        if (c == '"') {
            in_string = true;
            i++;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            i++;
            continue;
        }
        size_t start = i;
        bool negative = c == '-';
        if (negative)
            i++;
        size_t digits = i;
        while (i < len && t[i] >= '0' && t[i] <= '9')
            i++;
        size_t n = i - digits;
        bool integer = i >= len || (t[i] != '.' && t[i] != 'e' && t[i] != 'E');
        while (i < len && strchr("0123456789.eE+-", t[i]) != NULL)
            i++;
        const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
        size_t ll = strlen(limit);
        if (integer && (n > ll || (n == ll && memcmp(t + digits, limit, ll) > 0)))
            return start;
    }
    return len;
}

int scbj__parse_text(const char *text, json_object **out, char *detail, size_t detail_len)
{
    *out = NULL;
    if (text == NULL)
        return SCB_E_INVALID_ARG;
    size_t len = strnlen(text, SCBJ_MAX_TEXT + 1);
    if (len > SCBJ_MAX_TEXT)
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text",
                          "longer than %u bytes", SCBJ_MAX_TEXT);
    size_t big = oversized_integer(text, len);
    if (big < len)
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text",
                          "integer beyond 64 bits at offset %zu", big);
    /* depth 32: the formats nest at most 6 levels */
    json_tokener *tok = json_tokener_new_ex(32);
    if (tok == NULL)
        return SCB_E_NOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    /* The tokener's buffer holds the text of the last strings it read
     * (possibly key material): clear it. json-c 0.16 exposes the field. */
    if (tok->pb != NULL && tok->pb->buf != NULL)
        scbj__wipe_bytes(tok->pb->buf, (size_t)tok->pb->size);
    json_tokener_free(tok);
    if (o != NULL && err == json_tokener_success) {
        while (end < len && strchr(" \t\r\n", text[end]) != NULL)
            end++;
        if (end == len) {
            *out = o;
            return SCB_OK;
        }
        scbj__wipe_put(o);
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text",
                          "unexpected data after the document at offset %zu", end);
    }
    scbj__wipe_put(o);
    if (err == json_tokener_continue || err == json_tokener_success)
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text",
                          "incomplete document (%zu bytes)", len);
    return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text", "%s at offset %zu",
                      json_tokener_error_desc(err), end);
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int scbj__unhex(const char *hex, size_t hex_len, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (hex_len % 2 != 0)
        return -1;
    uint8_t *b = malloc(hex_len / 2 + 1);
    if (b == NULL)
        return SCB_E_NOMEM;
    for (size_t i = 0; i < hex_len / 2; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            scbj__wipe_bytes(b, i);
            free(b);
            return -1;
        }
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = b;
    *len = hex_len / 2;
    return SCB_OK;
}

json_object *scbj__hex_string(const uint8_t *v, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * len + 1);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = digits[v[i] >> 4];
        s[2 * i + 1] = digits[v[i] & 15];
    }
    s[2 * len] = 0;
    json_object *o = json_object_new_string_len(s, (int)(2 * len));
    scbj__wipe_bytes(s, 2 * len);
    free(s);
    return o;
}

bool scbj__is_redacted(const json_object *o)
{
    return json_object_get_type(o) == json_type_string &&
           strcmp(json_object_get_string((json_object *)o), SCBJ_REDACTED) == 0;
}

void scbj__key_text(const char *key, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = key; *p != 0 && o + 4 < cap; p++)
        out[o++] = (*p >= 0x20 && *p < 0x7F) ? *p : '?';
    if (key[o] != 0 && o + 3 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
}

bool scbj__decimal_id(const char *s, uint16_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 0xFFFF)
        return false;
    *out = (uint16_t)v;
    return true;
}
