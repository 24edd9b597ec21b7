/*
 * scboot_json: JSON <-> LwM2M bootstrap model and SCP03 key sets (json-c).
 *
 * A separate static library, not part of libscboot (the core stays free of
 * json-c). It uses only the public scboot API: link it before scboot or
 * scboot_static. Used by `scboot read --json` / `scboot write`, the virtual
 * card's profile and the Python binding. The format is specified in
 * core/json/FORMAT.md.
 *
 * Conventions as in scboot.h: 0 or a negative SCB_E_* code; out pointers
 * are NULL after a failure; detail (may be NULL) receives "<field path>:
 * <reason>", e.g. "security[0].security_mode: expected integer 0..4".
 * Messages never contain values, so they never contain secrets.
 *
 * JSON text is read strictly (RFC 8259; FORMAT.md): a leading UTF-8 byte
 * order mark is skipped; syntax errors and member names given twice in
 * one object are refused with their place, "JSON text: unexpected
 * character (line 3, column 27)", "security: key appears twice (line 7,
 * column 2; first at line 2, column 2)".
 */
#ifndef SCBOOT_JSON_H
#define SCBOOT_JSON_H

#include "scboot.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_object;

/* scbj_bootstrap_to_json flags */
#define SCBJ_SHOW_SECRETS 0x1u  /* secret resources as values, not "<redacted>" */
#define SCBJ_COMPACT      0x2u  /* one line instead of indented */

/* The string a redacted secret is rendered as; refused on input. */
#define SCBJ_REDACTED "<redacted>"
/* Largest JSON text accepted (a 32 KB bootstrap file is far smaller). */
#define SCBJ_MAX_TEXT (1024u * 1024u)

/* Model -> JSON text. *out: malloc'd, NUL-terminated; release it with
 * scbj_free (it may hold secrets with SCBJ_SHOW_SECRETS). */
int scbj_bootstrap_to_json(const scb_bootstrap_t *bs, unsigned flags, char **out);
/* One resource value as scbj_bootstrap_to_json renders it (FORMAT.md,
 * "Values"): the bytes v of resource resource_id of object object_id, a
 * single-instance resource (multiple 0) or one instance of a
 * multiple-instance one (multiple 1). *out: the JSON text of the value
 * (typed, or {"hex": ...} when the bytes are not a value of the resource's
 * type and range); release it with scbj_free. Language bindings type a
 * resource's value with it, so their view and the JSON never differ. */
int scbj_value_to_json(uint16_t object_id, uint16_t resource_id, int multiple, const uint8_t *v,
                       size_t len, unsigned flags, char **out);
/* JSON text -> model (SCB_E_VALIDATION with detail on bad input;
 * SCB_E_FILE_TOO_LARGE when the file would exceed 32 KB). The result
 * encodes in canonical order: Security, Server, then "objects" in order. */
int scbj_bootstrap_from_json(const char *json, scb_bootstrap_t **out, char *detail,
                             size_t detail_len);

/* Warnings: what the format accepts but an LwM2M client will likely
 * refuse (OMA object definitions: a Security instance's Server URI is
 * mandatory, its Short Server ID "MUST be set when the Bootstrap-Server
 * Resource has a value of 'false'", a Server instance's Short Server ID is
 * mandatory). The n-th (0-based) into out, named by its JSON path (the
 * k-th instance of object 0 is security[k]):
 *   "security[1]: no server_uri"
 *   "security[0]: no short_server_id (needed unless bootstrap_server is true)"
 *   "servers[0]: no short_server_id"
 * SCB_OK with a warning; SCB_E_NOT_FOUND when there are no more. Works on
 * any model (from JSON, from a card, built); scbj_bootstrap_from_json does
 * not refuse these, so a front end asks after it and shows them (scboot
 * write prints each on stderr). */
int scbj_bootstrap_warning(const scb_bootstrap_t *bs, size_t n, char *out, size_t out_len);

/* The same on json-c objects, for documents that embed a bootstrap (the
 * virtual card's profile). to_object: the caller owns *out (json_object_put);
 * from_object only reads obj. */
int scbj_bootstrap_to_object(const scb_bootstrap_t *bs, unsigned flags,
                             struct json_object **out);
int scbj_bootstrap_from_object(const struct json_object *obj, scb_bootstrap_t **out,
                               char *detail, size_t detail_len);

/* Key set {"enc": hex, "mac": hex, "dek": hex (optional), "kvn": 0..255
 * (optional, default 0)}: all keys 16, 24 or 32 bytes, of one length. */
int scbj_keys_from_json(const char *json, scb_keys_t **out, char *detail, size_t detail_len);
int scbj_keys_from_object(const struct json_object *obj, scb_keys_t **out, char *detail,
                          size_t detail_len);
/* The same accepting {"pkcs11": URI, "kvn": 0..255}, a key set in a
 * PKCS#11 token, opened with pin (NULL: the URI's pin-source / pin-value)
 * and p11_flags (SCB_P11_*) as scb_keys_open_pkcs11 does; the plain forms
 * above pass NULL and 0. */
int scbj_keys_from_json_ex(const char *json, const char *pin, unsigned p11_flags,
                           scb_keys_t **out, char *detail, size_t detail_len);
int scbj_keys_from_object_ex(const struct json_object *obj, const char *pin, unsigned p11_flags,
                             scb_keys_t **out, char *detail, size_t detail_len);

/* Wipe and free a string returned by scbj_*_to_json (NULL is fine). */
/* Any JSON document, parsed as strictly as the formats above are (RFC 8259,
 * UTF-8 checked, no member name twice in one object, integers within 64
 * bits, a leading byte order mark skipped; errors placed by line and
 * column): for the virtual card's profile and the bindings' JSON decoders.
 * The literal null gives SCB_OK with *out NULL. Release the tree with
 * json_object_put. */
int scbj_parse(const char *text, struct json_object **out, char *detail, size_t detail_len);

void scbj_free(char *s);

#ifdef __cplusplus
}
#endif
#endif /* SCBOOT_JSON_H */
