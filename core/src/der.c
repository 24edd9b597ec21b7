/* Bounded BER/DER TLV reader (see der.h for what is accepted). */
#include "der.h"

#include <stdio.h>
#include <string.h>

void scb__der_init(scb__der_t *d, const uint8_t *data, size_t len, const char *what,
                   char *detail, size_t detail_len)
{
    memset(d, 0, sizeof(*d));
    d->base = data;
    d->pos = 0;
    d->end = data != NULL ? len : 0;
    snprintf(d->what, sizeof(d->what), "%s", what != NULL ? what : "data");
    d->detail = detail;
    d->detail_len = detail_len;
}

bool scb__der_more(const scb__der_t *d)
{
    return d->pos < d->end;
}


int scb__der_fail(const scb__der_t *d, int rc, size_t offset, const char *fmt, ...)
{
    if (d->detail == NULL || d->detail_len == 0)
        return rc;
    int n = snprintf(d->detail, d->detail_len, "%s at offset %zu: ", d->what, offset);
    if (n < 0 || (size_t)n >= d->detail_len)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->detail + n, d->detail_len - (size_t)n, fmt, ap);
    va_end(ap);
    return rc;
}

int scb__der_next(scb__der_t *d, scb__der_tlv_t *t)
{
    size_t p = d->pos;
    const size_t start = p;
    if (p >= d->end)
        return scb__der_fail(d, SCB_E_PARSE, p, "expected a data object, found the end");

    /* Tag (X.690 8.1.2). */
    uint8_t b0 = d->base[p++];
    uint32_t tag = b0;
    if ((b0 & 0x1F) == 0x1F) {
        size_t n = 0;
        for (;;) {
            if (p >= d->end)
                return scb__der_fail(d, SCB_E_PARSE, start, "tag %02X truncated", b0);
            uint8_t b = d->base[p++];
            if (n == 0 && b == 0x80)
                return scb__der_fail(d, SCB_E_PARSE, start,
                                     "tag %02X 80: leading zero in the tag number", b0);
            if (++n > 3)
                return scb__der_fail(d, SCB_E_PARSE, start, "tag longer than 4 bytes");
            tag = tag << 8 | b;
            if ((b & 0x80) == 0)
                break;
        }
    }

    /* Length (X.690 8.1.3): definite forms only. */
    if (p >= d->end)
        return scb__der_fail(d, SCB_E_PARSE, start, "tag %X without a length", (unsigned)tag);
    uint8_t l0 = d->base[p++];
    size_t len;
    if (l0 < 0x80) {
        len = l0;
    } else if (l0 == 0x80) {
        return scb__der_fail(d, SCB_E_PARSE, start,
                             "tag %X: indefinite length (80) is not allowed", (unsigned)tag);
    } else {
        size_t nl = l0 & 0x7Fu;
        if (nl > 4)
            return scb__der_fail(d, SCB_E_PARSE, start,
                                 "tag %X: length field of %zu bytes is too long", (unsigned)tag,
                                 nl);
        if (d->end - p < nl)
            return scb__der_fail(d, SCB_E_PARSE, start, "tag %X: length field truncated",
                                 (unsigned)tag);
        len = 0;
        for (size_t i = 0; i < nl; i++)
            len = len << 8 | d->base[p++];
    }
    if (len > d->end - p)
        return scb__der_fail(d, SCB_E_PARSE, start,
                             "tag %X: length %zu runs past the end of its container "
                             "(%zu bytes left)",
                             (unsigned)tag, len, d->end - p);

    t->tag = tag;
    t->constructed = (b0 & 0x20) != 0;
    t->cls = b0 & 0xC0;
    t->offset = start;
    t->value_offset = p;
    t->value = d->base + p;
    t->len = len;
    d->pos = p + len;
    return SCB_OK;
}

int scb__der_enter(const scb__der_t *d, const scb__der_tlv_t *t, scb__der_t *child,
                   const char *what)
{
    if (!t->constructed)
        return scb__der_fail(d, SCB_E_PARSE, t->offset,
                             "tag %X is primitive where a constructed object is expected",
                             (unsigned)t->tag);
    if (d->depth + 1 > SCB__DER_MAX_DEPTH)
        return scb__der_fail(d, SCB_E_PARSE, t->offset, "nesting deeper than %d levels",
                             SCB__DER_MAX_DEPTH);
    *child = *d;
    child->pos = t->value_offset;
    child->end = t->value_offset + t->len;
    child->depth = d->depth + 1;
    if (what != NULL)
        snprintf(child->what, sizeof(child->what), "%s", what);
    return SCB_OK;
}

int scb__der_uint32(const scb__der_t *d, const scb__der_tlv_t *t, const char *field,
                    uint32_t *out)
{
    const uint8_t *v = t->value;
    size_t n = t->len;
    if (n == 0)
        return scb__der_fail(d, SCB_E_PARSE, t->offset, "%s: empty INTEGER", field);
    if (v[0] & 0x80)
        return scb__der_fail(d, SCB_E_PARSE, t->offset, "%s: negative INTEGER", field);
    /* One leading 00 is needed when the next byte has its top bit set. */
    if (n > 1 && v[0] == 0x00) {
        v++;
        n--;
    }
    if (n > 4)
        return scb__der_fail(d, SCB_E_PARSE, t->offset, "%s: INTEGER does not fit 32 bits",
                             field);
    uint32_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = x << 8 | v[i];
    *out = x;
    return SCB_OK;
}

int scb__der_next_object(scb__der_t *d, scb__der_tlv_t *t)
{
    while (d->pos < d->end && (d->base[d->pos] == 0x00 || d->base[d->pos] == 0xFF))
        d->pos++;
    if (d->pos >= d->end)
        return 0;
    int rc = scb__der_next(d, t);
    return rc == SCB_OK ? 1 : rc;
}
