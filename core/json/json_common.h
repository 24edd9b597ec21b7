/*
 * Helpers shared by the bootstrap and key-set JSON code: bounded strict
 * parsing, failure messages with a field path, hex, and wiping json-c
 * trees that held secrets.
 */
#ifndef SCBJ_JSON_COMMON_H
#define SCBJ_JSON_COMMON_H

#include "scboot_json.h"

#include <json-c/json.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define SCBJ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SCBJ_PRINTF(a, b)
#endif

/* Write "<path>: <reason>" to detail (if not NULL); returns rc. */
int scbj__fail(char *detail, size_t detail_len, int rc, const char *path, const char *fmt, ...)
    SCBJ_PRINTF(5, 6);

/* Parse JSON text strictly (RFC 8259, UTF-8 checked, at most SCBJ_MAX_TEXT
 * bytes, no member name twice in one object; a leading byte order mark is
 * skipped). Messages place errors in the text by line and column. The
 * tokener's buffer is wiped before it is freed. */
int scbj__parse_text(const char *text, json_object **out, char *detail, size_t detail_len);

/* Zero every string value in a tree we own, then release it (key material
 * must not linger in freed heap). */
void scbj__wipe_put(json_object *o);
void scbj__wipe_bytes(void *p, size_t len);

/* Hex digits (either case) -> malloc'd bytes; -1 on an odd count or a
 * non-hex character. */
int scbj__unhex(const char *hex, size_t hex_len, uint8_t **out, size_t *len);
/* Where hex goes wrong, for a message that names the place, never the
 * text: the 1-based position (in characters) of the first character of
 * s[0..len) that is not a hex digit, 0 when there is none. */
size_t scbj__non_hex_at(const char *s, size_t len);
/* True when text, past a byte order mark and white space, holds hex
 * digits and nothing else (a key pasted where JSON belongs). */
bool scbj__bare_hex(const char *text);
/* Bytes -> JSON string of lower-case hex (NULL when out of memory). */
json_object *scbj__hex_string(const uint8_t *v, size_t len);

/* True for the JSON string "<redacted>". */
bool scbj__is_redacted(const json_object *o);
/* A key from the input, made safe and short for a message. */
void scbj__key_text(const char *key, char *out, size_t cap);
/* A decimal id 0..65535 without sign or leading zeros ("0", "12"). */
bool scbj__decimal_id(const char *s, uint16_t *out);

#endif /* SCBJ_JSON_COMMON_H */
