/*
 * OMA-TLV value conversions (LwM2M Core TS, TLV data types): integers are
 * 1/2/4/8-byte big-endian two's complement, unsigned integers the same
 * widths unsigned, floats 4 or 8 bytes IEEE 754, booleans one byte 0/1,
 * object links 2 + 2 bytes, strings UTF-8.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

static bool int_width(size_t len)
{
    return len == 1 || len == 2 || len == 4 || len == 8;
}

static uint64_t be_read(const uint8_t *v, size_t len)
{
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++)
        x = x << 8 | v[i];
    return x;
}

static void be_write(uint64_t x, uint8_t *buf, size_t len)
{
    for (size_t i = len; i-- > 0; x >>= 8)
        buf[i] = (uint8_t)(x & 0xFF);
}

int scb_value_to_int(const uint8_t *v, size_t len, int64_t *out)
{
    if (v == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    if (!int_width(len))
        return SCB_E_PARSE;
    uint64_t x = be_read(v, len);
    if (len < 8 && (v[0] & 0x80))
        x |= UINT64_MAX << (8 * len); /* sign-extend */
    /* two's complement to int64_t without implementation-defined conversion */
    *out = x <= (uint64_t)INT64_MAX ? (int64_t)x : -(int64_t)(~x) - 1;
    return SCB_OK;
}

int scb_value_from_int(int64_t x, uint8_t buf[8], size_t *len)
{
    if (buf == NULL || len == NULL)
        return SCB_E_INVALID_ARG;
    size_t n = 8;
    if (x >= INT8_MIN && x <= INT8_MAX)
        n = 1;
    else if (x >= INT16_MIN && x <= INT16_MAX)
        n = 2;
    else if (x >= INT32_MIN && x <= INT32_MAX)
        n = 4;
    be_write((uint64_t)x, buf, n);
    *len = n;
    return SCB_OK;
}

int scb_value_to_uint(const uint8_t *v, size_t len, uint64_t *out)
{
    if (v == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    if (!int_width(len))
        return SCB_E_PARSE;
    *out = be_read(v, len);
    return SCB_OK;
}

int scb_value_from_uint(uint64_t x, uint8_t buf[8], size_t *len)
{
    if (buf == NULL || len == NULL)
        return SCB_E_INVALID_ARG;
    size_t n = x <= UINT8_MAX ? 1 : x <= UINT16_MAX ? 2 : x <= UINT32_MAX ? 4 : 8;
    be_write(x, buf, n);
    *len = n;
    return SCB_OK;
}

int scb_value_to_bool(const uint8_t *v, size_t len, int *out)
{
    if (v == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    if (len != 1 || v[0] > 1)
        return SCB_E_PARSE;
    *out = v[0];
    return SCB_OK;
}

int scb_value_to_float(const uint8_t *v, size_t len, double *out)
{
    if (v == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    if (len == 4) {
        uint32_t bits = (uint32_t)be_read(v, 4);
        float f;
        memcpy(&f, &bits, sizeof(f));
        *out = f;
    } else if (len == 8) {
        uint64_t bits = be_read(v, 8);
        double d;
        memcpy(&d, &bits, sizeof(d));
        *out = d;
    } else {
        return SCB_E_PARSE;
    }
    return SCB_OK;
}

int scb_value_from_float(double x, uint8_t buf[8], size_t *len)
{
    if (buf == NULL || len == NULL)
        return SCB_E_INVALID_ARG;
    /* Narrow only inside float's range (the cast is undefined outside it);
     * infinities and NaN are representable in 4 bytes. */
    bool fits = x != x || x == (double)INFINITY || x == -(double)INFINITY ||
                (x >= -FLT_MAX && x <= FLT_MAX && (double)(float)x == x);
    if (fits) {
        float f = (float)x;
        uint32_t bits;
        memcpy(&bits, &f, sizeof(bits));
        be_write(bits, buf, 4);
        *len = 4;
    } else {
        uint64_t bits;
        memcpy(&bits, &x, sizeof(bits));
        be_write(bits, buf, 8);
        *len = 8;
    }
    return SCB_OK;
}

int scb_value_to_objlnk(const uint8_t *v, size_t len, uint16_t *obj, uint16_t *inst)
{
    if (v == NULL || obj == NULL || inst == NULL)
        return SCB_E_INVALID_ARG;
    if (len != 4)
        return SCB_E_PARSE;
    *obj = (uint16_t)be_read(v, 2);
    *inst = (uint16_t)be_read(v + 2, 2);
    return SCB_OK;
}

int scb_value_from_objlnk(uint16_t obj, uint16_t inst, uint8_t buf[4])
{
    if (buf == NULL)
        return SCB_E_INVALID_ARG;
    be_write(obj, buf, 2);
    be_write(inst, buf + 2, 2);
    return SCB_OK;
}

size_t scb__utf8_char_len(const uint8_t *s, size_t len)
{
    if (len == 0)
        return 0;
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
        n = 2, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, cp = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, cp = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    /* overlong forms, surrogates and values past U+10FFFF are invalid (RFC 3629) */
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int scb_value_check_string(const uint8_t *v, size_t len)
{
    if (v == NULL && len > 0)
        return SCB_E_INVALID_ARG;
    for (size_t i = 0; i < len;) {
        size_t n = scb__utf8_char_len(v + i, len - i);
        if (n == 0 || v[i] == 0)
            return SCB_E_PARSE;
        i += n;
    }
    return SCB_OK;
}
