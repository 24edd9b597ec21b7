/*
 * The bootstrap model as JSON, both ways (format: FORMAT.md).
 *
 * Output renders a value typed (from the OMA object table) only when the
 * bytes are valid for that type and range, and {"hex": ...} otherwise; the
 * input accepts exactly what the output produces plus {"hex": ...}
 * anywhere, so read -> JSON -> write never fails on what was read.
 */
#include "json_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */
/* Add val under key (consumes val); SCB_E_NOMEM when json-c could not. */
static int put(json_object *obj, const char *key, json_object *val)
{
    if (val == NULL)
        return SCB_E_NOMEM;
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return SCB_E_NOMEM;
    }
    return SCB_OK;
}

static int append(json_object *arr, json_object *val)
{
    if (val == NULL)
        return SCB_E_NOMEM;
    if (json_object_array_add(arr, val) != 0) {
        json_object_put(val);
        return SCB_E_NOMEM;
    }
    return SCB_OK;
}

/* The value as its OMA type, or NULL when the bytes are not a value the
 * object definition allows (type, range, rules: scb_lwm2m_value_check;
 * then the caller renders {"hex": ...}). */
static json_object *typed_value(uint16_t obj_id, uint16_t rid, const scb_resource_info_t *info,
                                const uint8_t *v, size_t len)
{
    if (scb_lwm2m_value_check(obj_id, rid, v, len, NULL, 0) != SCB_OK)
        return NULL;
    switch (info->type) {
    case SCB_T_STRING:
        /* a string that reads "<redacted>" would be refused on input */
        if (len == strlen(SCBJ_REDACTED) && memcmp(v, SCBJ_REDACTED, len) == 0)
            return NULL;
        return json_object_new_string_len((const char *)v, (int)len);
    case SCB_T_INTEGER:
    case SCB_T_TIME: {
        int64_t x = 0;
        scb_value_to_int(v, len, &x);
        return json_object_new_int64(x);
    }
    case SCB_T_UNSIGNED: {
        uint64_t x = 0;
        scb_value_to_uint(v, len, &x);
        return json_object_new_uint64(x);
    }
    case SCB_T_FLOAT: {
        double x = 0;
        scb_value_to_float(v, len, &x);
        return isfinite(x) ? json_object_new_double(x) : NULL; /* JSON has no NaN */
    }
    case SCB_T_BOOLEAN: {
        int x = 0;
        scb_value_to_bool(v, len, &x);
        return json_object_new_boolean(x);
    }
    case SCB_T_OBJLNK: {
        uint16_t o = 0, i = 0;
        char s[16];
        scb_value_to_objlnk(v, len, &o, &i);
        snprintf(s, sizeof(s), "%u:%u", o, i);
        return json_object_new_string(s);
    }
    case SCB_T_OPAQUE:
        return scbj__hex_string(v, len);
    default: /* SCB_T_NONE: Execute resources have no value type */
        return NULL;
    }
}

static json_object *hex_form(const uint8_t *v, size_t len)
{
    json_object *o = json_object_new_object();
    if (o != NULL && put(o, "hex", scbj__hex_string(v, len)) != SCB_OK) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* info: NULL for a resource the table does not know; typed: the table's
 * multiplicity matches the file's, so its type applies. */
static json_object *render_value(uint16_t obj_id, uint16_t rid, const scb_resource_info_t *info,
                                 bool typed, const uint8_t *v, size_t len, unsigned flags)
{
    if (info != NULL && info->secret && !(flags & SCBJ_SHOW_SECRETS))
        return json_object_new_string(SCBJ_REDACTED);
    json_object *j = typed ? typed_value(obj_id, rid, info, v, len) : NULL;
    return j != NULL ? j : hex_form(v, len);
}

/* The value of resource rid of object obj_id (one instance of it when the
 * file holds it as multiple): typed when the table knows the resource with
 * that multiplicity. */
static json_object *resource_value(uint16_t obj_id, uint16_t rid, bool multiple,
                                   const uint8_t *v, size_t len, unsigned flags)
{
    scb_resource_info_t info;
    bool known = scb_lwm2m_resource_info(obj_id, rid, &info) == SCB_OK;
    return render_value(obj_id, rid, known ? &info : NULL,
                        known && (info.multiple != 0) == multiple, v, len, flags);
}

static int render_resource(json_object *target, const scb_bootstrap_t *bs, uint16_t obj_id,
                           size_t oi, size_t ii, size_t ri, unsigned flags)
{
    scb_bs_resource_t r;
    int rc = scb_bootstrap_resource(bs, oi, ii, ri, &r);
    if (rc != SCB_OK)
        return rc;
    scb_resource_info_t info;
    bool known = scb_lwm2m_resource_info(obj_id, r.id, &info) == SCB_OK;
    char num[8];
    snprintf(num, sizeof(num), "%u", r.id);
    const char *key = known ? info.key : num;
    if (!r.multiple)
        return put(target, key, resource_value(obj_id, r.id, false, r.value, r.value_len, flags));
    json_object *m = json_object_new_object();
    if ((rc = put(target, key, m)) != SCB_OK)
        return rc;
    for (size_t k = 0; k < r.instance_count; k++) {
        uint16_t id;
        const uint8_t *v;
        size_t len;
        if ((rc = scb_bootstrap_resource_instance(bs, oi, ii, ri, k, &id, &v, &len)) != SCB_OK)
            return rc;
        snprintf(num, sizeof(num), "%u", id);
        rc = put(m, num, resource_value(obj_id, r.id, true, v, len, flags));
        if (rc != SCB_OK)
            return rc;
    }
    return SCB_OK;
}

static int render_resources(json_object *target, const scb_bootstrap_t *bs, uint16_t obj_id,
                            size_t oi, size_t ii, unsigned flags)
{
    scb_bs_instance_t in;
    int rc = scb_bootstrap_instance(bs, oi, ii, &in);
    for (size_t ri = 0; rc == SCB_OK && ri < in.resource_count; ri++)
        rc = render_resource(target, bs, obj_id, oi, ii, ri, flags);
    return rc;
}

static json_object *version_string(const scb_bs_object_t *o)
{
    char s[16];
    snprintf(s, sizeof(s), "%u.%u", o->version_major, o->version_minor);
    return json_object_new_string(s);
}

/* Security / Server: a flat list of instances, resources next to "instance". */
static int render_flat(json_object *list, const scb_bootstrap_t *bs, const scb_bs_object_t *o,
                       size_t oi, unsigned flags)
{
    for (size_t ii = 0; ii < o->instance_count; ii++) {
        scb_bs_instance_t in;
        int rc = scb_bootstrap_instance(bs, oi, ii, &in);
        json_object *e = json_object_new_object();
        if (rc == SCB_OK)
            rc = append(list, e);
        else
            json_object_put(e);
        if (rc == SCB_OK)
            rc = put(e, "instance", json_object_new_int(in.id));
        if (rc == SCB_OK)
            rc = render_resources(e, bs, o->id, oi, ii, flags);
        if (rc != SCB_OK)
            return rc;
    }
    return SCB_OK;
}

/* Any other object: {"id", "version"?, "instances": [{"id", "resources"}]}. */
static int render_object(json_object *list, const scb_bootstrap_t *bs, const scb_bs_object_t *o,
                         size_t oi, unsigned flags)
{
    json_object *e = json_object_new_object();
    json_object *insts = json_object_new_array();
    int rc = append(list, e);
    if (rc == SCB_OK)
        rc = put(e, "id", json_object_new_int(o->id));
    if (rc == SCB_OK && o->version_major != 0)
        rc = put(e, "version", version_string(o));
    if (rc == SCB_OK)
        rc = put(e, "instances", insts);
    else
        json_object_put(insts);
    for (size_t ii = 0; rc == SCB_OK && ii < o->instance_count; ii++) {
        scb_bs_instance_t in;
        json_object *ie = json_object_new_object();
        json_object *res = json_object_new_object();
        rc = scb_bootstrap_instance(bs, oi, ii, &in);
        if (rc == SCB_OK)
            rc = append(insts, ie);
        else
            json_object_put(ie);
        if (rc == SCB_OK)
            rc = put(ie, "id", json_object_new_int(in.id));
        if (rc == SCB_OK)
            rc = put(ie, "resources", res);
        else
            json_object_put(res);
        if (rc == SCB_OK)
            rc = render_resources(res, bs, o->id, oi, ii, flags);
    }
    return rc;
}

int scbj_bootstrap_to_object(const scb_bootstrap_t *bs, unsigned flags, json_object **out)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (bs == NULL)
        return SCB_E_INVALID_ARG;
    json_object *root = json_object_new_object();
    json_object *security = json_object_new_array(), *servers = json_object_new_array();
    json_object *objects = json_object_new_array(), *versions = json_object_new_object();
    int rc = put(root, "security", security);
    if (rc == SCB_OK)
        rc = put(root, "servers", servers);
    else
        json_object_put(servers);
    if (rc == SCB_OK)
        rc = put(root, "objects", objects);
    else
        json_object_put(objects);

    for (size_t oi = 0; rc == SCB_OK && oi < scb_bootstrap_object_count(bs); oi++) {
        scb_bs_object_t o;
        if ((rc = scb_bootstrap_object(bs, oi, &o)) != SCB_OK)
            break;
        if (o.id > 1) {
            rc = render_object(objects, bs, &o, oi, flags);
            continue;
        }
        rc = render_flat(o.id == 0 ? security : servers, bs, &o, oi, flags);
        if (rc == SCB_OK && o.version_major != 0)
            rc = put(versions, o.id == 0 ? "0" : "1", version_string(&o));
    }
    if (rc == SCB_OK && versions != NULL && json_object_object_length(versions) > 0)
        rc = put(root, "versions", versions);
    else
        json_object_put(versions);

    /* read-only information: the digest of the file this model encodes to
     * (absent when it does not encode, e.g. larger than 32 KB) */
    uint8_t digest[32];
    if (rc == SCB_OK && scb_bootstrap_digest(bs, digest) == SCB_OK)
        rc = put(root, "digest", scbj__hex_string(digest, sizeof(digest)));
    if (rc != SCB_OK) {
        scbj__wipe_put(root);
        return rc;
    }
    *out = root;
    return SCB_OK;
}

/* A json-c tree as text in *out (malloc'd); the tree and its own copy of
 * the text are wiped and released (they may hold secrets). */
static int tree_text(json_object *root, unsigned flags, char **out)
{
    int fmt = JSON_C_TO_STRING_NOSLASHESCAPE |
              ((flags & SCBJ_COMPACT) ? JSON_C_TO_STRING_PLAIN
                                      : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
    size_t len = 0;
    const char *s = json_object_to_json_string_length(root, fmt, &len);
    if (s != NULL) {
        *out = malloc(len + 1);
        if (*out != NULL)
            memcpy(*out, s, len + 1);
        scbj__wipe_bytes((char *)s, len);
    }
    scbj__wipe_put(root);
    return *out != NULL ? SCB_OK : SCB_E_NOMEM;
}

int scbj_bootstrap_to_json(const scb_bootstrap_t *bs, unsigned flags, char **out)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    json_object *root;
    int rc = scbj_bootstrap_to_object(bs, flags, &root);
    if (rc != SCB_OK)
        return rc;
    return tree_text(root, flags, out);
}

int scbj_value_to_json(uint16_t object_id, uint16_t resource_id, int multiple, const uint8_t *v,
                       size_t len, unsigned flags, char **out)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if ((v == NULL && len != 0) || len > SCB_MAX_FILE_SIZE) /* no file holds a larger value */
        return SCB_E_INVALID_ARG;
    json_object *j = resource_value(object_id, resource_id, multiple != 0,
                                    v != NULL ? v : (const uint8_t *)"", len, flags);
    return j != NULL ? tree_text(j, flags, out) : SCB_E_NOMEM;
}

/* Whether instance ii of object oi has resource rid (single); *v its value. */
static bool has_resource(const scb_bootstrap_t *bs, size_t oi, size_t ii, size_t count,
                         uint16_t rid, const uint8_t **v, size_t *len)
{
    for (size_t ri = 0; ri < count; ri++) {
        scb_bs_resource_t r;
        if (scb_bootstrap_resource(bs, oi, ii, ri, &r) == SCB_OK && r.id == rid) {
            *v = r.multiple ? NULL : r.value;
            *len = r.multiple ? 0 : r.value_len;
            return true;
        }
    }
    return false;
}

int scbj_bootstrap_warning(const scb_bootstrap_t *bs, size_t n, char *out, size_t out_len)
{
    if (out != NULL && out_len > 0)
        out[0] = 0;
    if (bs == NULL || out == NULL || out_len == 0)
        return SCB_E_INVALID_ARG;
    size_t k = 0;
    for (size_t oi = 0; oi < scb_bootstrap_object_count(bs); oi++) {
        scb_bs_object_t o;
        if (scb_bootstrap_object(bs, oi, &o) != SCB_OK || o.id > 1)
            continue;
        for (size_t ii = 0; ii < o.instance_count; ii++) {
            scb_bs_instance_t in;
            if (scb_bootstrap_instance(bs, oi, ii, &in) != SCB_OK)
                continue;
            const uint8_t *v = NULL;
            size_t len = 0;
            const char *why[2] = {NULL, NULL};
            if (o.id == 0) {
                int bootstrap = 0;
                if (!has_resource(bs, oi, ii, in.resource_count, 0, &v, &len))
                    why[0] = "no server_uri";
                if (has_resource(bs, oi, ii, in.resource_count, 1, &v, &len) && v != NULL)
                    scb_value_to_bool(v, len, &bootstrap);
                if (!bootstrap && !has_resource(bs, oi, ii, in.resource_count, 10, &v, &len))
                    why[1] = "no short_server_id (needed unless bootstrap_server is true)";
            } else if (!has_resource(bs, oi, ii, in.resource_count, 0, &v, &len)) {
                why[0] = "no short_server_id";
            }
            for (int w = 0; w < 2; w++) {
                if (why[w] != NULL && k++ == n) {
                    snprintf(out, out_len, "%s[%zu]: %s", o.id == 0 ? "security" : "servers", ii,
                             why[w]);
                    return SCB_OK;
                }
            }
        }
    }
    return SCB_E_NOT_FOUND;
}

void scbj_free(char *s)
{
    if (s != NULL) {
        scbj__wipe_bytes(s, strlen(s));
        free(s);
    }
}

/* ------------------------------------------------------------------------ */
/* Input                                                                     */
/* ------------------------------------------------------------------------ */
typedef struct {
    scb_bootstrap_t *bs;
    char *detail;
    size_t detail_len;
} reader_t;

/* Field paths in messages: "objects[3].instances[0].resources.acl.1". */
#define PATH_LEN 256

#define FAIL(r, path, ...) scbj__fail((r)->detail, (r)->detail_len, SCB_E_VALIDATION, path, __VA_ARGS__)

/* json-c's iteration and lookups take non-const objects; nothing here
 * modifies the caller's tree. */
static json_object *get(const json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex((json_object *)o, key, &v) ? v : NULL;
}

static bool json_u16(const json_object *j, uint16_t *out)
{
    if (json_object_get_type(j) != json_type_int)
        return false;
    int64_t x = json_object_get_int64(j);
    if (x < 0 || x > 0xFFFF)
        return false;
    *out = (uint16_t)x;
    return true;
}

/* "major.minor", major 1..255, minor 0..255 (an explicit version). */
static bool parse_version(const json_object *j, uint8_t *major, uint8_t *minor)
{
    if (json_object_get_type(j) != json_type_string)
        return false;
    const char *s = json_object_get_string((json_object *)j);
    unsigned v[2] = {0, 0};
    for (int part = 0; part < 2; part++) {
        size_t n = 0;
        while (s[n] >= '0' && s[n] <= '9') {
            if (n >= 3)
                return false;
            v[part] = v[part] * 10 + (unsigned)(s[n] - '0');
            n++;
        }
        if (n == 0 || v[part] > 255 || s[n] != (part == 0 ? '.' : 0))
            return false;
        s += n + 1;
    }
    if (v[0] == 0)
        return false;
    *major = (uint8_t)v[0];
    *minor = (uint8_t)v[1];
    return true;
}

/* A JSON integer as int64; 0 ok, -1 not an integer, -2 beyond int64. */
static int json_int64(const json_object *j, int64_t *out)
{
    if (json_object_get_type(j) != json_type_int)
        return -1;
    int64_t x = json_object_get_int64(j);
    if (x == INT64_MAX && json_object_get_uint64(j) != (uint64_t)INT64_MAX)
        return -2; /* json-c held it as a larger unsigned number */
    *out = x;
    return 0;
}

/* A resource's typed value failed: the object definition's words for
 * what it must be (for an integer resource any bytes yield them, so an
 * empty value does: "expected integer 0..4"). */
static int expected(reader_t *r, const char *path, uint16_t obj_id, uint16_t rid)
{
    char why[160] = "expected an integer";
    scb_lwm2m_value_check(obj_id, rid, (const uint8_t *)"", 0, why, sizeof(why));
    return FAIL(r, path, "%s", why);
}

/* JSON integer -> value bytes; the range is checked on the bytes (value_bytes). */
static int integer_bytes(reader_t *r, const char *path, uint16_t obj_id, uint16_t rid,
                         const scb_resource_info_t *info, const json_object *j, uint8_t *buf,
                         size_t *len)
{
    if (info->type == SCB_T_UNSIGNED) {
        int64_t s = 0;
        int k = json_int64(j, &s); /* -2: beyond int64, still a valid unsigned */
        if (k == -1 || (k == 0 && s < 0))
            return expected(r, path, obj_id, rid);
        return scb_value_from_uint(json_object_get_uint64(j), buf, len);
    }
    int64_t x;
    if (json_int64(j, &x) != 0)
        return expected(r, path, obj_id, rid);
    return scb_value_from_int(x, buf, len);
}

/* "object:instance", both decimal 0..65535. */
static bool parse_objlnk(const char *s, uint16_t *obj, uint16_t *inst)
{
    const char *colon = strchr(s, ':');
    char a[8], b[8];
    if (colon == NULL || (size_t)(colon - s) >= sizeof(a) || strlen(colon + 1) >= sizeof(b))
        return false;
    memcpy(a, s, (size_t)(colon - s));
    a[colon - s] = 0;
    strcpy(b, colon + 1);
    return scbj__decimal_id(a, obj) && scbj__decimal_id(b, inst);
}

/* Typed JSON value -> value bytes (malloc'd into *out), by the JSON type
 * only: value_bytes checks them against the object definition. */
static int typed_bytes(reader_t *r, const char *path, uint16_t obj_id, uint16_t rid,
                       const scb_resource_info_t *info, const json_object *j, uint8_t **out,
                       size_t *len)
{
    uint8_t small[8];
    size_t n = 0;
    int rc;
    json_type t = json_object_get_type(j);
    switch (info->type) {
    case SCB_T_STRING: {
        if (t != json_type_string)
            return FAIL(r, path, "expected a string");
        const char *s = json_object_get_string((json_object *)j);
        size_t sl = (size_t)json_object_get_string_len(j);
        if (scb_value_check_string((const uint8_t *)s, sl) != SCB_OK)
            return FAIL(r, path, "string holds a NUL character or invalid UTF-8");
        if (sl > SCB_MAX_FILE_SIZE)
            return FAIL(r, path, "longer than the %u-byte file", SCB_MAX_FILE_SIZE);
        if ((*out = malloc(sl + 1)) == NULL)
            return SCB_E_NOMEM;
        memcpy(*out, s, sl);
        *len = sl;
        return SCB_OK;
    }
    case SCB_T_OPAQUE: {
        if (t != json_type_string)
            return FAIL(r, path, "expected a string of hex digits");
        size_t hl = (size_t)json_object_get_string_len(j);
        if (hl > 2 * SCB_MAX_FILE_SIZE)
            return FAIL(r, path, "longer than the %u-byte file", SCB_MAX_FILE_SIZE);
        const char *hex = json_object_get_string((json_object *)j);
        rc = scbj__unhex(hex, hl, out, len);
        if (rc == -1 && scbj__non_hex_at(hex, hl) > 0)
            return FAIL(r, path, "not hex (character %zu)", scbj__non_hex_at(hex, hl));
        if (rc == -1)
            return FAIL(r, path, "expected an even number of hex digits");
        return rc;
    }
    case SCB_T_INTEGER:
    case SCB_T_TIME:
    case SCB_T_UNSIGNED:
        if ((rc = integer_bytes(r, path, obj_id, rid, info, j, small, &n)) != SCB_OK)
            return rc;
        break;
    case SCB_T_FLOAT:
        if (t != json_type_double && t != json_type_int)
            return FAIL(r, path, "expected a number");
        scb_value_from_float(json_object_get_double(j), small, &n);
        break;
    case SCB_T_BOOLEAN:
        if (t != json_type_boolean)
            return FAIL(r, path, "expected true or false");
        small[0] = json_object_get_boolean(j) ? 1 : 0;
        n = 1;
        break;
    case SCB_T_OBJLNK: {
        uint16_t o, i;
        if (t != json_type_string || !parse_objlnk(json_object_get_string((json_object *)j), &o, &i))
            return FAIL(r, path, "expected an object link \"object:instance\" (0..65535 each)");
        scb_value_from_objlnk(o, i, small);
        n = 4;
        break;
    }
    default:
        return FAIL(r, path, "has no value type");
    }
    if ((*out = malloc(n)) == NULL)
        return SCB_E_NOMEM;
    memcpy(*out, small, n);
    *len = n;
    return SCB_OK;
}

/* {"hex": "..."} (value_bytes refuses other keys next to "hex"). */
static bool is_hex_form(const json_object *j)
{
    return json_object_get_type(j) == json_type_object && get(j, "hex") != NULL;
}

static void free_bytes(uint8_t *b, size_t len)
{
    if (b != NULL) {
        scbj__wipe_bytes(b, len);
        free(b);
    }
}

/* One value (a single resource's or a resource instance's) -> bytes.
 * untyped: NULL when the table's type applies, else why it does not.
 * {"hex": ...} is taken as it is (the lossless escape); a typed value must
 * be one the object definition allows. */
static int value_bytes(reader_t *r, const char *path, uint16_t obj_id, uint16_t rid,
                       const scb_resource_info_t *info, const char *untyped, const json_object *j,
                       uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (scbj__is_redacted(j))
        return FAIL(r, path, "is \"%s\" (a read without secrets); give the real value",
                    SCBJ_REDACTED);
    if (is_hex_form(j)) {
        if (json_object_object_length(j) != 1)
            return FAIL(r, path, "{\"hex\": ...} takes no other keys");
        json_object *h = get(j, "hex");
        char sub[PATH_LEN];
        snprintf(sub, sizeof(sub), "%.200s.hex", path);
        if (scbj__is_redacted(h))
            return FAIL(r, sub, "is \"%s\" (a read without secrets); give the real value",
                        SCBJ_REDACTED);
        static const scb_resource_info_t opaque = {.type = SCB_T_OPAQUE};
        return typed_bytes(r, sub, obj_id, rid, &opaque, h, out, len);
    }
    if (untyped != NULL)
        return FAIL(r, path, "%s", untyped);
    int rc = typed_bytes(r, path, obj_id, rid, info, j, out, len);
    char why[160];
    if (rc == SCB_OK && scb_lwm2m_value_check(obj_id, rid, *out, *len, why, sizeof(why)) != SCB_OK) {
        free_bytes(*out, *len);
        *out = NULL;
        *len = 0;
        rc = FAIL(r, path, "%s", why);
    }
    return rc;
}

/* Builder result -> message. */
static int added(reader_t *r, const char *path, int rc, const char *what, unsigned id)
{
    if (rc >= 0)
        return SCB_OK;
    if (rc == SCB_E_VALIDATION)
        return FAIL(r, path, "%s %u appears twice", what, id);
    if (rc == SCB_E_FILE_TOO_LARGE)
        return scbj__fail(r->detail, r->detail_len, rc, path, "longer than the %u-byte file",
                          SCB_MAX_FILE_SIZE);
    return rc;
}

/* A multiple-instance resource: {"<resource instance id>": value, ...}. */
static int parse_multiple(reader_t *r, const char *path, uint16_t obj_id, size_t oi, size_t ii,
                          uint16_t rid, const scb_resource_info_t *info, const char *untyped,
                          const json_object *val)
{
    int ri = scb_bootstrap_add_multi_resource(r->bs, oi, ii, rid);
    int rc = added(r, path, ri, "resource", rid);
    json_object_object_foreach((json_object *)val, k, v)
    {
        if (rc != SCB_OK)
            break;
        char sub[PATH_LEN], kt[48];
        uint16_t id;
        uint8_t *b = NULL;
        size_t len = 0;
        scbj__key_text(k, kt, sizeof(kt));
        snprintf(sub, sizeof(sub), "%.160s.%s", path, kt);
        if (!scbj__decimal_id(k, &id))
            return FAIL(r, sub, "expected a decimal resource instance id (0..65535)");
        rc = value_bytes(r, sub, obj_id, rid, info, untyped, v, &b, &len);
        if (rc == SCB_OK)
            rc = added(r, sub,
                       scb_bootstrap_add_resource_instance(r->bs, oi, ii, (size_t)ri, id, b, len),
                       "resource instance", id);
        free_bytes(b, len);
    }
    return rc;
}

/* One resource of an instance: key is a table key or a decimal id. */
static int parse_resource(reader_t *r, const char *base, uint16_t obj_id, size_t oi, size_t ii,
                          const char *key, const json_object *val)
{
    char kt[48], path[PATH_LEN];
    scbj__key_text(key, kt, sizeof(kt));
    snprintf(path, sizeof(path), "%.160s.%s", base, kt);
    uint16_t rid;
    if (!scbj__decimal_id(key, &rid) && scb_lwm2m_resource_by_key(obj_id, key, &rid) != SCB_OK) {
        const char *name = scb_lwm2m_object_name(obj_id);
        if (name == NULL)
            return FAIL(r, path, "object %u has no resource names: use decimal resource ids",
                        obj_id);
        return FAIL(r, path, "not a resource of %s: use a resource name or a decimal id", name);
    }
    scb_resource_info_t info;
    bool known = scb_lwm2m_resource_info(obj_id, rid, &info) == SCB_OK;
    bool multiple = json_object_get_type(val) == json_type_object && !is_hex_form(val);
    /* why the table's type does not apply (NULL: it does) */
    const char *untyped = NULL;
    if (!known)
        untyped = "resource not in the object table: expected {\"hex\": \"...\"}";
    else if (info.type == SCB_T_NONE)
        untyped = "resource without a value type (Execute): expected {\"hex\": \"...\"}";
    else if (multiple && !info.multiple)
        untyped = "single-instance in the object table: resource instances take "
                  "{\"hex\": \"...\"}";
    else if (!multiple && info.multiple)
        untyped = "multiple-instance resource: expected an object of resource instances "
                  "{\"0\": ...}";
    if (multiple)
        return parse_multiple(r, path, obj_id, oi, ii, rid, known ? &info : NULL, untyped, val);

    uint8_t *b = NULL;
    size_t len = 0;
    int rc = value_bytes(r, path, obj_id, rid, known ? &info : NULL, untyped, val, &b, &len);
    if (rc == SCB_OK)
        rc = added(r, path, scb_bootstrap_add_resource(r->bs, oi, ii, rid, b, len), "resource",
                   rid);
    free_bytes(b, len);
    return rc;
}

/* "security" / "servers": [{"instance": id, <resource>: value, ...}] */
static int parse_flat(reader_t *r, const char *name, uint16_t obj_id, size_t oi,
                      const json_object *list)
{
    for (size_t k = 0; k < json_object_array_length(list); k++) {
        json_object *e = json_object_array_get_idx(list, k);
        char path[PATH_LEN], sub[PATH_LEN];
        snprintf(path, sizeof(path), "%.40s[%zu]", name, k);
        if (json_object_get_type(e) != json_type_object)
            return FAIL(r, path, "expected an object");
        uint16_t id = (uint16_t)k;
        json_object *jid = get(e, "instance");
        snprintf(sub, sizeof(sub), "%.200s.instance", path);
        if (jid != NULL && !json_u16(jid, &id))
            return FAIL(r, sub, "expected integer 0..65535");
        if (jid == NULL && k > 0xFFFF)
            return FAIL(r, path, "more than 65536 instances");
        int ii = scb_bootstrap_add_instance(r->bs, oi, id);
        int rc = added(r, sub, ii, "instance", id);
        if (rc != SCB_OK)
            return rc;
        json_object_object_foreach(e, key, val)
        {
            if (strcmp(key, "instance") == 0)
                continue;
            if ((rc = parse_resource(r, path, obj_id, oi, (size_t)ii, key, val)) != SCB_OK)
                return rc;
        }
    }
    return SCB_OK;
}

/* "objects": [{"id", "version"?, "instances": [{"id", "resources": {...}}]}] */
static int parse_instances(reader_t *r, const char *path, uint16_t obj_id, size_t oi,
                           const json_object *list)
{
    for (size_t k = 0; k < json_object_array_length(list); k++) {
        json_object *e = json_object_array_get_idx(list, k);
        char ipath[PATH_LEN], sub[PATH_LEN];
        snprintf(ipath, sizeof(ipath), "%.200s[%zu]", path, k);
        if (json_object_get_type(e) != json_type_object)
            return FAIL(r, ipath, "expected an object");
        json_object_object_foreach(e, key, val)
        {
            (void)val;
            if (strcmp(key, "id") != 0 && strcmp(key, "resources") != 0) {
                char kt[48];
                scbj__key_text(key, kt, sizeof(kt));
                return FAIL(r, ipath, "unknown key '%s' (expected \"id\", \"resources\")", kt);
            }
        }
        uint16_t id = (uint16_t)k;
        json_object *jid = get(e, "id");
        snprintf(sub, sizeof(sub), "%.200s.id", ipath);
        if (jid != NULL && !json_u16(jid, &id))
            return FAIL(r, sub, "expected integer 0..65535");
        if (jid == NULL && k > 0xFFFF)
            return FAIL(r, ipath, "more than 65536 instances");
        int ii = scb_bootstrap_add_instance(r->bs, oi, id);
        int rc = added(r, sub, ii, "instance", id);
        if (rc != SCB_OK)
            return rc;
        json_object *res = get(e, "resources");
        if (res == NULL)
            continue;
        snprintf(sub, sizeof(sub), "%.200s.resources", ipath);
        if (json_object_get_type(res) != json_type_object)
            return FAIL(r, sub, "expected an object of resources");
        json_object_object_foreach(res, rkey, rval)
        {
            if ((rc = parse_resource(r, sub, obj_id, oi, (size_t)ii, rkey, rval)) != SCB_OK)
                return rc;
        }
    }
    return SCB_OK;
}

static int parse_objects(reader_t *r, const json_object *list)
{
    for (size_t k = 0; k < json_object_array_length(list); k++) {
        json_object *e = json_object_array_get_idx(list, k);
        char path[PATH_LEN], sub[PATH_LEN];
        snprintf(path, sizeof(path), "objects[%zu]", k);
        if (json_object_get_type(e) != json_type_object)
            return FAIL(r, path, "expected an object");
        json_object_object_foreach(e, key, val)
        {
            (void)val;
            if (strcmp(key, "id") != 0 && strcmp(key, "version") != 0 &&
                strcmp(key, "instances") != 0) {
                char kt[48];
                scbj__key_text(key, kt, sizeof(kt));
                return FAIL(r, path, "unknown key '%s' (expected \"id\", \"version\", "
                                     "\"instances\")",
                            kt);
            }
        }
        uint16_t id;
        json_object *jid = get(e, "id");
        snprintf(sub, sizeof(sub), "%.200s.id", path);
        if (jid == NULL)
            return FAIL(r, path, "missing \"id\"");
        if (!json_u16(jid, &id))
            return FAIL(r, sub, "expected integer 0..65535");
        if (id <= 1)
            return FAIL(r, sub, "objects 0 and 1 belong in \"security\" and \"servers\"");
        uint8_t major = 0, minor = 0;
        json_object *jv = get(e, "version");
        if (jv != NULL && !parse_version(jv, &major, &minor)) {
            snprintf(sub, sizeof(sub), "%.200s.version", path);
            return FAIL(r, sub, "expected \"major.minor\", major 1..255, minor 0..255");
        }
        int oi = scb_bootstrap_add_object(r->bs, id, major, minor);
        int rc = added(r, sub, oi, "object", id);
        if (rc != SCB_OK)
            return rc;
        json_object *insts = get(e, "instances");
        if (insts == NULL)
            continue;
        snprintf(sub, sizeof(sub), "%.200s.instances", path);
        if (json_object_get_type(insts) != json_type_array)
            return FAIL(r, sub, "expected an array");
        if ((rc = parse_instances(r, sub, id, (size_t)oi, insts)) != SCB_OK)
            return rc;
    }
    return SCB_OK;
}

static int parse_root(reader_t *r, const json_object *root)
{
    if (json_object_get_type(root) != json_type_object)
        return FAIL(r, "(top level)", "expected a JSON object");
    json_object_object_foreach((json_object *)root, key, val)
    {
        (void)val;
        if (strcmp(key, "security") != 0 && strcmp(key, "servers") != 0 &&
            strcmp(key, "objects") != 0 && strcmp(key, "versions") != 0 &&
            strcmp(key, "digest") != 0 && strcmp(key, "read") != 0 /* output only */) {
            char kt[48];
            scbj__key_text(key, kt, sizeof(kt));
            return FAIL(r, "(top level)", "unknown key '%s'", kt);
        }
    }
    static const char *const names[2] = {"security", "servers"};
    json_object *lists[2] = {get(root, "security"), get(root, "servers")};
    for (int i = 0; i < 2; i++)
        if (lists[i] != NULL && json_object_get_type(lists[i]) != json_type_array)
            return FAIL(r, names[i], "expected an array");
    json_object *objects = get(root, "objects");
    if (objects != NULL && json_object_get_type(objects) != json_type_array)
        return FAIL(r, "objects", "expected an array");

    /* "versions": {"0": "1.1", "1": "1.2"}: explicit versions of 0 and 1 */
    uint8_t major[2] = {0, 0}, minor[2] = {0, 0};
    bool given[2] = {false, false};
    json_object *versions = get(root, "versions");
    if (versions != NULL) {
        if (json_object_get_type(versions) != json_type_object)
            return FAIL(r, "versions", "expected an object");
        json_object_object_foreach(versions, vkey, vval)
        {
            char kt[48], path[PATH_LEN];
            scbj__key_text(vkey, kt, sizeof(kt));
            snprintf(path, sizeof(path), "versions.%s", kt);
            int which = strcmp(vkey, "0") == 0 ? 0 : strcmp(vkey, "1") == 0 ? 1 : -1;
            if (which < 0)
                return FAIL(r, path, "only objects \"0\" and \"1\" (others carry \"version\")");
            if (!parse_version(vval, &major[which], &minor[which]))
                return FAIL(r, path, "expected \"major.minor\", major 1..255, minor 0..255");
            given[which] = true;
        }
    }

    /* canonical order: Security, Server, then the other objects */
    for (uint16_t id = 0; id < 2; id++) {
        size_t n = lists[id] != NULL ? json_object_array_length(lists[id]) : 0;
        if (n == 0 && !given[id])
            continue;
        int oi = scb_bootstrap_add_object(r->bs, id, major[id], minor[id]);
        if (oi < 0)
            return oi;
        int rc = n > 0 ? parse_flat(r, names[id], id, (size_t)oi, lists[id]) : SCB_OK;
        if (rc != SCB_OK)
            return rc;
    }
    return objects != NULL ? parse_objects(r, objects) : SCB_OK;
}

int scbj_bootstrap_from_object(const json_object *obj, scb_bootstrap_t **out, char *detail,
                               size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (obj == NULL)
        return SCB_E_INVALID_ARG;
    if (detail != NULL && detail_len > 0)
        detail[0] = 0;
    reader_t r = {NULL, detail, detail_len};
    int rc = scb_bootstrap_new(&r.bs);
    if (rc != SCB_OK)
        return rc;
    rc = parse_root(&r, obj);
    size_t len = 0;
    if (rc == SCB_OK && scb_bootstrap_encode(r.bs, NULL, &len) == SCB_E_FILE_TOO_LARGE)
        rc = scbj__fail(detail, detail_len, SCB_E_FILE_TOO_LARGE, "(top level)",
                        "the bootstrap file would exceed %u bytes", SCB_MAX_FILE_SIZE);
    if (rc != SCB_OK) {
        scb_bootstrap_free(&r.bs);
        return rc;
    }
    *out = r.bs;
    return SCB_OK;
}

int scbj_bootstrap_from_json(const char *json, scb_bootstrap_t **out, char *detail,
                             size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    json_object *root;
    int rc = scbj__parse_text(json, &root, detail, detail_len);
    if (rc != SCB_OK)
        return rc;
    rc = scbj_bootstrap_from_object(root, out, detail, detail_len);
    scbj__wipe_put(root);
    return rc;
}
