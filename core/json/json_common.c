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

/* 1-based line and column of offset off in t: lines end at '\n', columns
 * count characters (UTF-8 continuation bytes do not start one), so they
 * match what an editor shows. */
static void line_column(const char *t, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (t[i] == '\n') {
            ++*line;
            *col = 1;
        } else if (((unsigned char)t[i] & 0xC0) != 0x80) {
            ++*col;
        }
    }
}

/* "line L, column C" of offset off, for messages. */
static void where(const char *t, size_t off, char *out, size_t cap)
{
    size_t line, col;
    line_column(t, off, &line, &col);
    snprintf(out, cap, "line %zu, column %zu", line, col);
}

/*
 * Member names given twice in one object. json-c keeps the last of two
 * equal names without a word (a second "security": [] silently replaced
 * every account), and neither its tree nor its tokener's public API shows
 * that a name came twice. So once json-c has accepted the text (strict
 * RFC 8259, UTF-8 checked: well-formed, nesting bounded by the tokener's
 * depth), this pass reads it again, tracking only structure ({ [ , } ])
 * and member names. String values are skipped over, never interpreted;
 * a name with a backslash escape is decoded by json-c itself (the same
 * decoding the tree's names had), so "a" and "\u0061" are one name.
 * json-c stores names as C strings: a NUL cuts a name short and makes two
 * names one ("a\u0000b" is "a"), so a name holding NUL is refused. Each
 * open object keeps its names in a json-c object (a hash table, name ->
 * offset of the first occurrence): one pass, linear in the text.
 * RFC 8259 4: "The names within an object SHOULD be unique"; where they
 * are not, "the behavior of software that receives such an object is
 * unpredictable": we refuse it.
 */
#define DUP_MAX_DEPTH 64 /* above the tokener's 32, which has bounded the text */
#define DUP_PATH 200

typedef struct {
    bool object;          /* else array */
    bool want_name;       /* object: the next string is a member name */
    size_t index;         /* array: the element being read */
    size_t path_len;      /* this container's path in dup_t.path */
    char name[48];        /* object: the member being read, for paths */
    json_object *names;   /* object: names seen -> offset of the first */
} dup_frame_t;

typedef struct {
    const char *t;
    char *detail;
    size_t detail_len;
    dup_frame_t f[DUP_MAX_DEPTH];
    size_t depth;
    char path[DUP_PATH + 8];
    json_tokener *tok;    /* decodes names with escapes */
} dup_t;

/* The path of the element the top frame is reading ("security[0]"). */
static void child_path(dup_t *d)
{
    dup_frame_t *p = &d->f[d->depth - 1];
    size_t n = p->path_len;
    int w = p->object ? snprintf(d->path + n, DUP_PATH - n, "%s%s", n > 0 ? "." : "", p->name)
                      : snprintf(d->path + n, DUP_PATH - n, "[%zu]", p->index);
    if (w < 0 || (size_t)w >= DUP_PATH - n) /* too deep to name: shorten visibly */
        snprintf(d->path + DUP_PATH - 4, 8, "...");
}

static int dup_open(dup_t *d, bool object)
{
    if (d->depth == DUP_MAX_DEPTH)
        return SCB_E_INTERNAL; /* json-c's depth limit makes this unreachable */
    size_t path_len = 0;
    if (d->depth > 0) {
        child_path(d);
        path_len = strlen(d->path);
    }
    dup_frame_t *f = &d->f[d->depth];
    memset(f, 0, sizeof(*f));
    f->object = object;
    f->want_name = object;
    f->path_len = path_len;
    d->path[path_len] = 0;
    if (object && (f->names = json_object_new_object()) == NULL)
        return SCB_E_NOMEM;
    d->depth++;
    return SCB_OK;
}

static void dup_close(dup_t *d)
{
    if (d->depth > 0) {
        d->depth--;
        json_object_put(d->f[d->depth].names);
        d->path[d->f[d->depth].path_len] = 0;
    }
}

/* The member name in the quoted text t[q..end] (end: the closing quote). */
static int dup_name(dup_t *d, size_t q, size_t end)
{
    dup_frame_t *f = &d->f[d->depth - 1];
    const char *raw = d->t + q + 1;
    size_t raw_len = end - q - 1;
    char *copy = NULL;
    const char *name = NULL;
    size_t name_len = 0;
    json_object *decoded = NULL;
    if (memchr(raw, '\\', raw_len) != NULL) {
        if (d->tok == NULL && (d->tok = json_tokener_new_ex(1)) == NULL)
            return SCB_E_NOMEM;
        json_tokener_reset(d->tok);
        decoded = json_tokener_parse_ex(d->tok, d->t + q, (int)(end - q + 1));
        if (decoded == NULL || !json_object_is_type(decoded, json_type_string)) {
            json_object_put(decoded);
            return SCB_E_INTERNAL; /* json-c read this very string a moment ago */
        }
        name = json_object_get_string(decoded);
        name_len = (size_t)json_object_get_string_len(decoded);
    } else {
        if ((copy = malloc(raw_len + 1)) == NULL)
            return SCB_E_NOMEM;
        memcpy(copy, raw, raw_len);
        copy[raw_len] = 0;
        name = copy;
        name_len = raw_len;
    }
    int rc = SCB_OK;
    json_object *first = NULL;
    char at[48], at1[48];
    if (strlen(name) != name_len) {
        d->path[f->path_len] = 0;
        where(d->t, q, at, sizeof(at));
        rc = scbj__fail(d->detail, d->detail_len, SCB_E_VALIDATION,
                        d->depth == 1 ? "(top level)" : d->path,
                        "a member name holds a NUL character (%s)", at);
    } else if (json_object_object_get_ex(f->names, name, &first)) {
        scbj__key_text(name, f->name, sizeof(f->name));
        child_path(d);
        where(d->t, q, at, sizeof(at));
        where(d->t, (size_t)json_object_get_int64(first), at1, sizeof(at1));
        rc = scbj__fail(d->detail, d->detail_len, SCB_E_VALIDATION, d->path,
                        "key appears twice (%s; first at %s)", at, at1);
    } else {
        json_object *pos = json_object_new_int64((int64_t)q);
        if (pos == NULL || json_object_object_add(f->names, name, pos) != 0) {
            json_object_put(pos);
            rc = SCB_E_NOMEM;
        }
        scbj__key_text(name, f->name, sizeof(f->name));
    }
    json_object_put(decoded);
    free(copy);
    return rc;
}

static int duplicate_names(const char *t, size_t len, char *detail, size_t detail_len)
{
    dup_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return SCB_E_NOMEM;
    d->t = t;
    d->detail = detail;
    d->detail_len = detail_len;
    int rc = SCB_OK;
    for (size_t i = 0; rc == SCB_OK && i < len; i++) {
        dup_frame_t *top = d->depth > 0 ? &d->f[d->depth - 1] : NULL;
        switch (t[i]) {
        case '{':
        case '[':
            rc = dup_open(d, t[i] == '{');
            break;
        case '}':
        case ']':
            dup_close(d);
            break;
        case ',':
            if (top != NULL && top->object)
                top->want_name = true;
            else if (top != NULL)
                top->index++;
            break;
        case '"': {
            size_t q = i++;
            while (i < len && t[i] != '"')
                i += t[i] == '\\' ? 2 : 1;
            if (i >= len)
                rc = SCB_E_INTERNAL; /* json-c accepted the text: unreachable */
            else if (top != NULL && top->object && top->want_name) {
                top->want_name = false;
                rc = dup_name(d, q, i);
            }
            break;
        }
        default: /* whitespace, ':', numbers, true/false/null */
            break;
        }
    }
    while (d->depth > 0)
        dup_close(d);
    if (d->tok != NULL)
        json_tokener_free(d->tok);
    free(d);
    if (rc == SCB_E_INTERNAL)
        rc = scbj__fail(detail, detail_len, rc, "JSON text",
                        "read differently the second time (internal error)");
    return rc;
}

static int parse_text(const char *text, bool allow_null, json_object **out, char *detail,
                      size_t detail_len)
{
    *out = NULL;
    if (text == NULL)
        return SCB_E_INVALID_ARG;
    /* RFC 8259 8.1: a parser MAY ignore a byte order mark; editors on
     * Windows write one, so it is skipped (positions count from after it) */
    if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    size_t len = strnlen(text, SCBJ_MAX_TEXT + 1);
    char at[48];
    if (len > SCBJ_MAX_TEXT)
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text",
                          "longer than %u bytes", SCBJ_MAX_TEXT);
    size_t big = oversized_integer(text, len);
    if (big < len) {
        where(text, big, at, sizeof(at));
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text",
                          "integer beyond 64 bits (%s)", at);
    }
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
        int rc = SCB_OK;
        if (end < len) {
            where(text, end, at, sizeof(at));
            rc = scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text",
                            "unexpected data after the document (%s)", at);
        } else {
            rc = duplicate_names(text, len, detail, detail_len);
        }
        if (rc == SCB_OK) {
            *out = o;
            return SCB_OK;
        }
        scbj__wipe_put(o);
        return rc;
    }
    scbj__wipe_put(o);
    if (o == NULL && err == json_tokener_success) {
        /* the document is the literal null (json-c's NULL object) */
        while (end < len && strchr(" \t\r\n", text[end]) != NULL)
            end++;
        if (end == len)
            return allow_null ? SCB_OK
                              : scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text",
                                           "the document is null, not an object");
    }
    if (err == json_tokener_continue || err == json_tokener_success) {
        where(text, len, at, sizeof(at));
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text",
                          "incomplete document (the text ends at %s)", at);
    }
    where(text, end, at, sizeof(at));
    return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "JSON text", "%s (%s)",
                      json_tokener_error_desc(err), at);
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

size_t scbj__non_hex_at(const char *s, size_t len)
{
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            chars++;
        if (nibble(s[i]) < 0)
            return chars;
    }
    return 0;
}

bool scbj__bare_hex(const char *text)
{
    if (text == NULL)
        return false;
    if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    size_t digits = 0;
    for (const char *p = text; *p != 0; p++) {
        if (nibble(*p) >= 0)
            digits++;
        else if (strchr(" \t\r\n", *p) == NULL)
            return false;
    }
    return digits > 0;
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

int scbj__parse_text(const char *text, json_object **out, char *detail, size_t detail_len)
{
    return parse_text(text, false, out, detail, detail_len);
}

int scbj_parse(const char *text, struct json_object **out, char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    return parse_text(text, true, out, detail, detail_len);
}
