/*
 * SCP03 static key set from JSON: {"enc": hex, "mac": hex, "dek": hex,
 * "kvn": 0..255}. "dek" may be absent or null (no PUT KEY then), "kvn"
 * defaults to 0 (the card's default key set). Messages name the field,
 * never its value; decoded key bytes are wiped after scb_keys_new copied
 * them. Or keys in a PKCS#11 token: {"pkcs11": "pkcs11:token=..;object=..",
 * "kvn": 0..255} (scb_keys_open_pkcs11).
 */
#include "json_common.h"

#include <stdlib.h>
#include <string.h>

enum { ENC, MAC, DEK, NKEYS };
static const char *const key_names[NKEYS] = {"enc", "mac", "dek"};

static json_object *get(const json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex((json_object *)o, key, &v) ? v : NULL;
}

/* One key's hex -> bytes; NULL *out when an optional key is absent. */
static int parse_key(const json_object *obj, int which, uint8_t **out, size_t *len,
                     char *detail, size_t detail_len)
{
    const char *name = key_names[which];
    json_object *j = get(obj, name);
    *out = NULL;
    *len = 0;
    if (j == NULL) { /* absent or null */
        if (which == DEK)
            return SCB_OK;
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, name, "missing");
    }
    if (scbj__is_redacted(j))
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, name,
                          "is \"%s\"; give the real key", SCBJ_REDACTED);
    if (json_object_get_type(j) != json_type_string)
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, name,
                          "expected a string of hex digits");
    size_t hl = (size_t)json_object_get_string_len(j);
    if (hl != 32 && hl != 48 && hl != 64)
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, name,
                          "expected 32, 48 or 64 hex digits (an AES-128/192/256 key), got %zu",
                          hl);
    const char *hex = json_object_get_string(j);
    int rc = scbj__unhex(hex, hl, out, len);
    if (rc == -1) /* the place, not the character: it may be part of a key */
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, name, "not hex (character %zu)",
                          scbj__non_hex_at(hex, hl));
    return rc;
}

static int kvn_of(const json_object *obj, int64_t *kvn, char *detail, size_t detail_len)
{
    *kvn = 0;
    json_object *jk = get(obj, "kvn");
    if (jk == NULL)
        return SCB_OK;
    *kvn = json_object_get_int64(jk);
    if (json_object_get_type(jk) != json_type_int || *kvn < 0 || *kvn > 255)
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "kvn", "expected integer 0..255");
    return SCB_OK;
}

/* {"pkcs11": URI, "kvn": N}: nothing else belongs with a token URI. */
static int token_keys(const json_object *obj, const char *pin, unsigned p11_flags,
                      scb_keys_t **out, char *detail, size_t detail_len)
{
    json_object_object_foreach((json_object *)obj, key, val)
    {
        (void)val;
        if (strcmp(key, "pkcs11") != 0 && strcmp(key, "kvn") != 0) {
            char kt[48];
            scbj__key_text(key, kt, sizeof(kt));
            return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "(top level)",
                              "unknown key '%s' (a token key set has \"pkcs11\" and \"kvn\")",
                              kt);
        }
    }
    json_object *uri = get(obj, "pkcs11");
    if (json_object_get_type(uri) != json_type_string)
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "pkcs11",
                          "expected a pkcs11: URI string");
    int64_t kvn = 0;
    int rc = kvn_of(obj, &kvn, detail, detail_len);
    if (rc != SCB_OK)
        return rc;
    /* the URI's own messages say what is wrong with it (never its PIN) */
    return scb_keys_open_pkcs11(out, json_object_get_string(uri), (uint8_t)kvn, pin, p11_flags,
                                detail, detail_len);
}

int scbj_keys_from_object(const json_object *obj, scb_keys_t **out, char *detail,
                          size_t detail_len)
{
    return scbj_keys_from_object_ex(obj, NULL, 0, out, detail, detail_len);
}

int scbj_keys_from_object_ex(const json_object *obj, const char *pin, unsigned p11_flags,
                             scb_keys_t **out, char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (obj == NULL)
        return SCB_E_INVALID_ARG;
    if (detail != NULL && detail_len > 0)
        detail[0] = 0;
    if (json_object_get_type(obj) != json_type_object)
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "(top level)",
                          "expected a JSON object");
    if (get(obj, "pkcs11") != NULL)
        return token_keys(obj, pin, p11_flags, out, detail, detail_len);
    json_object_object_foreach((json_object *)obj, key, val)
    {
        (void)val;
        if (strcmp(key, "enc") != 0 && strcmp(key, "mac") != 0 && strcmp(key, "dek") != 0 &&
            strcmp(key, "kvn") != 0) {
            char kt[48];
            scbj__key_text(key, kt, sizeof(kt));
            return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "(top level)",
                              "unknown key '%s' (expected \"enc\", \"mac\", \"dek\", \"kvn\", "
                              "or \"pkcs11\" and \"kvn\")",
                              kt);
        }
    }

    uint8_t *k[NKEYS] = {NULL, NULL, NULL};
    size_t kl[NKEYS] = {0, 0, 0};
    int rc = SCB_OK;
    for (int i = 0; rc == SCB_OK && i < NKEYS; i++) {
        rc = parse_key(obj, i, &k[i], &kl[i], detail, detail_len);
        if (rc == SCB_OK && k[i] != NULL && kl[i] != kl[ENC])
            rc = scbj__fail(detail, detail_len, SCB_E_VALIDATION, key_names[i],
                            "%zu bytes, but enc has %zu (the keys of a set have one length)",
                            kl[i], kl[ENC]);
    }
    int64_t kvn = 0;
    if (rc == SCB_OK)
        rc = kvn_of(obj, &kvn, detail, detail_len);
    if (rc == SCB_OK)
        rc = scb_keys_new(out, k[ENC], k[MAC], k[DEK], kl[ENC], (uint8_t)kvn);
    for (int i = 0; i < NKEYS; i++) {
        if (k[i] != NULL) {
            scbj__wipe_bytes(k[i], kl[i]);
            free(k[i]);
        }
    }
    return rc;
}

int scbj_keys_from_json(const char *json, scb_keys_t **out, char *detail, size_t detail_len)
{
    return scbj_keys_from_json_ex(json, NULL, 0, out, detail, detail_len);
}

int scbj_keys_from_json_ex(const char *json, const char *pin, unsigned p11_flags,
                           scb_keys_t **out, char *detail, size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (scbj__bare_hex(json)) /* a raw key where the file belongs */
        return scbj__fail(detail, detail_len, SCB_E_VALIDATION, "(top level)",
                          "expected a JSON object {\"enc\": hex, ...}, got bare hex");
    json_object *root;
    int rc = scbj__parse_text(json, &root, detail, detail_len);
    if (rc != SCB_OK)
        return rc;
    rc = scbj_keys_from_object_ex(root, pin, p11_flags, out, detail, detail_len);
    scbj__wipe_put(root);
    return rc;
}
