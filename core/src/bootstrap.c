/*
 * The LwM2M bootstrap file model: decode, build, encode, digest, typed
 * views of Security (0) and Server (1).
 *
 * File format (LwM2M Core TS, appendix "Storage of LwM2M Bootstrap
 * Information on the Smartcard"; big-endian):
 *   bootstrap_data ::= nobjects:u16 size:u16 object*    size = bytes after the header
 *   object         ::= object_id:u16 version length:u16 OMA-TLV(object instances)
 *   version        ::= 00 (implicit 1.0) | major(01..FF) minor(00..FF)
 * Bytes after 4 + size (FF padding) are ignored.
 *
 * Values are kept as the raw TLV value bytes plus a NUL (so a string
 * resource can be handed out as a C string); every value is wiped on free
 * because Security instances hold keys. Ids are unique on every level:
 * duplicates are rejected, so typed views and the JSON form are unambiguous.
 */
#include "crypto.h"
#include "internal.h"
#include "lwm2m_tlv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint16_t id;
    uint8_t *value; /* len + 1 bytes, NUL-terminated */
    size_t len;
} bs_rinst_t;

typedef struct {
    uint16_t id;
    bool multiple;
    uint8_t *value; /* single: len + 1 bytes, NUL-terminated */
    size_t len;
    bs_rinst_t *inst; /* multiple */
    size_t ninst, cap;
} bs_res_t;

typedef struct {
    uint16_t id;
    bs_res_t *res;
    size_t nres, cap;
} bs_inst_t;

typedef struct {
    uint16_t id;
    uint8_t vmaj, vmin;
    bs_inst_t *inst;
    size_t ninst, cap;
} bs_obj_t;

struct scb_bootstrap {
    bs_obj_t *obj;
    size_t nobj, cap;
    uint8_t *raw; /* the decoded bytes, padding included (NULL when built) */
    size_t raw_len;
};

/* ------------------------------------------------------------------------ */
/* Memory                                                                    */
/* ------------------------------------------------------------------------ */
/* Make room for one more element in *arr (count n, capacity *cap). */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return SCB_OK;
    size_t ncap = *cap != 0 ? *cap * 2 : 4;
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL)
        return SCB_E_NOMEM;
    *arr = p;
    *cap = ncap;
    return SCB_OK;
}

static uint8_t *dup_value(const uint8_t *v, size_t len)
{
    uint8_t *p = malloc(len + 1);
    if (p == NULL)
        return NULL;
    if (len > 0)
        memcpy(p, v, len);
    p[len] = 0;
    return p;
}

static void free_value(uint8_t *v, size_t len)
{
    if (v != NULL) {
        scb__cleanse(v, len + 1);
        free(v);
    }
}

static void free_res(bs_res_t *r)
{
    free_value(r->value, r->len);
    for (size_t i = 0; i < r->ninst; i++)
        free_value(r->inst[i].value, r->inst[i].len);
    free(r->inst);
}

void scb_bootstrap_free(scb_bootstrap_t **bs)
{
    if (bs == NULL || *bs == NULL)
        return;
    scb_bootstrap_t *b = *bs;
    for (size_t o = 0; o < b->nobj; o++) {
        for (size_t i = 0; i < b->obj[o].ninst; i++) {
            bs_inst_t *in = &b->obj[o].inst[i];
            for (size_t r = 0; r < in->nres; r++)
                free_res(&in->res[r]);
            free(in->res);
        }
        free(b->obj[o].inst);
    }
    free(b->obj);
    if (b->raw != NULL) {
        scb__cleanse(b->raw, b->raw_len);
        free(b->raw);
    }
    free(b);
    *bs = NULL;
}

int scb_bootstrap_new(scb_bootstrap_t **out)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? SCB_OK : SCB_E_NOMEM;
}

/* ------------------------------------------------------------------------ */
/* Builders                                                                  */
/* ------------------------------------------------------------------------ */
/* Unchecked appends (ids not checked for duplicates): the decoder checks
 * with bitmaps, the public builders by scanning. */
static int append_object(scb_bootstrap_t *bs, uint16_t id, uint8_t vmaj, uint8_t vmin)
{
    int rc = grow((void **)&bs->obj, &bs->cap, bs->nobj, sizeof(*bs->obj));
    if (rc != SCB_OK)
        return rc;
    bs_obj_t *o = &bs->obj[bs->nobj];
    memset(o, 0, sizeof(*o));
    o->id = id;
    o->vmaj = vmaj;
    o->vmin = vmin;
    return (int)bs->nobj++;
}

static int append_instance(bs_obj_t *o, uint16_t id)
{
    int rc = grow((void **)&o->inst, &o->cap, o->ninst, sizeof(*o->inst));
    if (rc != SCB_OK)
        return rc;
    bs_inst_t *in = &o->inst[o->ninst];
    memset(in, 0, sizeof(*in));
    in->id = id;
    return (int)o->ninst++;
}

static int append_resource(bs_inst_t *in, uint16_t id, bool multiple, const uint8_t *value,
                           size_t len)
{
    int rc = grow((void **)&in->res, &in->cap, in->nres, sizeof(*in->res));
    if (rc != SCB_OK)
        return rc;
    bs_res_t *r = &in->res[in->nres];
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->multiple = multiple;
    if (!multiple) {
        if ((r->value = dup_value(value, len)) == NULL)
            return SCB_E_NOMEM;
        r->len = len;
    }
    return (int)in->nres++;
}

static int append_resource_instance(bs_res_t *r, uint16_t id, const uint8_t *value, size_t len)
{
    int rc = grow((void **)&r->inst, &r->cap, r->ninst, sizeof(*r->inst));
    if (rc != SCB_OK)
        return rc;
    bs_rinst_t *ri = &r->inst[r->ninst];
    if ((ri->value = dup_value(value, len)) == NULL)
        return SCB_E_NOMEM;
    ri->id = id;
    ri->len = len;
    return (int)r->ninst++;
}

static bs_obj_t *object_at(const scb_bootstrap_t *bs, size_t oi)
{
    return bs != NULL && oi < bs->nobj ? &bs->obj[oi] : NULL;
}

static bs_inst_t *instance_at(const scb_bootstrap_t *bs, size_t oi, size_t ii)
{
    bs_obj_t *o = object_at(bs, oi);
    return o != NULL && ii < o->ninst ? &o->inst[ii] : NULL;
}

static bs_res_t *resource_at(const scb_bootstrap_t *bs, size_t oi, size_t ii, size_t ri)
{
    bs_inst_t *in = instance_at(bs, oi, ii);
    return in != NULL && ri < in->nres ? &in->res[ri] : NULL;
}

int scb_bootstrap_add_object(scb_bootstrap_t *bs, uint16_t id, uint8_t version_major,
                             uint8_t version_minor)
{
    if (bs == NULL || (version_major == 0 && version_minor != 0))
        return SCB_E_INVALID_ARG;
    for (size_t i = 0; i < bs->nobj; i++)
        if (bs->obj[i].id == id)
            return SCB_E_VALIDATION;
    return append_object(bs, id, version_major, version_minor);
}

int scb_bootstrap_add_instance(scb_bootstrap_t *bs, size_t oi, uint16_t id)
{
    bs_obj_t *o = object_at(bs, oi);
    if (o == NULL)
        return SCB_E_INVALID_ARG;
    for (size_t i = 0; i < o->ninst; i++)
        if (o->inst[i].id == id)
            return SCB_E_VALIDATION;
    return append_instance(o, id);
}

static int add_resource(scb_bootstrap_t *bs, size_t oi, size_t ii, uint16_t id, bool multiple,
                        const uint8_t *value, size_t value_len)
{
    bs_inst_t *in = instance_at(bs, oi, ii);
    if (in == NULL || (value == NULL && value_len > 0))
        return SCB_E_INVALID_ARG;
    if (value_len > SCB_MAX_FILE_SIZE)
        return SCB_E_FILE_TOO_LARGE;
    for (size_t i = 0; i < in->nres; i++)
        if (in->res[i].id == id)
            return SCB_E_VALIDATION;
    return append_resource(in, id, multiple, value, value_len);
}

int scb_bootstrap_add_resource(scb_bootstrap_t *bs, size_t oi, size_t ii, uint16_t id,
                               const uint8_t *value, size_t value_len)
{
    return add_resource(bs, oi, ii, id, false, value, value_len);
}

int scb_bootstrap_add_multi_resource(scb_bootstrap_t *bs, size_t oi, size_t ii, uint16_t id)
{
    return add_resource(bs, oi, ii, id, true, NULL, 0);
}

int scb_bootstrap_add_resource_instance(scb_bootstrap_t *bs, size_t oi, size_t ii, size_t ri,
                                        uint16_t id, const uint8_t *value, size_t value_len)
{
    bs_res_t *r = resource_at(bs, oi, ii, ri);
    if (r == NULL || !r->multiple || (value == NULL && value_len > 0))
        return SCB_E_INVALID_ARG;
    if (value_len > SCB_MAX_FILE_SIZE)
        return SCB_E_FILE_TOO_LARGE;
    for (size_t i = 0; i < r->ninst; i++)
        if (r->inst[i].id == id)
            return SCB_E_VALIDATION;
    return append_resource_instance(r, id, value, value_len);
}

/* ------------------------------------------------------------------------ */
/* Decode                                                                    */
/* ------------------------------------------------------------------------ */
/* Duplicate-id detection in O(1): one 65536-bit set per level; a parent's
 * bits are cleared again (by walking its children) when it is done. */
enum { SEEN_OBJECT, SEEN_INSTANCE, SEEN_RESOURCE, SEEN_RINSTANCE, SEEN_LEVELS };
typedef struct {
    const uint8_t *data;
    char *detail;
    size_t detail_len;
    uint8_t (*seen)[65536 / 8];
} decoder_t;

/* Returns true when id was already set on that level. */
static bool seen_set(decoder_t *d, int level, uint16_t id)
{
    uint8_t *b = &d->seen[level][id >> 3];
    uint8_t bit = (uint8_t)(1u << (id & 7));
    bool was = (*b & bit) != 0;
    *b |= bit;
    return was;
}

static void seen_clear(decoder_t *d, int level, uint16_t id)
{
    d->seen[level][id >> 3] &= (uint8_t)~(1u << (id & 7));
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static int fail_nesting(decoder_t *d, const char *where, int parent, const scb__tlv_t *t)
{
    return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                       "%s at offset %zu: %s %u is not allowed inside %s %s", where, t->offset,
                       scb__tlv_type_name(t->type), t->id,
                       scb__tlv_type_name(parent)[0] == 'o' ? "an" : "a",
                       scb__tlv_type_name(parent));
}

static int fail_duplicate(decoder_t *d, const char *where, const scb__tlv_t *t)
{
    return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                       "%s at offset %zu: %s %u appears twice", where, t->offset,
                       scb__tlv_type_name(t->type), t->id);
}

static int decode_multiple(decoder_t *d, bs_res_t *r, const scb__tlv_t *parent,
                           const char *where)
{
    size_t p = parent->value_offset, end = parent->value_offset + parent->len;
    int rc = SCB_OK;
    while (rc == SCB_OK && p < end) {
        scb__tlv_t t;
        if ((rc = scb__tlv_read(d->data, end, &p, &t, where, d->detail, d->detail_len)) != 0)
            break;
        if (!scb__tlv_child_allowed(SCB__TLV_MULTIPLE_RESOURCE, t.type))
            rc = fail_nesting(d, where, SCB__TLV_MULTIPLE_RESOURCE, &t);
        else if (seen_set(d, SEEN_RINSTANCE, t.id))
            rc = fail_duplicate(d, where, &t);
        else
            rc = append_resource_instance(r, t.id, d->data + t.value_offset, t.len);
        rc = rc < 0 ? rc : SCB_OK;
    }
    for (size_t i = 0; i < r->ninst; i++)
        seen_clear(d, SEEN_RINSTANCE, r->inst[i].id);
    return rc;
}

static int decode_instance(decoder_t *d, bs_inst_t *in, const scb__tlv_t *parent,
                           const char *where)
{
    size_t p = parent->value_offset, end = parent->value_offset + parent->len;
    int rc = SCB_OK;
    while (rc == SCB_OK && p < end) {
        scb__tlv_t t;
        if ((rc = scb__tlv_read(d->data, end, &p, &t, where, d->detail, d->detail_len)) != 0)
            break;
        if (!scb__tlv_child_allowed(SCB__TLV_OBJECT_INSTANCE, t.type)) {
            rc = fail_nesting(d, where, SCB__TLV_OBJECT_INSTANCE, &t);
        } else if (seen_set(d, SEEN_RESOURCE, t.id)) {
            rc = fail_duplicate(d, where, &t);
        } else if (t.type == SCB__TLV_RESOURCE) {
            rc = append_resource(in, t.id, false, d->data + t.value_offset, t.len);
        } else {
            rc = append_resource(in, t.id, true, NULL, 0);
            if (rc >= 0) {
                char sub[48];
                snprintf(sub, sizeof(sub), "%.24s/%u", where, t.id);
                rc = decode_multiple(d, &in->res[rc], &t, sub);
            }
        }
        rc = rc < 0 ? rc : SCB_OK;
    }
    for (size_t i = 0; i < in->nres; i++)
        seen_clear(d, SEEN_RESOURCE, in->res[i].id);
    return rc;
}

static int decode_object(decoder_t *d, bs_obj_t *o, size_t start, size_t end)
{
    char where[48];
    snprintf(where, sizeof(where), "/%u", o->id);
    size_t p = start;
    int rc = SCB_OK;
    while (rc == SCB_OK && p < end) {
        scb__tlv_t t;
        if ((rc = scb__tlv_read(d->data, end, &p, &t, where, d->detail, d->detail_len)) != 0)
            break;
        if (!scb__tlv_child_allowed(SCB__TLV_OBJECT, t.type)) {
            rc = fail_nesting(d, where, SCB__TLV_OBJECT, &t);
        } else if (seen_set(d, SEEN_INSTANCE, t.id)) {
            rc = fail_duplicate(d, where, &t);
        } else if ((rc = append_instance(o, t.id)) >= 0) {
            char sub[48];
            snprintf(sub, sizeof(sub), "/%u/%u", o->id, t.id);
            rc = decode_instance(d, &o->inst[rc], &t, sub);
        }
        rc = rc < 0 ? rc : SCB_OK;
    }
    for (size_t i = 0; i < o->ninst; i++)
        seen_clear(d, SEEN_INSTANCE, o->inst[i].id);
    return rc;
}

static bool all_ff(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0xFF)
            return false;
    return true;
}

static int decode_objects(decoder_t *d, scb_bootstrap_t *bs, size_t len)
{
    const uint8_t *data = d->data;
    if (len < 4)
        return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                           "header: %zu byte(s), need 4 (object count, size)", len);
    unsigned nobjects = be16(data), size = be16(data + 2);
    if (all_ff(data, len))
        return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                           "header: the file is blank (all %zu bytes FF)", len);
    if (scb__bs_header_incomplete(data))
        return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                           "header FF FF FF FF: the file is marked incomplete (a write was "
                           "interrupted): write it again");
    if (size > len - 4) {
        return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                           "header: size %u runs past the end of the data (%zu bytes after "
                           "the header)",
                           size, len - 4);
    }
    size_t p = 4, end = 4 + (size_t)size;
    unsigned count = 0;
    while (p < end) {
        const size_t at = p;
        if (++count > nobjects)
            return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                               "header: object count %u, but object %u starts at offset %zu "
                               "within size %u",
                               nobjects, count, at, size);
        if (end - p < 5)
            return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                               "object %u at offset %zu: header truncated (%zu byte(s) left "
                               "within size %u)",
                               count, at, end - p, size);
        uint16_t id = be16(data + p);
        uint8_t vmaj = data[p + 2], vmin = 0;
        p += 3;
        if (vmaj != 0) /* a minor byte follows a non-zero major */
            vmin = data[p++];
        if (end - p < 2)
            return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                               "object /%u at offset %zu: header truncated (%zu byte(s) left "
                               "within size %u)",
                               id, at, end - at, size);
        size_t olen = be16(data + p);
        p += 2;
        if (olen > end - p)
            return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                               "object /%u at offset %zu: length %zu runs past the declared "
                               "size (%zu byte(s) left)",
                               id, at, olen, end - p);
        if (seen_set(d, SEEN_OBJECT, id))
            return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                               "object /%u at offset %zu: object %u appears twice", id, at, id);
        int oi = append_object(bs, id, vmaj, vmin);
        if (oi < 0)
            return oi;
        int rc = decode_object(d, &bs->obj[oi], p, p + olen);
        if (rc != SCB_OK)
            return rc;
        p += olen;
    }
    if (count != nobjects)
        return scb__detail(d->detail, d->detail_len, SCB_E_PARSE,
                           "header: object count %u, but the %u byte(s) of content hold %u "
                           "object(s)",
                           nobjects, size, count);
    return SCB_OK;
}

int scb_bootstrap_decode(scb_bootstrap_t **out, const uint8_t *data, size_t len, char *detail,
                         size_t detail_len)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    *out = NULL;
    if (data == NULL && len > 0)
        return SCB_E_INVALID_ARG;
    if (detail != NULL && detail_len > 0)
        detail[0] = 0;
    if (len > SCB_MAX_FILE_SIZE)
        return scb__detail(detail, detail_len, SCB_E_FILE_TOO_LARGE,
                           "bootstrap file of %zu bytes exceeds the %u-byte limit", len,
                           SCB_MAX_FILE_SIZE);
    scb_bootstrap_t *bs = NULL;
    int rc = scb_bootstrap_new(&bs);
    if (rc != SCB_OK)
        return scb__detail(detail, detail_len, rc, "out of memory decoding %zu bytes", len);
    decoder_t d = {data, detail, detail_len, calloc(SEEN_LEVELS, sizeof(*d.seen))};
    if (d.seen == NULL) {
        rc = SCB_E_NOMEM;
    } else if ((rc = decode_objects(&d, bs, len)) == SCB_OK && len > 0) {
        if ((bs->raw = malloc(len)) == NULL) {
            rc = SCB_E_NOMEM;
        } else {
            memcpy(bs->raw, data, len);
            bs->raw_len = len;
        }
    }
    free(d.seen);
    if (rc != SCB_OK) {
        scb_bootstrap_free(&bs);
        if (rc == SCB_E_NOMEM)
            scb__detail(detail, detail_len, rc, "out of memory decoding %zu bytes", len);
        return rc;
    }
    *out = bs;
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* Encode                                                                    */
/* ------------------------------------------------------------------------ */
/* Content lengths, refusing anything that cannot fit the 32 KB file (which
 * also keeps every sum far from overflow). */
static int tlv_total(uint16_t id, size_t content, size_t *acc)
{
    size_t n = scb__tlv_header_size(id, content) + content;
    if (content > SCB_MAX_FILE_SIZE || n > SCB_MAX_FILE_SIZE - *acc)
        return SCB_E_FILE_TOO_LARGE;
    *acc += n;
    return SCB_OK;
}

static int res_content(const bs_res_t *r, size_t *out)
{
    *out = 0;
    if (!r->multiple)
        return r->len > SCB_MAX_FILE_SIZE ? SCB_E_FILE_TOO_LARGE : (*out = r->len, SCB_OK);
    for (size_t i = 0; i < r->ninst; i++) {
        int rc = tlv_total(r->inst[i].id, r->inst[i].len, out);
        if (rc != SCB_OK)
            return rc;
    }
    return SCB_OK;
}

static int inst_content(const bs_inst_t *in, size_t *out)
{
    *out = 0;
    for (size_t r = 0; r < in->nres; r++) {
        size_t c;
        int rc = res_content(&in->res[r], &c);
        if (rc == SCB_OK)
            rc = tlv_total(in->res[r].id, c, out);
        if (rc != SCB_OK)
            return rc;
    }
    return SCB_OK;
}

static int obj_content(const bs_obj_t *o, size_t *out)
{
    *out = 0;
    for (size_t i = 0; i < o->ninst; i++) {
        size_t c;
        int rc = inst_content(&o->inst[i], &c);
        if (rc == SCB_OK)
            rc = tlv_total(o->inst[i].id, c, out);
        if (rc != SCB_OK)
            return rc;
    }
    return SCB_OK;
}

static size_t object_header_size(const bs_obj_t *o)
{
    return 2 + (o->vmaj != 0 ? 2 : 1) + 2;
}

static int encoded_size(const scb_bootstrap_t *bs, size_t *out)
{
    size_t total = 4;
    for (size_t o = 0; o < bs->nobj; o++) {
        size_t c;
        int rc = obj_content(&bs->obj[o], &c);
        if (rc != SCB_OK)
            return rc;
        size_t n = object_header_size(&bs->obj[o]) + c;
        if (n > SCB_MAX_FILE_SIZE - total)
            return SCB_E_FILE_TOO_LARGE;
        total += n;
    }
    *out = total;
    return SCB_OK;
}

static size_t put_tlv(uint8_t *buf, int type, uint16_t id, const uint8_t *v, size_t len)
{
    size_t h = scb__tlv_write_header(buf, type, id, len);
    if (len > 0)
        memcpy(buf + h, v, len);
    return h + len;
}

/* Writes one object (sizes were checked by encoded_size). */
static size_t put_object(uint8_t *buf, const bs_obj_t *o)
{
    size_t p = 0, c;
    buf[p++] = (uint8_t)(o->id >> 8);
    buf[p++] = (uint8_t)o->id;
    buf[p++] = o->vmaj;
    if (o->vmaj != 0)
        buf[p++] = o->vmin;
    obj_content(o, &c);
    buf[p++] = (uint8_t)(c >> 8);
    buf[p++] = (uint8_t)c;
    for (size_t i = 0; i < o->ninst; i++) {
        const bs_inst_t *in = &o->inst[i];
        inst_content(in, &c);
        p += scb__tlv_write_header(buf + p, SCB__TLV_OBJECT_INSTANCE, in->id, c);
        for (size_t r = 0; r < in->nres; r++) {
            const bs_res_t *res = &in->res[r];
            if (!res->multiple) {
                p += put_tlv(buf + p, SCB__TLV_RESOURCE, res->id, res->value, res->len);
                continue;
            }
            res_content(res, &c);
            p += scb__tlv_write_header(buf + p, SCB__TLV_MULTIPLE_RESOURCE, res->id, c);
            for (size_t k = 0; k < res->ninst; k++)
                p += put_tlv(buf + p, SCB__TLV_RESOURCE_INSTANCE, res->inst[k].id,
                             res->inst[k].value, res->inst[k].len);
        }
    }
    return p;
}

int scb_bootstrap_encode(const scb_bootstrap_t *bs, uint8_t *buf, size_t *len)
{
    if (bs == NULL || len == NULL)
        return SCB_E_INVALID_ARG;
    size_t total;
    int rc = encoded_size(bs, &total);
    if (rc != SCB_OK)
        return rc;
    if (buf == NULL || *len < total) {
        *len = total;
        return SCB_E_BUFFER_TOO_SMALL;
    }
    size_t p = 4;
    for (size_t o = 0; o < bs->nobj; o++)
        p += put_object(buf + p, &bs->obj[o]);
    buf[0] = (uint8_t)(bs->nobj >> 8);
    buf[1] = (uint8_t)bs->nobj;
    buf[2] = (uint8_t)((total - 4) >> 8);
    buf[3] = (uint8_t)(total - 4);
    *len = total;
    return p == total ? SCB_OK : SCB_E_INTERNAL;
}

int scb_bootstrap_digest(const scb_bootstrap_t *bs, uint8_t digest[32])
{
    if (bs == NULL || digest == NULL)
        return SCB_E_INVALID_ARG;
    size_t len;
    int rc = encoded_size(bs, &len);
    if (rc != SCB_OK)
        return rc;
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        return SCB_E_NOMEM;
    rc = scb_bootstrap_encode(bs, buf, &len);
    if (rc == SCB_OK)
        rc = scb__sha256(buf, len, digest);
    scb__cleanse(buf, len); /* the file holds keys */
    free(buf);
    return rc;
}

int scb_bootstrap_raw(const scb_bootstrap_t *bs, const uint8_t **data, size_t *len)
{
    if (bs == NULL || data == NULL || len == NULL)
        return SCB_E_INVALID_ARG;
    *data = bs->raw;
    *len = bs->raw_len;
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* Tree access                                                               */
/* ------------------------------------------------------------------------ */
size_t scb_bootstrap_object_count(const scb_bootstrap_t *bs)
{
    return bs != NULL ? bs->nobj : 0;
}

int scb_bootstrap_object(const scb_bootstrap_t *bs, size_t oi, scb_bs_object_t *out)
{
    const bs_obj_t *o = object_at(bs, oi);
    if (o == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    out->id = o->id;
    out->version_major = o->vmaj;
    out->version_minor = o->vmin;
    out->instance_count = o->ninst;
    return SCB_OK;
}

int scb_bootstrap_instance(const scb_bootstrap_t *bs, size_t oi, size_t ii,
                           scb_bs_instance_t *out)
{
    const bs_inst_t *in = instance_at(bs, oi, ii);
    if (in == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    out->id = in->id;
    out->resource_count = in->nres;
    return SCB_OK;
}

int scb_bootstrap_resource(const scb_bootstrap_t *bs, size_t oi, size_t ii, size_t ri,
                           scb_bs_resource_t *out)
{
    const bs_res_t *r = resource_at(bs, oi, ii, ri);
    if (r == NULL || out == NULL)
        return SCB_E_INVALID_ARG;
    out->id = r->id;
    out->multiple = r->multiple;
    out->value = r->value;
    out->value_len = r->len;
    out->instance_count = r->ninst;
    return SCB_OK;
}

int scb_bootstrap_resource_instance(const scb_bootstrap_t *bs, size_t oi, size_t ii, size_t ri,
                                    size_t rii, uint16_t *id, const uint8_t **value,
                                    size_t *value_len)
{
    const bs_res_t *r = resource_at(bs, oi, ii, ri);
    if (r == NULL || !r->multiple || rii >= r->ninst || id == NULL || value == NULL ||
        value_len == NULL)
        return SCB_E_INVALID_ARG;
    *id = r->inst[rii].id;
    *value = r->inst[rii].value;
    *value_len = r->inst[rii].len;
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* Typed views                                                               */
/* ------------------------------------------------------------------------ */
static const bs_obj_t *find_object(const scb_bootstrap_t *bs, uint16_t id)
{
    for (size_t i = 0; bs != NULL && i < bs->nobj; i++)
        if (bs->obj[i].id == id)
            return &bs->obj[i];
    return NULL;
}

static int view_string(const bs_res_t *r, const char **out)
{
    if (scb_value_check_string(r->value, r->len) != SCB_OK)
        return SCB_E_PARSE;
    *out = (const char *)r->value; /* NUL-terminated by dup_value */
    return SCB_OK;
}

static int view_opaque(const bs_res_t *r, const uint8_t **out, size_t *len)
{
    *out = r->value;
    *len = r->len;
    return SCB_OK;
}

static int view_bool(const bs_res_t *r, int *out)
{
    return scb_value_to_bool(r->value, r->len, out);
}

static int view_int(const bs_res_t *r, int64_t *out)
{
    return scb_value_to_int(r->value, r->len, out);
}


size_t scb_bootstrap_security_count(const scb_bootstrap_t *bs)
{
    const bs_obj_t *o = find_object(bs, 0);
    return o != NULL ? o->ninst : 0;
}

int scb_bootstrap_security(const scb_bootstrap_t *bs, size_t i, scb_security_t *out)
{
    const bs_obj_t *o = find_object(bs, 0);
    if (out == NULL || o == NULL || i >= o->ninst)
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    const bs_inst_t *in = &o->inst[i];
    out->instance_id = in->id;
    for (size_t k = 0; k < in->nres; k++) {
        const bs_res_t *r = &in->res[k];
        if (r->id > 12)
            continue; /* later resources: through the tree API */
        int rc = SCB_E_PARSE; /* a multiple-instance resource where a value belongs */
        if (r->multiple)
            goto invalid;
        out->present |= 1u << r->id;
        switch (r->id) {
        case 0: rc = view_string(r, &out->server_uri); break;
        case 1: rc = view_bool(r, &out->bootstrap_server); break;
        case 2: rc = view_int(r, &out->security_mode); break;
        case 3:
            rc = view_opaque(r, &out->public_key_or_identity,
                             &out->public_key_or_identity_len);
            break;
        case 4: rc = view_opaque(r, &out->server_public_key, &out->server_public_key_len); break;
        case 5: rc = view_opaque(r, &out->secret_key, &out->secret_key_len); break;
        case 6: rc = view_int(r, &out->sms_security_mode); break;
        case 7:
            rc = view_opaque(r, &out->sms_binding_key_params, &out->sms_binding_key_params_len);
            break;
        case 8:
            rc = view_opaque(r, &out->sms_binding_secret_keys,
                             &out->sms_binding_secret_keys_len);
            break;
        case 9: rc = view_string(r, &out->sms_server_number); break;
        case 10: rc = view_int(r, &out->short_server_id); break;
        case 11: rc = view_int(r, &out->client_hold_off_time); break;
        default: rc = view_int(r, &out->bootstrap_server_account_timeout); break;
        }
        if (rc != SCB_OK)
            goto invalid;
    }
    return SCB_OK;
invalid:
    memset(out, 0, sizeof(*out));
    return SCB_E_PARSE;
}

size_t scb_bootstrap_server_count(const scb_bootstrap_t *bs)
{
    const bs_obj_t *o = find_object(bs, 1);
    return o != NULL ? o->ninst : 0;
}

int scb_bootstrap_server(const scb_bootstrap_t *bs, size_t i, scb_server_t *out)
{
    const bs_obj_t *o = find_object(bs, 1);
    if (out == NULL || o == NULL || i >= o->ninst)
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    const bs_inst_t *in = &o->inst[i];
    out->instance_id = in->id;
    for (size_t k = 0; k < in->nres; k++) {
        const bs_res_t *r = &in->res[k];
        if (r->id > 7 || r->id == 4)
            continue; /* 4 is Execute; later resources: through the tree API */
        int rc = SCB_E_PARSE; /* a multiple-instance resource where a value belongs */
        if (r->multiple)
            goto invalid;
        out->present |= 1u << r->id;
        switch (r->id) {
        case 0: rc = view_int(r, &out->short_server_id); break;
        case 1: rc = view_int(r, &out->lifetime); break;
        case 2: rc = view_int(r, &out->default_min_period); break;
        case 3: rc = view_int(r, &out->default_max_period); break;
        case 5: rc = view_int(r, &out->disable_timeout); break;
        case 6: rc = view_bool(r, &out->notification_storing); break;
        default: rc = view_string(r, &out->binding); break;
        }
        if (rc != SCB_OK)
            goto invalid;
    }
    return SCB_OK;
invalid:
    memset(out, 0, sizeof(*out));
    return SCB_E_PARSE;
}
