/*
 * A small bounded BER/DER TLV reader for card data (EF.DIR, ODF, DODF).
 *
 * The reader walks one level of a buffer; scb__der_enter opens a nested
 * level whose end is the parent's value end, so a child can never read past
 * its parent. Every read is checked against the level's end. Offsets in
 * messages are relative to the start of the whole buffer given to
 * scb__der_init, so "at offset N" points into the file as read from the card.
 *
 * Accepted (X.690 BER, as cards use it): single- and multi-byte tags (up to
 * 4 tag bytes), short and long definite lengths (81..84). Refused: the
 * indefinite length 80, length fields longer than 4 bytes, a first
 * subsequent tag byte 80 (X.690 8.1.2.4.2 c), nesting deeper than
 * SCB__DER_MAX_DEPTH.
 */
#ifndef SCB_DER_H
#define SCB_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define SCB__DER_MAX_DEPTH 12

/* Tag classes (bits 8-7 of the first tag byte). */
#define SCB__DER_UNIVERSAL   0x00u
#define SCB__DER_APPLICATION 0x40u
#define SCB__DER_CONTEXT     0x80u
#define SCB__DER_PRIVATE     0xC0u

typedef struct scb__der {
    const uint8_t *base;   /* the whole buffer */
    size_t pos;            /* next byte to read (offset from base) */
    size_t end;            /* end of this level (offset from base) */
    unsigned depth;        /* 0 at the top level */
    char what[64];         /* context for messages, e.g. "DODF entry 2" */
    char *detail;          /* caller's detail buffer (may be NULL) */
    size_t detail_len;
} scb__der_t;

typedef struct scb__der_tlv {
    uint32_t tag;          /* tag bytes as a big-endian number: 0x30, 0xA1, 0x5F20 */
    bool constructed;      /* bit 6 of the first tag byte */
    uint8_t cls;           /* SCB__DER_UNIVERSAL .. SCB__DER_PRIVATE */
    size_t offset;         /* offset of the first tag byte */
    size_t value_offset;   /* offset of the first value byte */
    const uint8_t *value;  /* base + value_offset */
    size_t len;            /* value length */
} scb__der_tlv_t;

/* Start reading data[0..len). what names the buffer in messages ("ODF"). */
void scb__der_init(scb__der_t *d, const uint8_t *data, size_t len, const char *what,
                   char *detail, size_t detail_len);
/* True while bytes remain on this level. */
bool scb__der_more(const scb__der_t *d);
/* The next data object of a file's top level, skipping the 00 and FF
 * bytes ISO/IEC 7816-4 (BER-TLV data objects) allows before, between and
 * after data objects: 1 when *t was read, 0 at the end, < 0 on error. */
int scb__der_next_object(scb__der_t *d, scb__der_tlv_t *t);
/* Read the next TLV on this level. SCB_E_PARSE (detail written) when the
 * header is malformed or the value runs past the level's end. */
int scb__der_next(scb__der_t *d, scb__der_tlv_t *t);
/* Open the value of a constructed TLV as a nested level. what: new
 * context for messages, or NULL to keep the parent's. */
int scb__der_enter(const scb__der_t *d, const scb__der_tlv_t *t, scb__der_t *child,
                   const char *what);
/* Write "<what> at offset N: <message>" to the detail buffer; returns rc. */
int scb__der_fail(const scb__der_t *d, int rc, size_t offset, const char *fmt, ...)
    SCB_PRINTF(4, 5);
/* Non-negative INTEGER (X.690 8.3) that fits 32 bits; field names it. */
int scb__der_uint32(const scb__der_t *d, const scb__der_tlv_t *t, const char *field,
                    uint32_t *out);

#endif /* SCB_DER_H */
