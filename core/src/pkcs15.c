/*
 * PKCS#15 (ISO/IEC 7816-15) parsers for the files on the way to the LwM2M
 * bootstrap EF: EF.DIR (application templates), EF.ODF (paths of the
 * object directories), EF.DODF (data objects) and EF.AODF (the PIN that
 * guards a private entry). LwM2M Core TS, appendix
 * "Storage of LwM2M Bootstrap Information on the Smartcard"; see
 * docs/lwm2m-card.md for what real cards do differently.
 */
#include "der.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* RID A0 00 00 00 63 + PIX "PKCS-15" */
static const uint8_t pkcs15_aid[SCB_PKCS15_AID_LEN] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                                       0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
/* 2.23.43.9.1, content octets of the OID */
static const uint8_t bootstrap_oid[] = {0x67, 0x2B, 0x09, 0x01};
/* The spec's example (and live cards) put the whole OID TLV inside the OID:
 * 06 06 06 04 67 2B 09 01. */
static const uint8_t bootstrap_oid_tlv[] = {0x06, 0x04, 0x67, 0x2B, 0x09, 0x01};

const uint8_t *scb_pkcs15_default_aid(void)
{
    return pkcs15_aid;
}

/* A label for display: control characters and invalid UTF-8 become '?',
 * and truncation never splits a character. */
static void copy_label(char *out, size_t cap, const uint8_t *in, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = scb__utf8_char_len(in + i, len - i);
        if (n == 0 || (n == 1 && (in[i] < 0x20 || in[i] == 0x7F))) {
            if (o + 1 >= cap)
                break;
            out[o++] = '?';
            i++;
            continue;
        }
        if (o + n >= cap)
            break;
        memcpy(out + o, in + i, n);
        o += n;
        i += n;
    }
    out[o] = 0;
}

/* ------------------------------------------------------------------------ */
/* EF.DIR                                                                    */
/* ------------------------------------------------------------------------ */
/* One application template 61 { 4F AID, 50 label, 51 path, ... }. */
static int parse_template(const scb__der_t *d, const scb__der_tlv_t *t, unsigned n,
                          scb_app_template_t *app)
{
    char what[64];
    snprintf(what, sizeof(what), "EF.DIR template %u", n);
    scb__der_t c;
    int rc = scb__der_enter(d, t, &c, what);
    if (rc != SCB_OK)
        return rc;
    while (scb__der_more(&c)) {
        scb__der_tlv_t e;
        if ((rc = scb__der_next(&c, &e)) != SCB_OK)
            return rc;
        switch (e.tag) {
        case 0x4F:
            if (e.len < 1 || e.len > sizeof(app->aid))
                return scb__der_fail(&c, SCB_E_PARSE, e.offset,
                                     "AID (4F) of %zu bytes, expected 1..16", e.len);
            if (app->aid_len == 0) {
                memcpy(app->aid, e.value, e.len);
                app->aid_len = e.len;
            }
            break;
        case 0x50:
            if (app->label[0] == 0)
                copy_label(app->label, sizeof(app->label), e.value, e.len);
            break;
        case 0x51:
            if (e.len > sizeof(app->path.bytes))
                return scb__der_fail(&c, SCB_E_PARSE, e.offset,
                                     "path (51) of %zu bytes, at most 16 supported", e.len);
            if (app->path.len == 0) {
                memcpy(app->path.bytes, e.value, e.len);
                app->path.len = e.len;
            }
            break;
        default: /* 52 command, 53/73 discretionary data: not needed */
            break;
        }
    }
    return SCB_OK;
}

int scb_pkcs15_parse_dir(const uint8_t *data, size_t len, scb_app_template_t *out,
                         char *detail, size_t detail_len)
{
    if ((data == NULL && len > 0) || out == NULL)
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    scb__der_t d;
    scb__der_init(&d, data, len, "EF.DIR", detail, detail_len);
    unsigned templates = 0;
    scb__der_tlv_t t;
    int rc;
    while ((rc = scb__der_next_object(&d, &t)) > 0) {
        if (t.tag != 0x61)
            continue; /* a transparent EF.DIR may hold other data objects */
        scb_app_template_t app;
        memset(&app, 0, sizeof(app));
        if ((rc = parse_template(&d, &t, ++templates, &app)) != SCB_OK)
            return rc;
        if (app.aid_len >= SCB_PKCS15_AID_LEN &&
            memcmp(app.aid, pkcs15_aid, SCB_PKCS15_AID_LEN) == 0) {
            *out = app;
            return SCB_OK;
        }
    }
    if (rc < 0)
        return rc;
    return scb__detail(detail, detail_len, SCB_E_NOT_FOUND,
                       "EF.DIR: no PKCS#15 application (AID A0 00 00 00 63 50 4B 43 53 2D 31 "
                       "35) among %u template(s)",
                       templates);
}

/* ------------------------------------------------------------------------ */
/* Path                                                                      */
/* ------------------------------------------------------------------------ */
/* Path ::= SEQUENCE { efidOrPath OCTET STRING, index INTEGER OPTIONAL,
 *                     length [0] INTEGER OPTIONAL }, index and length both
 * present or both absent (PKCS#15 v1.1 6.1.5, ISO/IEC 7816-15). */
static int parse_path(const scb__der_t *d, const scb__der_tlv_t *t, scb_path_t *out)
{
    if (t->tag != 0x30)
        return scb__der_fail(d, SCB_E_PARSE, t->offset, "expected a Path (30), found tag %X",
                             (unsigned)t->tag);
    scb__der_t c;
    int rc = scb__der_enter(d, t, &c, NULL);
    if (rc != SCB_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    scb__der_tlv_t e;
    if (!scb__der_more(&c))
        return scb__der_fail(&c, SCB_E_PARSE, t->offset, "empty Path");
    if ((rc = scb__der_next(&c, &e)) != SCB_OK)
        return rc;
    if (e.tag != 0x04)
        return scb__der_fail(&c, SCB_E_PARSE, e.offset,
                             "Path must start with an OCTET STRING (04), found tag %X",
                             (unsigned)e.tag);
    if (e.len == 0 || e.len % 2 != 0 || e.len > sizeof(out->bytes))
        return scb__der_fail(&c, SCB_E_PARSE, e.offset,
                             "path of %zu bytes: expected 1 to 8 two-byte file identifiers",
                             e.len);
    memcpy(out->bytes, e.value, e.len);
    out->len = e.len;

    bool has_index = false, has_length = false;
    while (scb__der_more(&c)) {
        if ((rc = scb__der_next(&c, &e)) != SCB_OK)
            return rc;
        if (e.tag == 0x02 && !has_index && !has_length) {
            if ((rc = scb__der_uint32(&c, &e, "Path index", &out->index)) != SCB_OK)
                return rc;
            has_index = true;
        } else if (e.tag == 0x80 && !has_length) {
            if ((rc = scb__der_uint32(&c, &e, "Path length", &out->length)) != SCB_OK)
                return rc;
            has_length = true;
        } else if (e.tag == 0x4F) {
            return scb__der_fail(&c, SCB_E_UNSUPPORTED, e.offset,
                                 "Path qualified by an AID (4F) is not supported");
        } else {
            return scb__der_fail(&c, SCB_E_PARSE, e.offset, "unexpected tag %X in a Path",
                                 (unsigned)e.tag);
        }
    }
    if (has_index != has_length)
        return scb__der_fail(&c, SCB_E_PARSE, t->offset,
                             "Path has %s without %s (both or neither)",
                             has_index ? "an index" : "a length",
                             has_index ? "a length" : "an index");
    out->has_range = has_index;
    return SCB_OK;
}

/* ------------------------------------------------------------------------ */
/* EF.ODF                                                                    */
/* ------------------------------------------------------------------------ */
/* Calls fn for each PKCS15Objects entry ([n] PathOrObjects) that holds a Path. */
typedef int (*odf_fn)(void *ctx, uint8_t tag, const scb_path_t *path);

static int walk_odf(const uint8_t *data, size_t len, char *detail, size_t detail_len,
                    odf_fn fn, void *ctx)
{
    scb__der_t d;
    scb__der_init(&d, data, len, "ODF", detail, detail_len);
    unsigned n = 0;
    scb__der_tlv_t t;
    int rc;
    while ((rc = scb__der_next_object(&d, &t)) > 0) {
        n++;
        /* PKCS15Objects is a CHOICE of [0] privateKeys .. [8] authObjects (later
         * editions add more): a one-byte context-specific constructed tag. */
        if (t.tag < 0xA0 || t.tag > 0xBE)
            return scb__der_fail(&d, SCB_E_PARSE, t.offset,
                                 "entry %u: tag %X is not a PKCS15Objects choice "
                                 "(A0..BE expected)",
                                 n, (unsigned)t.tag);
        char what[64];
        snprintf(what, sizeof(what), "ODF entry %u", n);
        scb__der_t c;
        if ((rc = scb__der_enter(&d, &t, &c, what)) != SCB_OK)
            return rc;
        if (!scb__der_more(&c))
            return scb__der_fail(&c, SCB_E_PARSE, t.offset, "empty entry");
        scb__der_tlv_t p;
        if ((rc = scb__der_next(&c, &p)) != SCB_OK)
            return rc;
        if (scb__der_more(&c))
            return scb__der_fail(&c, SCB_E_PARSE, c.pos,
                                 "unexpected data after the entry's first element");
        if (p.tag != 0x30)
            continue; /* objects held directly ([0] objects ...), no Path */
        scb_path_t path;
        if ((rc = parse_path(&c, &p, &path)) != SCB_OK)
            return rc;
        if ((rc = fn(ctx, (uint8_t)t.tag, &path)) != SCB_OK)
            return rc;
    }
    return rc;
}

typedef struct {
    scb_odf_entry_t *entries;
    scb_path_t *paths;
    size_t cap, found;
} odf_collect_t;

static int collect_entry(void *ctx, uint8_t tag, const scb_path_t *path)
{
    odf_collect_t *c = ctx;
    if (c->found < c->cap) {
        c->entries[c->found].tag = tag;
        c->entries[c->found].path = *path;
    }
    c->found++;
    return SCB_OK;
}

static int collect_data_path(void *ctx, uint8_t tag, const scb_path_t *path)
{
    odf_collect_t *c = ctx;
    if (tag != 0xA7) /* [7] dataObjects */
        return SCB_OK;
    if (c->found < c->cap)
        c->paths[c->found] = *path;
    c->found++;
    return SCB_OK;
}

static int finish_collect(const odf_collect_t *c, size_t *count, int rc)
{
    if (rc != SCB_OK)
        return rc;
    *count = c->found;
    return c->found > c->cap ? SCB_E_BUFFER_TOO_SMALL : SCB_OK;
}

int scb_pkcs15_parse_odf_entries(const uint8_t *data, size_t len, scb_odf_entry_t *entries,
                                 size_t *count, char *detail, size_t detail_len)
{
    if ((data == NULL && len > 0) || count == NULL || (entries == NULL && *count > 0))
        return SCB_E_INVALID_ARG;
    odf_collect_t c = {entries, NULL, *count, 0};
    return finish_collect(&c, count, walk_odf(data, len, detail, detail_len, collect_entry, &c));
}

int scb_pkcs15_parse_odf(const uint8_t *data, size_t len, scb_path_t *paths, size_t *count,
                         char *detail, size_t detail_len)
{
    if ((data == NULL && len > 0) || count == NULL || (paths == NULL && *count > 0))
        return SCB_E_INVALID_ARG;
    odf_collect_t c = {NULL, paths, *count, 0};
    return finish_collect(&c, count,
                          walk_odf(data, len, detail, detail_len, collect_data_path, &c));
}

/* ------------------------------------------------------------------------ */
/* EF.DODF                                                                   */
/* ------------------------------------------------------------------------ */
/* The parts of one PKCS15Object (PKCS#15 v1.1 6.3):
 *   SEQUENCE { commonObjectAttributes CommonObjectAttributes,
 *              classAttributes CommonDataObjectAttributes,
 *              subClassAttributes [0] OPTIONAL, typeAttributes [1] } */
typedef struct {
    scb__der_tlv_t common, klass, type;
    bool has_common, has_klass, has_type;
} pkcs15_object_t;

static int split_object(const scb__der_t *c0, pkcs15_object_t *o)
{
    scb__der_t c = *c0;
    memset(o, 0, sizeof(*o));
    while (scb__der_more(&c)) {
        scb__der_tlv_t e;
        int rc = scb__der_next(&c, &e);
        if (rc != SCB_OK)
            return rc;
        if (e.tag == 0x30 && !o->has_common) {
            o->common = e;
            o->has_common = true;
        } else if (e.tag == 0x30 && !o->has_klass) {
            o->klass = e;
            o->has_klass = true;
        } else if (e.tag == 0xA1 && !o->has_type) {
            o->type = e;
            o->has_type = true;
        }
        /* [0] subClassAttributes and extensions: not needed */
    }
    return SCB_OK;
}

static int oid_form(const uint8_t *v, size_t len)
{
    if (len == sizeof(bootstrap_oid) && memcmp(v, bootstrap_oid, len) == 0)
        return 1;
    if (len == sizeof(bootstrap_oid_tlv) && memcmp(v, bootstrap_oid_tlv, len) == 0)
        return 2;
    return 0;
}

/* First child with the given tag inside a constructed TLV. */
static int find_child(const scb__der_t *d, const scb__der_tlv_t *t, uint32_t tag,
                      scb__der_tlv_t *out, bool *found)
{
    scb__der_t c;
    int rc = scb__der_enter(d, t, &c, NULL);
    if (rc != SCB_OK)
        return rc;
    *found = false;
    while (scb__der_more(&c)) {
        if ((rc = scb__der_next(&c, out)) != SCB_OK)
            return rc;
        if (out->tag == tag) {
            *found = true;
            return SCB_OK;
        }
    }
    return SCB_OK;
}

/* The Path of a data object: typeAttributes [1] holds an ObjectValue
 * (opaqueDO, externalIDO) or an OidDO { id, value ObjectValue } (oidDO).
 * Only the indirect form "path Path" is supported. */
static int object_path(const scb__der_t *d, uint32_t entry_tag, const pkcs15_object_t *o,
                       scb_path_t *path)
{
    if (!o->has_type)
        return scb__der_fail(d, SCB_E_PARSE, d->pos, "typeAttributes [1] missing");
    scb__der_t c;
    int rc = scb__der_enter(d, &o->type, &c, NULL);
    if (rc != SCB_OK)
        return rc;
    scb__der_tlv_t v;
    if (!scb__der_more(&c))
        return scb__der_fail(&c, SCB_E_PARSE, o->type.offset, "empty typeAttributes");
    if ((rc = scb__der_next(&c, &v)) != SCB_OK)
        return rc;
    if (entry_tag == 0xA1) { /* OidDO ::= SEQUENCE { id, value } */
        if (v.tag != 0x30)
            return scb__der_fail(&c, SCB_E_PARSE, v.offset,
                                 "OidDO must be a SEQUENCE (30), found tag %X",
                                 (unsigned)v.tag);
        scb__der_t s;
        if ((rc = scb__der_enter(&c, &v, &s, NULL)) != SCB_OK)
            return rc;
        scb__der_tlv_t id;
        if ((rc = scb__der_next(&s, &id)) != SCB_OK)
            return rc;
        if (!scb__der_more(&s))
            return scb__der_fail(&s, SCB_E_PARSE, v.offset, "OidDO without a value");
        if ((rc = scb__der_next(&s, &v)) != SCB_OK)
            return rc;
        c = s;
    }
    if (v.tag != 0x30)
        return scb__der_fail(&c, SCB_E_UNSUPPORTED, v.offset,
                             "the object's value is not a Path (tag %X); only Paths are "
                             "supported",
                             (unsigned)v.tag);
    return parse_path(&c, &v, path);
}

/* label, flags, authId from CommonObjectAttributes. */
static int common_attributes(const scb__der_t *d, const pkcs15_object_t *o,
                             scb_dodf_entry_t *out)
{
    if (!o->has_common)
        return SCB_OK;
    scb__der_t c;
    int rc = scb__der_enter(d, &o->common, &c, NULL);
    if (rc != SCB_OK)
        return rc;
    while (scb__der_more(&c)) {
        scb__der_tlv_t e;
        if ((rc = scb__der_next(&c, &e)) != SCB_OK)
            return rc;
        if (e.tag == 0x0C && out->label[0] == 0) {
            copy_label(out->label, sizeof(out->label), e.value, e.len);
        } else if (e.tag == 0x03) {
            /* CommonObjectFlags ::= BIT STRING { private(0), modifiable(1) }:
             * first byte = unused bits, named bit 0 is the top bit. */
            if (e.len < 1 || e.value[0] > 7 || (e.len == 1 && e.value[0] != 0))
                return scb__der_fail(&c, SCB_E_PARSE, e.offset, "malformed flags BIT STRING");
            if (e.len > 1) {
                out->private_flag = (e.value[1] & 0x80) != 0;
                out->modifiable_flag = (e.value[1] & 0x40) != 0;
            }
        } else if (e.tag == 0x04 && !out->has_auth_id) {
            if (e.len > sizeof(out->auth_id))
                return scb__der_fail(&c, SCB_E_UNSUPPORTED, e.offset,
                                     "authId of %zu bytes, at most 8 supported", e.len);
            memcpy(out->auth_id, e.value, e.len);
            out->auth_id_len = e.len;
            out->has_auth_id = 1;
        }
    }
    return SCB_OK;
}

/* How the bootstrap OID appears in this object (0: it does not). */
static int match_object(const scb__der_t *d, uint32_t entry_tag, const pkcs15_object_t *o,
                        scb__der_tlv_t *oid, int *form)
{
    int rc;
    bool found;
    *form = SCB_OID_NONE;
    if (entry_tag == 0xA1 && o->has_type) { /* oidDO: typeAttributes [1] { OidDO } */
        scb__der_tlv_t seq;
        if ((rc = find_child(d, &o->type, 0x30, &seq, &found)) != SCB_OK)
            return rc;
        if (found) {
            if ((rc = find_child(d, &seq, 0x06, oid, &found)) != SCB_OK)
                return rc;
            int f = found ? oid_form(oid->value, oid->len) : 0;
            if (f != 0) {
                *form = f == 1 ? SCB_OID_DO_ID : SCB_OID_DO_ID_MISENCODED;
                return SCB_OK;
            }
        }
    }
    if (o->has_klass) { /* CommonDataObjectAttributes.applicationOID */
        if ((rc = find_child(d, &o->klass, 0x06, oid, &found)) != SCB_OK)
            return rc;
        int f = found ? oid_form(oid->value, oid->len) : 0;
        if (f != 0)
            *form = f == 1 ? SCB_OID_APPLICATION_OID : SCB_OID_APPLICATION_OID_MISENCODED;
    }
    return SCB_OK;
}

/* applicationName from CommonDataObjectAttributes (the spec's example puts
 * the label there). */
static int application_name(const scb__der_t *d, const pkcs15_object_t *o,
                            scb_dodf_entry_t *out)
{
    if (!o->has_klass || out->label[0] != 0)
        return SCB_OK;
    scb__der_tlv_t name;
    bool found;
    int rc = find_child(d, &o->klass, 0x0C, &name, &found);
    if (rc == SCB_OK && found)
        copy_label(out->label, sizeof(out->label), name.value, name.len);
    return rc;
}

int scb_pkcs15_find_bootstrap(const uint8_t *data, size_t len, scb_dodf_entry_t *out,
                              char *detail, size_t detail_len)
{
    if ((data == NULL && len > 0) || out == NULL)
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    scb__der_t d;
    scb__der_init(&d, data, len, "DODF", detail, detail_len);
    unsigned n = 0;
    scb__der_tlv_t t;
    int rc;
    while ((rc = scb__der_next_object(&d, &t)) > 0) {
        n++;
        /* DataType ::= CHOICE { opaqueDO, externalIDO [0], oidDO [1], ... } */
        if (t.tag != 0x30 && t.tag != 0xA0 && t.tag != 0xA1)
            continue;
        char what[64];
        snprintf(what, sizeof(what), "DODF entry %u", n);
        scb__der_t c;
        if ((rc = scb__der_enter(&d, &t, &c, what)) != SCB_OK)
            return rc;
        pkcs15_object_t o;
        if ((rc = split_object(&c, &o)) != SCB_OK)
            return rc;
        scb__der_tlv_t oid;
        int form;
        if ((rc = match_object(&c, t.tag, &o, &oid, &form)) != SCB_OK)
            return rc;
        if (form == SCB_OID_NONE)
            continue;
        out->oid_form = form;
        memcpy(out->oid_value, oid.value, oid.len); /* oid_form checked len <= 6 */
        out->oid_value_len = oid.len;
        if ((rc = object_path(&c, t.tag, &o, &out->path)) != SCB_OK ||
            (rc = common_attributes(&c, &o, out)) != SCB_OK ||
            (rc = application_name(&c, &o, out)) != SCB_OK) {
            memset(out, 0, sizeof(*out));
            return rc;
        }
        return SCB_OK;
    }
    if (rc < 0)
        return rc;
    return scb__detail(detail, detail_len, SCB_E_NO_BOOTSTRAP,
                       "DODF: no entry with the LwM2M bootstrap OID 2.23.43.9.1 among %u data "
                       "object(s)",
                       n);
}

/* ------------------------------------------------------------------------ */
/* EF.AODF                                                                   */
/* ------------------------------------------------------------------------ */
/* PKCS#15 v1.1 6.8 / ISO/IEC 7816-15 8.8:
 *   AuthenticationType ::= CHOICE { pin AuthenticationObject {PinAttributes},
 *       biometricTemplate [0], authKey [1], external [2], ... }
 *   AuthenticationObject ::= PKCS15Object { CommonAuthenticationObjectAttributes,
 *       NULL, PinAttributes }
 *   CommonAuthenticationObjectAttributes ::= SEQUENCE { authId Identifier,
 *       authReference Reference OPTIONAL, seIdentifier [0] OPTIONAL, ... }
 *   PinAttributes ::= SEQUENCE { pinFlags PinFlags, pinType PinType,
 *       minLength INTEGER, storedLength INTEGER, maxLength INTEGER OPTIONAL,
 *       pinReference [0] Reference DEFAULT 0, padChar OCTET STRING (SIZE(1))
 *       OPTIONAL, lastPinChange GeneralizedTime OPTIONAL, path Path OPTIONAL,
 *       ... } */

/* A BIT STRING of named bits (X.690 8.6): named bit n becomes 1 << n.
 * Bits past 31 are not named by any edition; more than 4 bytes of bits
 * are refused. */
static int named_bits(const scb__der_t *d, const scb__der_tlv_t *t, const char *field,
                      uint32_t *out)
{
    if (t->len < 1 || t->len > 5 || t->value[0] > 7 || (t->len == 1 && t->value[0] != 0))
        return scb__der_fail(d, SCB_E_PARSE, t->offset, "%s: malformed BIT STRING", field);
    uint32_t bits = 0;
    for (size_t i = 1; i < t->len; i++)
        for (unsigned b = 0; b < 8; b++)
            if (t->value[i] & (0x80u >> b))
                bits |= 1u << ((i - 1) * 8 + b);
    *out = bits;
    return SCB_OK;
}

/* pinReference [0] Reference (INTEGER 0..255). OpenSC before 0.11.5 and
 * some issuers' cards encode a reference with the top bit set (a local
 * PIN, 81..8E) as one byte, a negative INTEGER in DER: that byte is the
 * reference they mean, as OpenSC reads it too. */
static int pin_reference(const scb__der_t *d, const scb__der_tlv_t *t, uint8_t *out)
{
    if (t->len == 1) {
        *out = t->value[0];
        return SCB_OK;
    }
    uint32_t v;
    int rc = scb__der_uint32(d, t, "pinReference", &v);
    if (rc != SCB_OK)
        return rc;
    if (v > 0xFF)
        return scb__der_fail(d, SCB_E_PARSE, t->offset, "pinReference %u is over 255",
                             (unsigned)v);
    *out = (uint8_t)v;
    return SCB_OK;
}

/* The length fields of PinAttributes: non-negative INTEGERs; no edition
 * allows a PIN over 255 characters (pkcs15-ub-*PinLength). */
static int pin_length(const scb__der_t *d, const scb__der_tlv_t *t, const char *field,
                      uint32_t *out)
{
    int rc = scb__der_uint32(d, t, field, out);
    if (rc == SCB_OK && *out > 255)
        return scb__der_fail(d, SCB_E_PARSE, t->offset, "%s %u is over 255", field,
                             (unsigned)*out);
    return rc;
}

/* PinAttributes, strictly: the four mandatory fields in order, then the
 * optional ones in their order, each at most once; later tags are
 * extensions (the ASN.1 has an extension marker) and are skipped. */
static int pin_attributes(const scb__der_t *d, const scb__der_tlv_t *seq, scb_pin_object_t *out)
{
    scb__der_t c;
    int rc = scb__der_enter(d, seq, &c, NULL);
    if (rc != SCB_OK)
        return rc;
    static const struct {
        uint32_t tag;
        const char *name;
    } fields[] = {{0x03, "pinFlags"},   {0x0A, "pinType"},      {0x02, "minLength"},
                  {0x02, "storedLength"}, {0x02, "maxLength"},  {0x80, "pinReference"},
                  {0x04, "padChar"},    {0x18, "lastPinChange"}, {0x30, "path"}};
    size_t next = 0; /* index of the next field that may come */
    while (scb__der_more(&c)) {
        scb__der_tlv_t e;
        if ((rc = scb__der_next(&c, &e)) != SCB_OK)
            return rc;
        size_t f = next;
        while (f < SCB_ARRAY_LEN(fields) && fields[f].tag != e.tag) {
            if (f < 4) /* the mandatory ones cannot be left out */
                return scb__der_fail(&c, SCB_E_PARSE, e.offset,
                                     "PinAttributes: %s expected, found tag %X",
                                     fields[f].name, (unsigned)e.tag);
            f++;
        }
        if (f == SCB_ARRAY_LEN(fields)) {
            for (size_t k = 0; k < next; k++)
                if (fields[k].tag == e.tag)
                    return scb__der_fail(&c, SCB_E_PARSE, e.offset,
                                         "PinAttributes: tag %X out of order or repeated",
                                         (unsigned)e.tag);
            continue; /* an extension */
        }
        next = f + 1;
        switch (f) {
        case 0: rc = named_bits(&c, &e, "pinFlags", &out->flags); break;
        case 1: {
            /* PinType ::= ENUMERATED {bcd, ascii-numeric, utf8, half-nibble-bcd,
             * iso9564-1, ...}: later values are kept for the caller to refuse. */
            uint32_t v;
            rc = scb__der_uint32(&c, &e, "pinType", &v);
            if (rc == SCB_OK && v > 0xFF)
                rc = scb__der_fail(&c, SCB_E_PARSE, e.offset, "pinType %u unknown",
                                   (unsigned)v);
            out->pin_type = (int)v;
            break;
        }
        case 2: rc = pin_length(&c, &e, "minLength", &out->min_length); break;
        case 3: rc = pin_length(&c, &e, "storedLength", &out->stored_length); break;
        case 4:
            rc = pin_length(&c, &e, "maxLength", &out->max_length);
            out->has_max_length = 1;
            break;
        case 5:
            rc = pin_reference(&c, &e, &out->reference);
            out->has_reference = 1;
            break;
        case 6:
            if (e.len != 1)
                return scb__der_fail(&c, SCB_E_PARSE, e.offset,
                                     "padChar of %zu bytes, expected 1", e.len);
            out->pad_char = e.value[0];
            out->has_pad_char = 1;
            break;
        case 7: break; /* lastPinChange: not needed */
        default: rc = parse_path(&c, &e, &out->path); break;
        }
        if (rc != SCB_OK)
            return rc;
    }
    if (next < 4)
        return scb__der_fail(&c, SCB_E_PARSE, seq->offset, "PinAttributes without %s",
                             fields[next].name);
    if (out->has_max_length && out->min_length > out->max_length)
        return scb__der_fail(&c, SCB_E_PARSE, seq->offset,
                             "PinAttributes: minLength %u above maxLength %u",
                             (unsigned)out->min_length, (unsigned)out->max_length);
    return SCB_OK;
}

/* CommonAuthenticationObjectAttributes.authId (an OCTET STRING first). */
static int auth_id_of(const scb__der_t *d, const pkcs15_object_t *o, scb__der_tlv_t *id)
{
    if (!o->has_klass)
        return scb__der_fail(d, SCB_E_PARSE, d->pos,
                             "CommonAuthenticationObjectAttributes missing");
    scb__der_t c;
    int rc = scb__der_enter(d, &o->klass, &c, NULL);
    if (rc != SCB_OK)
        return rc;
    if (!scb__der_more(&c))
        return scb__der_fail(&c, SCB_E_PARSE, o->klass.offset,
                             "CommonAuthenticationObjectAttributes without an authId");
    if ((rc = scb__der_next(&c, id)) != SCB_OK)
        return rc;
    if (id->tag != 0x04)
        return scb__der_fail(&c, SCB_E_PARSE, id->offset,
                             "authId must be an OCTET STRING (04), found tag %X",
                             (unsigned)id->tag);
    return SCB_OK;
}

/* One PIN object, whole: label, authId, PinAttributes. */
static int pin_object(const scb__der_t *c, const pkcs15_object_t *o, const scb__der_tlv_t *id,
                      scb_pin_object_t *out)
{
    memset(out, 0, sizeof(*out));
    if (id->len > sizeof(out->auth_id))
        return scb__der_fail(c, SCB_E_UNSUPPORTED, id->offset,
                             "authId of %zu bytes, at most 8 supported", id->len);
    memcpy(out->auth_id, id->value, id->len);
    out->auth_id_len = id->len;
    int rc;
    if (o->has_common) {
        scb__der_tlv_t label;
        bool found;
        if ((rc = find_child(c, &o->common, 0x0C, &label, &found)) != SCB_OK)
            return rc;
        if (found)
            copy_label(out->label, sizeof(out->label), label.value, label.len);
    }
    if (!o->has_type)
        return scb__der_fail(c, SCB_E_PARSE, c->pos, "typeAttributes [1] missing");
    scb__der_t t;
    if ((rc = scb__der_enter(c, &o->type, &t, NULL)) != SCB_OK)
        return rc;
    scb__der_tlv_t seq;
    if (!scb__der_more(&t))
        return scb__der_fail(&t, SCB_E_PARSE, o->type.offset, "empty typeAttributes");
    if ((rc = scb__der_next(&t, &seq)) != SCB_OK)
        return rc;
    if (seq.tag != 0x30)
        return scb__der_fail(&t, SCB_E_PARSE, seq.offset,
                             "PinAttributes must be a SEQUENCE (30), found tag %X",
                             (unsigned)seq.tag);
    return pin_attributes(&t, &seq, out);
}

int scb_pkcs15_find_pin(const uint8_t *data, size_t len, const uint8_t *auth_id,
                        size_t auth_id_len, scb_pin_object_t *out, char *detail,
                        size_t detail_len)
{
    if ((data == NULL && len > 0) || out == NULL || (auth_id == NULL && auth_id_len > 0))
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    scb__der_t d;
    scb__der_init(&d, data, len, "AODF", detail, detail_len);
    unsigned n = 0, pins = 0;
    scb__der_tlv_t t;
    int rc;
    while ((rc = scb__der_next_object(&d, &t)) > 0) {
        n++;
        if (t.tag != 0x30)
            continue; /* biometricTemplate [0], authKey [1], external [2], later choices */
        pins++;
        char what[64];
        snprintf(what, sizeof(what), "AODF entry %u", n);
        scb__der_t c;
        if ((rc = scb__der_enter(&d, &t, &c, what)) != SCB_OK)
            return rc;
        pkcs15_object_t o;
        scb__der_tlv_t id;
        if ((rc = split_object(&c, &o)) != SCB_OK || (rc = auth_id_of(&c, &o, &id)) != SCB_OK)
            return rc;
        if (auth_id != NULL &&
            (id.len != auth_id_len || memcmp(id.value, auth_id, auth_id_len) != 0))
            continue;
        if ((rc = pin_object(&c, &o, &id, out)) != SCB_OK)
            memset(out, 0, sizeof(*out));
        return rc;
    }
    if (rc < 0)
        return rc;
    if (auth_id == NULL)
        return scb__detail(detail, detail_len, SCB_E_NOT_FOUND,
                           "AODF: no PIN object among %u authentication object(s)", n);
    char hex[2 * 8 + 1];
    scb__hex(auth_id, auth_id_len < 8 ? auth_id_len : 8, hex, sizeof(hex), false);
    return scb__detail(detail, detail_len, SCB_E_NOT_FOUND,
                       "AODF: no PIN object with authId %s%s among %u PIN object(s)", hex,
                       auth_id_len > 8 ? ".." : "", pins);
}

/* A Path inside the PKCS#15 application (ISO 7816-15 Path, LwM2M Core
 * Appendix G): a 2-byte FID is relative to the ADF; 7FFF is "the current
 * application" and is dropped; 3F00.. starts at the MF; anything else is
 * relative to the current DF. */
int scb_pkcs15_path_select(const uint8_t *path, size_t len, scb_path_select_t *out)
{
    if (out == NULL)
        return SCB_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (path == NULL || len < 2 || len % 2 != 0 || len > sizeof(out->path))
        return SCB_E_PARSE;
    if (len >= 4 && path[0] == 0x7F && path[1] == 0xFF) {
        path += 2;
        len -= 2;
    }
    if (len == 2) {
        out->by_fid = 1;
        out->fid = (uint16_t)(path[0] << 8 | path[1]);
        return SCB_OK;
    }
    out->from_mf = path[0] == 0x3F && path[1] == 0x00;
    memcpy(out->path, path, len);
    out->path_len = len;
    return SCB_OK;
}
