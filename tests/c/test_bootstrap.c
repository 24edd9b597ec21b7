/* The bootstrap file model: the Nordic vector, a hand-made file covering
 * every identifier/length width, versions, resource instances and unknown
 * objects, builders, the 32 KB limit, typed views, and malformed input. */
#include "crypto.h"
#include "internal.h"
#include "testkit.h"

static char detail[256];

static void check_detail(const char *want)
{
    tk_checks++;
    if (strstr(detail, want) == NULL) {
        tk_failures++;
        fprintf(stderr, "detail '%s' lacks '%s'\n", detail, want);
    }
}

/* ---- helpers ---- */
typedef struct {
    uint8_t b[40000];
    size_t n;
} buf_t;

static void hx(buf_t *b, const char *hex)
{
    b->n += tk_unhex(hex, b->b + b->n, sizeof(b->b) - b->n);
}

static void fill(buf_t *b, uint8_t v, size_t n)
{
    memset(b->b + b->n, v, n);
    b->n += n;
}

/* Decode from an exactly sized heap copy, so ASan sees any overread. */
static int decode(scb_bootstrap_t **bs, const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (len > 0)
        memcpy(copy, data, len);
    detail[0] = 0;
    int rc = scb_bootstrap_decode(bs, copy, len, detail, sizeof(detail));
    free(copy);
    return rc;
}

static int decode_hex(scb_bootstrap_t **bs, const char *hex)
{
    buf_t b = {.n = 0};
    hx(&b, hex);
    return decode(bs, b.b, b.n);
}

static uint8_t *encode_alloc(const scb_bootstrap_t *bs, size_t *len)
{
    *len = 0;
    if (scb_bootstrap_encode(bs, NULL, len) != SCB_E_BUFFER_TOO_SMALL)
        return NULL;
    uint8_t *p = malloc(*len);
    if (scb_bootstrap_encode(bs, p, len) != SCB_OK) {
        free(p);
        return NULL;
    }
    return p;
}

/* Structural equality through the public tree API. */
static bool models_equal(const scb_bootstrap_t *a, const scb_bootstrap_t *b)
{
    if (scb_bootstrap_object_count(a) != scb_bootstrap_object_count(b))
        return false;
    for (size_t o = 0; o < scb_bootstrap_object_count(a); o++) {
        scb_bs_object_t oa, ob;
        scb_bootstrap_object(a, o, &oa);
        scb_bootstrap_object(b, o, &ob);
        if (oa.id != ob.id || oa.version_major != ob.version_major ||
            oa.version_minor != ob.version_minor || oa.instance_count != ob.instance_count)
            return false;
        for (size_t i = 0; i < oa.instance_count; i++) {
            scb_bs_instance_t ia, ib;
            scb_bootstrap_instance(a, o, i, &ia);
            scb_bootstrap_instance(b, o, i, &ib);
            if (ia.id != ib.id || ia.resource_count != ib.resource_count)
                return false;
            for (size_t r = 0; r < ia.resource_count; r++) {
                scb_bs_resource_t ra, rb;
                scb_bootstrap_resource(a, o, i, r, &ra);
                scb_bootstrap_resource(b, o, i, r, &rb);
                if (ra.id != rb.id || ra.multiple != rb.multiple ||
                    ra.value_len != rb.value_len || ra.instance_count != rb.instance_count ||
                    (ra.value_len > 0 && memcmp(ra.value, rb.value, ra.value_len) != 0))
                    return false;
                for (size_t k = 0; k < ra.instance_count; k++) {
                    uint16_t ka, kb;
                    const uint8_t *va, *vb;
                    size_t la, lb;
                    scb_bootstrap_resource_instance(a, o, i, r, k, &ka, &va, &la);
                    scb_bootstrap_resource_instance(b, o, i, r, k, &kb, &vb, &lb);
                    if (ka != kb || la != lb || (la > 0 && memcmp(va, vb, la) != 0))
                        return false;
                }
            }
        }
    }
    return true;
}

/* Index of the resource with that id, or -1. */
static int find_resource(const scb_bootstrap_t *bs, size_t oi, size_t ii, uint16_t id)
{
    scb_bs_instance_t in;
    if (scb_bootstrap_instance(bs, oi, ii, &in) != SCB_OK)
        return -1;
    for (size_t r = 0; r < in.resource_count; r++) {
        scb_bs_resource_t res;
        scb_bootstrap_resource(bs, oi, ii, r, &res);
        if (res.id == id)
            return (int)r;
    }
    return -1;
}

/* Object / instance index by id, or -1. */
static int find_object(const scb_bootstrap_t *bs, uint16_t id)
{
    for (size_t o = 0; o < scb_bootstrap_object_count(bs); o++) {
        scb_bs_object_t ob;
        scb_bootstrap_object(bs, o, &ob);
        if (ob.id == id)
            return (int)o;
    }
    return -1;
}

static int find_instance(const scb_bootstrap_t *bs, size_t oi, uint16_t id)
{
    scb_bs_object_t ob;
    if (scb_bootstrap_object(bs, oi, &ob) != SCB_OK)
        return -1;
    for (size_t i = 0; i < ob.instance_count; i++) {
        scb_bs_instance_t in;
        scb_bootstrap_instance(bs, oi, i, &in);
        if (in.id == id)
            return (int)i;
    }
    return -1;
}

/* ---- the recorded Nordic vector ---- */
/* A fact's value against the raw bytes, typed by the OMA definition. */
static void check_fact_value(uint16_t obj, uint16_t res, json_object *want, const uint8_t *v,
                             size_t len)
{
    scb_resource_info_t info;
    TK_EQ_RC(scb_lwm2m_resource_info(obj, res, &info), SCB_OK);
    switch (json_object_get_type(want)) {
    case json_type_string:
        TK_EQ_INT(info.type, SCB_T_STRING);
        TK_EQ_MEM(v, len, (const uint8_t *)json_object_get_string(want),
                  (size_t)json_object_get_string_len(want));
        break;
    case json_type_int: {
        int64_t x = 0;
        TK_EQ_INT(info.type, SCB_T_INTEGER);
        TK_EQ_RC(scb_value_to_int(v, len, &x), SCB_OK);
        TK_EQ_INT(x, json_object_get_int64(want));
        break;
    }
    case json_type_boolean: {
        int x = -1;
        TK_EQ_INT(info.type, SCB_T_BOOLEAN);
        TK_EQ_RC(scb_value_to_bool(v, len, &x), SCB_OK);
        TK_EQ_INT(x, json_object_get_boolean(want));
        break;
    }
    default:
        TK_EQ_HEX(v, len, tk_json_str(want, "hex"));
        break;
    }
}

static void check_fact(const scb_bootstrap_t *bs, json_object *fact)
{
    size_t n = json_object_array_length(fact);
    uint16_t obj = (uint16_t)json_object_get_int(json_object_array_get_idx(fact, 0));
    uint16_t inst = (uint16_t)json_object_get_int(json_object_array_get_idx(fact, 1));
    uint16_t res = (uint16_t)json_object_get_int(json_object_array_get_idx(fact, 2));
    json_object *want = json_object_array_get_idx(fact, n - 1);
    int oi = find_object(bs, obj);
    int ii = oi < 0 ? -1 : find_instance(bs, (size_t)oi, inst);
    int ri = ii < 0 ? -1 : find_resource(bs, (size_t)oi, (size_t)ii, res);
    TK_CHECK(ri >= 0);
    if (ri < 0)
        return;
    scb_bs_resource_t r;
    scb_bootstrap_resource(bs, (size_t)oi, (size_t)ii, (size_t)ri, &r);
    if (n == 4) {
        TK_CHECK(!r.multiple);
        check_fact_value(obj, res, want, r.value, r.value_len);
        return;
    }
    uint16_t rid = (uint16_t)json_object_get_int(json_object_array_get_idx(fact, 3));
    TK_CHECK(r.multiple);
    for (size_t k = 0; k < r.instance_count; k++) {
        uint16_t id;
        const uint8_t *v;
        size_t len;
        scb_bootstrap_resource_instance(bs, (size_t)oi, (size_t)ii, (size_t)ri, k, &id, &v, &len);
        if (id == rid) {
            check_fact_value(obj, res, want, v, len);
            return;
        }
    }
    TK_CHECK(!"resource instance of the fact not found");
}

static void check_bootstrap_vector(json_object *e)
{
    json_object *expect = json_object_object_get(e, "expect");
    size_t len;
    uint8_t *raw = tk_unhex_alloc(tk_json_str(e, "raw"), &len);
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(decode(&bs, raw, len), SCB_OK);
    TK_CHECK(bs != NULL);
    if (bs == NULL) {
        free(raw);
        return;
    }
    size_t size = (size_t)raw[2] << 8 | raw[3];
    TK_EQ_INT((raw[0] << 8 | raw[1]), tk_json_int(expect, "objects", -1));
    TK_EQ_INT(size, tk_json_int(expect, "size", -1));
    TK_EQ_INT(scb_bootstrap_object_count(bs), tk_json_int(expect, "objects", -1));

    json_object *facts = json_object_object_get(expect, "facts");
    for (size_t i = 0; i < json_object_array_length(facts); i++)
        check_fact(bs, json_object_array_get_idx(facts, i));

    json_object *versions = json_object_object_get(expect, "object_versions");
    for (size_t i = 0; i < json_object_array_length(versions); i++) {
        json_object *pair = json_object_array_get_idx(versions, i);
        int oi = find_object(bs, (uint16_t)json_object_get_int(json_object_array_get_idx(pair, 0)));
        TK_CHECK(oi >= 0);
        scb_bs_object_t ob;
        scb_bootstrap_object(bs, (size_t)oi, &ob);
        uint8_t vb[2] = {ob.version_major, ob.version_minor};
        TK_EQ_HEX(vb, ob.version_major != 0 ? 2 : 1,
                  json_object_get_string(json_object_array_get_idx(pair, 1)));
    }

    /* the padding after 4 + size is ignored but kept in the raw bytes */
    TK_EQ_HEX(raw + 4 + size, len - 4 - size, tk_json_str(expect, "trailing_padding"));
    const uint8_t *kept;
    size_t kept_len;
    TK_EQ_RC(scb_bootstrap_raw(bs, &kept, &kept_len), SCB_OK);
    TK_EQ_MEM(kept, kept_len, raw, len);

    /* encode(decode(file)) == the meaningful bytes; the digest covers them */
    size_t elen;
    uint8_t *enc = encode_alloc(bs, &elen);
    TK_EQ_MEM(enc, elen, raw, 4 + size);
    uint8_t want[32], got[32];
    scb__sha256(raw, 4 + size, want);
    TK_EQ_RC(scb_bootstrap_digest(bs, got), SCB_OK);
    TK_EQ_MEM(got, 32, want, 32);

    /* the typed view says the same as the facts */
    scb_security_t sec;
    TK_EQ_INT(scb_bootstrap_security_count(bs), 1);
    TK_EQ_RC(scb_bootstrap_security(bs, 0, &sec), SCB_OK);
    TK_EQ_INT(sec.instance_id, 0);
    TK_EQ_INT(sec.present, 0x7);
    TK_CHECK(strcmp(sec.server_uri, "coap://leshan.eclipseprojects.io:5783") == 0);
    TK_EQ_INT(sec.bootstrap_server, 1);
    TK_EQ_INT(sec.security_mode, 3);
    TK_EQ_INT(scb_bootstrap_server_count(bs), 0);

    /* every proper prefix of the meaningful bytes is malformed */
    for (size_t cut = 0; cut < 4 + size; cut++) {
        scb_bootstrap_t *t = NULL;
        TK_EQ_RC(decode(&t, raw, cut), SCB_E_PARSE);
        TK_CHECK(t == NULL && detail[0] != 0);
    }
    free(enc);
    free(raw);
    scb_bootstrap_free(&bs);
    TK_CHECK(bs == NULL);
}

static void test_vectors(void)
{
    json_object *root = tk_load_vectors("lwm2m.json");
    json_object *entries = json_object_object_get(root, "entries");
    int n = 0;
    for (size_t i = 0; i < json_object_array_length(entries); i++) {
        json_object *e = json_object_array_get_idx(entries, i);
        if (strcmp(tk_json_str(e, "kind"), "bootstrap") == 0) {
            check_bootstrap_vector(e);
            n++;
        }
    }
    TK_EQ_INT(n, 1);
    json_object_put(root);
}

/* ---- a hand-made file with every width ---- */
/* Written byte by byte from the format, not with the library's encoder:
 *   /0 version 1.1 (two version bytes)
 *     instance 0: URI (8-bit length), mode, identity, 16-byte secret, SSID
 *     instance 300 (16-bit id, 16-bit length): 300-byte URI (16-bit
 *       length), multiple resource 16 with two instances, unknown resource
 *       1000 (16-bit id)
 *   /1 implicit version: SSID, lifetime 86400 (4 bytes), storing, binding
 *   /10241 (unknown, 16-bit id) version 2.0: instance 0 with an empty
 *     multiple resource, an empty value, a resource instance with a 16-bit
 *     id; instance 1 empty
 *   /2 Access Control: object 1 instance 0, ACL {0: 0F, 1: 1F}, owner 1
 *   then FF padding */
static void rich_file(buf_t *b)
{
    b->n = 0;
    hx(b, "0004 01BB");
    hx(b, "0000 0101 0170");
    hx(b, "080029");
    hx(b, "C80009 636F6170733A2F2F73 C10200 C2036964 C80510");
    for (int i = 0; i < 16; i++) {
        char h[3];
        snprintf(h, sizeof(h), "%02X", i);
        hx(b, h);
    }
    hx(b, "C10A01");
    hx(b, "30012C013F");
    hx(b, "D000012C");
    fill(b, 'a', 300);
    hx(b, "881008 4200C0A8 4201C0AE");
    hx(b, "E103E8AA");
    hx(b, "0001 00 0012 08000F C10001 C401 00015180 C10601 C10755");
    hx(b, "2801 0200 000F 08000A 8005 C006 8407 610100AB 0001");
    hx(b, "0002 00 0014 080011 C10001 C10100 8602 41000F 41011F C10301");
}

#define RICH_MEANINGFUL 447

static void build_rich(scb_bootstrap_t *bs)
{
    static const uint8_t secret[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    uint8_t uri[300];
    memset(uri, 'a', sizeof(uri));
    TK_EQ_INT(scb_bootstrap_add_object(bs, 0, 1, 1), 0);
    TK_EQ_INT(scb_bootstrap_add_instance(bs, 0, 0), 0);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 0, (const uint8_t *)"coaps://s", 9), 0);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 2, (const uint8_t *)"\x00", 1), 1);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 3, (const uint8_t *)"id", 2), 2);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 5, secret, sizeof(secret)), 3);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 10, (const uint8_t *)"\x01", 1), 4);
    TK_EQ_INT(scb_bootstrap_add_instance(bs, 0, 300), 1);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 1, 0, uri, sizeof(uri)), 0);
    TK_EQ_INT(scb_bootstrap_add_multi_resource(bs, 0, 1, 16), 1);
    TK_EQ_INT(scb_bootstrap_add_resource_instance(bs, 0, 1, 1, 0, (const uint8_t *)"\xC0\xA8", 2), 0);
    TK_EQ_INT(scb_bootstrap_add_resource_instance(bs, 0, 1, 1, 1, (const uint8_t *)"\xC0\xAE", 2), 1);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 1, 1000, (const uint8_t *)"\xAA", 1), 2);

    TK_EQ_INT(scb_bootstrap_add_object(bs, 1, 0, 0), 1);
    TK_EQ_INT(scb_bootstrap_add_instance(bs, 1, 0), 0);
    scb_bootstrap_add_resource(bs, 1, 0, 0, (const uint8_t *)"\x01", 1);
    scb_bootstrap_add_resource(bs, 1, 0, 1, (const uint8_t *)"\x00\x01\x51\x80", 4);
    scb_bootstrap_add_resource(bs, 1, 0, 6, (const uint8_t *)"\x01", 1);
    scb_bootstrap_add_resource(bs, 1, 0, 7, (const uint8_t *)"U", 1);

    TK_EQ_INT(scb_bootstrap_add_object(bs, 10241, 2, 0), 2);
    TK_EQ_INT(scb_bootstrap_add_instance(bs, 2, 0), 0);
    TK_EQ_INT(scb_bootstrap_add_multi_resource(bs, 2, 0, 5), 0);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 2, 0, 6, NULL, 0), 1);
    TK_EQ_INT(scb_bootstrap_add_multi_resource(bs, 2, 0, 7), 2);
    TK_EQ_INT(scb_bootstrap_add_resource_instance(bs, 2, 0, 2, 256, (const uint8_t *)"\xAB", 1), 0);
    TK_EQ_INT(scb_bootstrap_add_instance(bs, 2, 1), 1);

    TK_EQ_INT(scb_bootstrap_add_object(bs, 2, 0, 0), 3);
    TK_EQ_INT(scb_bootstrap_add_instance(bs, 3, 0), 0);
    scb_bootstrap_add_resource(bs, 3, 0, 0, (const uint8_t *)"\x01", 1);
    scb_bootstrap_add_resource(bs, 3, 0, 1, (const uint8_t *)"\x00", 1);
    TK_EQ_INT(scb_bootstrap_add_multi_resource(bs, 3, 0, 2), 2);
    scb_bootstrap_add_resource_instance(bs, 3, 0, 2, 0, (const uint8_t *)"\x0F", 1);
    scb_bootstrap_add_resource_instance(bs, 3, 0, 2, 1, (const uint8_t *)"\x1F", 1);
    scb_bootstrap_add_resource(bs, 3, 0, 3, (const uint8_t *)"\x01", 1);
}

static void test_rich_file(void)
{
    buf_t file;
    rich_file(&file);
    TK_EQ_INT(file.n, RICH_MEANINGFUL);
    fill(&file, 0xFF, 13);

    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(decode(&bs, file.b, file.n), SCB_OK);
    if (bs == NULL)
        return;
    TK_EQ_INT(scb_bootstrap_object_count(bs), 4);

    scb_bs_object_t ob;
    scb_bootstrap_object(bs, 0, &ob);
    TK_EQ_INT(ob.id, 0);
    TK_EQ_INT(ob.version_major, 1);
    TK_EQ_INT(ob.version_minor, 1);
    TK_EQ_INT(ob.instance_count, 2);
    scb_bootstrap_object(bs, 2, &ob);
    TK_EQ_INT(ob.id, 10241);
    TK_EQ_INT(ob.version_major, 2);
    TK_EQ_INT(ob.version_minor, 0);
    TK_EQ_INT(ob.instance_count, 2);

    scb_bs_instance_t in;
    scb_bootstrap_instance(bs, 0, 1, &in);
    TK_EQ_INT(in.id, 300);
    TK_EQ_INT(in.resource_count, 3);
    scb_bs_resource_t r;
    scb_bootstrap_resource(bs, 0, 1, 0, &r);
    TK_EQ_INT(r.value_len, 300);
    scb_bootstrap_resource(bs, 0, 1, 1, &r);
    TK_EQ_INT(r.id, 16);
    TK_CHECK(r.multiple);
    TK_EQ_INT(r.instance_count, 2);
    uint16_t id;
    const uint8_t *v;
    size_t len;
    TK_EQ_RC(scb_bootstrap_resource_instance(bs, 0, 1, 1, 1, &id, &v, &len), SCB_OK);
    TK_EQ_INT(id, 1);
    TK_EQ_HEX(v, len, "C0AE");
    scb_bootstrap_resource(bs, 0, 1, 2, &r);
    TK_EQ_INT(r.id, 1000);
    TK_EQ_HEX(r.value, r.value_len, "AA");

    /* the unknown object is kept whole */
    scb_bootstrap_resource(bs, 2, 0, 0, &r);
    TK_CHECK(r.multiple && r.id == 5 && r.instance_count == 0);
    scb_bootstrap_resource(bs, 2, 0, 1, &r);
    TK_CHECK(!r.multiple && r.id == 6 && r.value_len == 0);
    TK_EQ_RC(scb_bootstrap_resource_instance(bs, 2, 0, 2, 0, &id, &v, &len), SCB_OK);
    TK_EQ_INT(id, 256);
    TK_EQ_HEX(v, len, "AB");
    scb_bootstrap_instance(bs, 2, 1, &in);
    TK_CHECK(in.id == 1 && in.resource_count == 0);

    /* encode(decode(file)) == the meaningful bytes */
    size_t elen;
    uint8_t *enc = encode_alloc(bs, &elen);
    TK_EQ_MEM(enc, elen, file.b, RICH_MEANINGFUL);

    /* the builders make the same file */
    scb_bootstrap_t *built = NULL;
    TK_EQ_RC(scb_bootstrap_new(&built), SCB_OK);
    build_rich(built);
    size_t blen;
    uint8_t *benc = encode_alloc(built, &blen);
    TK_EQ_MEM(benc, blen, file.b, RICH_MEANINGFUL);
    TK_CHECK(models_equal(bs, built));
    const uint8_t *raw;
    size_t raw_len;
    TK_EQ_RC(scb_bootstrap_raw(built, &raw, &raw_len), SCB_OK);
    TK_CHECK(raw == NULL && raw_len == 0);

    /* digest = SHA-256 of the meaningful bytes, the same for both */
    uint8_t want[32], d1[32], d2[32];
    scb__sha256(file.b, RICH_MEANINGFUL, want);
    TK_EQ_RC(scb_bootstrap_digest(bs, d1), SCB_OK);
    TK_EQ_RC(scb_bootstrap_digest(built, d2), SCB_OK);
    TK_EQ_MEM(d1, 32, want, 32);
    TK_EQ_MEM(d2, 32, want, 32);

    /* typed views */
    scb_security_t sec;
    TK_EQ_INT(scb_bootstrap_security_count(bs), 2);
    TK_EQ_RC(scb_bootstrap_security(bs, 0, &sec), SCB_OK);
    TK_EQ_INT(sec.present, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 5) | (1u << 10));
    TK_CHECK(strcmp(sec.server_uri, "coaps://s") == 0);
    TK_EQ_INT(sec.security_mode, 0);
    TK_EQ_MEM(sec.public_key_or_identity, sec.public_key_or_identity_len,
              (const uint8_t *)"id", 2);
    TK_EQ_INT(sec.secret_key_len, 16);
    TK_EQ_INT(sec.short_server_id, 1);
    TK_EQ_RC(scb_bootstrap_security(bs, 1, &sec), SCB_OK);
    TK_EQ_INT(sec.instance_id, 300);
    TK_EQ_INT(sec.present, 1);
    TK_EQ_INT(strlen(sec.server_uri), 300);
    TK_EQ_RC(scb_bootstrap_security(bs, 2, &sec), SCB_E_INVALID_ARG);

    scb_server_t srv;
    TK_EQ_INT(scb_bootstrap_server_count(bs), 1);
    TK_EQ_RC(scb_bootstrap_server(bs, 0, &srv), SCB_OK);
    TK_EQ_INT(srv.present, (1u << 0) | (1u << 1) | (1u << 6) | (1u << 7));
    TK_EQ_INT(srv.short_server_id, 1);
    TK_EQ_INT(srv.lifetime, 86400);
    TK_EQ_INT(srv.notification_storing, 1);
    TK_CHECK(strcmp(srv.binding, "U") == 0);

    /* every proper prefix of the meaningful bytes is malformed */
    for (size_t cut = 0; cut < RICH_MEANINGFUL; cut++) {
        scb_bootstrap_t *t = NULL;
        TK_EQ_RC(decode(&t, file.b, cut), SCB_E_PARSE);
        TK_CHECK(t == NULL && detail[0] != 0);
    }
    free(enc);
    free(benc);
    scb_bootstrap_free(&bs);
    scb_bootstrap_free(&built);
}

/* Wider fields than needed decode; encoding makes them minimal. */
static void test_non_minimal_widths(void)
{
    scb_bootstrap_t *wide = NULL, *narrow = NULL;
    /* instance: 16-bit id and 24-bit length; resource 5: 16-bit length;
     * resource 1: 8-bit length for one byte */
    TK_EQ_RC(decode_hex(&wide, "0001 0016 0000 00 0011 38 0000 00000B D0050003AABBCC C8010101"),
             SCB_OK);
    size_t len;
    uint8_t *enc = encode_alloc(wide, &len);
    TK_EQ_HEX(enc, len, "0001 0010 0000 00 000B 080008 C305AABBCC C10101");
    TK_EQ_RC(decode(&narrow, enc, len), SCB_OK);
    TK_CHECK(models_equal(wide, narrow));
    free(enc);
    scb_bootstrap_free(&wide);
    scb_bootstrap_free(&narrow);

    /* empty file: no objects */
    TK_EQ_RC(decode_hex(&wide, "0000 0000 FFFF"), SCB_OK);
    TK_EQ_INT(scb_bootstrap_object_count(wide), 0);
    scb_bootstrap_free(&wide);
}

static void test_malformed(void)
{
    static const struct {
        const char *hex;
        const char *want;
    } bad[] = {
        {"000100", "header: 3 byte(s), need 4"},
        {"0001 0064 0000", "header: size 100 runs past the end of the data (2 bytes after the header)"},
        {"FFFFFFFFFFFF", "blank (all 6 bytes FF)"},
        {"0000 0005 0000000000", "object count 0, but object 1 starts at offset 4 within size 5"},
        {"0002 0005 0000 00 0000", "object count 2, but the 5 byte(s) of content hold 1 object(s)"},
        {"0001 0006 0000 00 0005 08",
         "object /0 at offset 4: length 5 runs past the declared size (1 byte(s) left)"},
        {"0001 0003 000000", "object 1 at offset 4: header truncated (3 byte(s) left within size 3)"},
        {"0001 0005 0000 0101 00", "object /0 at offset 4: header truncated"},
        {"0001 0006 0000 00 0001 08", "/0 at offset 9: TLV header truncated"},
        /* object length vs TLV: the instance claims 2 bytes, its object holds 1 */
        {"0001 0008 0000 00 0003 0200AA", "/0 at offset 9: object instance 0: length 2 runs past its parent (1 bytes left)"},
        {"0001 000A 0000 00 0005 080002 C305", "/0/0 at offset 12: resource 5: length 3 runs past its parent (0 bytes left)"},
        {"0001 0008 0000 00 0003 C10001", "/0 at offset 9: resource 0 is not allowed inside an object"},
        {"0001 000A 0000 00 0005 0300 410007", "/0/0 at offset 11: resource instance 0 is not allowed inside an object instance"},
        {"0001 000B 0000 00 0006 0400 8201 0000", "/0/0/1 at offset 13: object instance 0 is not allowed inside a multiple resource"},
        {"0002 000A 0001 00 0000 0001 00 0000", "object /1 at offset 9: object 1 appears twice"},
        {"0001 0009 0000 00 0004 0000 0000", "/0 at offset 11: object instance 0 appears twice"},
        {"0001 000B 0000 00 0006 0400 C001 C001", "/0/0 at offset 13: resource 1 appears twice"},
        {"0001 000B 0000 00 0006 0400 8001 C001", "/0/0 at offset 13: resource 1 appears twice"},
        {"0001 000D 0000 00 0008 0600 8404 4000 4000", "/0/0/4 at offset 15: resource instance 0 appears twice"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++) {
        scb_bootstrap_t *bs = (scb_bootstrap_t *)&bad; /* must be reset to NULL */
        TK_EQ_RC(decode_hex(&bs, bad[i].hex), SCB_E_PARSE);
        TK_CHECK(bs == NULL);
        check_detail(bad[i].want);
    }

    /* size field vs content: the Nordic file with size one byte too large
     * swallows a padding byte, which is not an object */
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(decode_hex(&bs, "00010037000000003108002EC80025636F61703A2F2F6C657368616E2E65636C6970"
                             "736570726F6A656374732E696F3A35373833C10101C10203FFFF"),
             SCB_E_PARSE);
    check_detail("object count 1, but object 2 starts at offset 58 within size 55");
    /* object length one short of its TLV */
    TK_EQ_RC(decode_hex(&bs, "00010036000000003008002EC80025636F61703A2F2F6C657368616E2E65636C6970"
                             "736570726F6A656374732E696F3A35373833C10101C10203FFFF"),
             SCB_E_PARSE);
    check_detail("/0 at offset 9: object instance 0: length 46 runs past its parent (45 bytes left)");

    TK_EQ_RC(scb_bootstrap_decode(NULL, NULL, 0, NULL, 0), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_bootstrap_decode(&bs, NULL, 4, NULL, 0), SCB_E_INVALID_ARG);
}

/* Random corruption of the hand-made file: every outcome is a clean error
 * with a message, or a model that survives encode/decode unchanged. */
static void test_mutations(void)
{
    buf_t file;
    rich_file(&file);
    uint32_t seed = 12345;
    int ok = 0, failed = 0;
    for (int round = 0; round < 20000; round++) {
        buf_t m = file;
        int flips = 1 + round % 4;
        for (int f = 0; f < flips; f++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % m.n;
            seed = seed * 1103515245u + 12345u;
            m.b[at] = (uint8_t)(seed >> 16);
        }
        scb_bootstrap_t *bs = NULL;
        int rc = decode(&bs, m.b, m.n);
        if (rc != SCB_OK) {
            failed++;
            TK_CHECK(bs == NULL && detail[0] != 0);
            continue;
        }
        ok++;
        size_t len;
        uint8_t *enc = encode_alloc(bs, &len);
        scb_bootstrap_t *again = NULL;
        TK_CHECK(enc != NULL && decode(&again, enc, len) == SCB_OK);
        TK_CHECK(again != NULL && models_equal(bs, again));
        free(enc);
        scb_bootstrap_free(&again);
        scb_bootstrap_free(&bs);
    }
    TK_CHECK(ok > 100 && failed > 100); /* both paths were exercised */
}

static void test_size_limit(void)
{
    /* 4 header + 5 object header + 4 instance header + 4 resource header + value */
    static uint8_t value[SCB_MAX_FILE_SIZE + 1];
    const size_t fits = SCB_MAX_FILE_SIZE - 17;
    scb_bootstrap_t *bs = NULL;
    scb_bootstrap_new(&bs);
    scb_bootstrap_add_object(bs, 3, 0, 0);
    scb_bootstrap_add_instance(bs, 0, 0);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 0, value, fits), 0);
    size_t len = 0;
    TK_EQ_RC(scb_bootstrap_encode(bs, NULL, &len), SCB_E_BUFFER_TOO_SMALL);
    TK_EQ_INT(len, SCB_MAX_FILE_SIZE);
    uint8_t *file = malloc(SCB_MAX_FILE_SIZE + 1);
    size_t small = 100;
    TK_EQ_RC(scb_bootstrap_encode(bs, file, &small), SCB_E_BUFFER_TOO_SMALL);
    TK_EQ_INT(small, SCB_MAX_FILE_SIZE);
    len = SCB_MAX_FILE_SIZE + 1;
    TK_EQ_RC(scb_bootstrap_encode(bs, file, &len), SCB_OK);
    TK_EQ_INT(len, SCB_MAX_FILE_SIZE);

    scb_bootstrap_t *back = NULL;
    TK_EQ_RC(decode(&back, file, SCB_MAX_FILE_SIZE), SCB_OK);
    TK_CHECK(back != NULL && models_equal(bs, back));
    scb_bootstrap_free(&back);
    file[SCB_MAX_FILE_SIZE] = 0xFF;
    TK_EQ_RC(decode(&back, file, SCB_MAX_FILE_SIZE + 1), SCB_E_FILE_TOO_LARGE);
    check_detail("bootstrap file of 32769 bytes exceeds the 32768-byte limit");
    scb_bootstrap_free(&bs);

    /* one byte more does not encode */
    scb_bootstrap_new(&bs);
    scb_bootstrap_add_object(bs, 3, 0, 0);
    scb_bootstrap_add_instance(bs, 0, 0);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 0, value, fits + 1), 0);
    TK_EQ_RC(scb_bootstrap_encode(bs, NULL, &len), SCB_E_FILE_TOO_LARGE);
    uint8_t d[32];
    TK_EQ_RC(scb_bootstrap_digest(bs, d), SCB_E_FILE_TOO_LARGE);
    TK_EQ_RC(scb_bootstrap_add_resource(bs, 0, 0, 1, value, SCB_MAX_FILE_SIZE + 1),
             SCB_E_FILE_TOO_LARGE);
    /* many small resources add up past the limit too */
    for (uint16_t r = 2; r < 20; r++)
        scb_bootstrap_add_resource(bs, 0, 0, r, value, 4000);
    TK_EQ_RC(scb_bootstrap_encode(bs, NULL, &len), SCB_E_FILE_TOO_LARGE);
    scb_bootstrap_free(&bs);
    free(file);
}

static void test_builder_errors(void)
{
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(scb_bootstrap_new(&bs), SCB_OK);
    TK_EQ_RC(scb_bootstrap_add_object(bs, 0, 0, 1), SCB_E_INVALID_ARG); /* implicit 1.0 has no minor */
    TK_EQ_INT(scb_bootstrap_add_object(bs, 0, 0, 0), 0);
    TK_EQ_RC(scb_bootstrap_add_object(bs, 0, 1, 0), SCB_E_VALIDATION);
    TK_EQ_RC(scb_bootstrap_add_instance(bs, 1, 0), SCB_E_INVALID_ARG);
    TK_EQ_INT(scb_bootstrap_add_instance(bs, 0, 7), 0);
    TK_EQ_RC(scb_bootstrap_add_instance(bs, 0, 7), SCB_E_VALIDATION);
    TK_EQ_RC(scb_bootstrap_add_resource(bs, 0, 1, 0, NULL, 0), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_bootstrap_add_resource(bs, 0, 0, 0, NULL, 3), SCB_E_INVALID_ARG);
    TK_EQ_INT(scb_bootstrap_add_resource(bs, 0, 0, 0, (const uint8_t *)"x", 1), 0);
    TK_EQ_RC(scb_bootstrap_add_multi_resource(bs, 0, 0, 0), SCB_E_VALIDATION);
    TK_EQ_RC(scb_bootstrap_add_resource_instance(bs, 0, 0, 0, 0, NULL, 0), SCB_E_INVALID_ARG);
    TK_EQ_INT(scb_bootstrap_add_multi_resource(bs, 0, 0, 1), 1);
    TK_EQ_INT(scb_bootstrap_add_resource_instance(bs, 0, 0, 1, 9, NULL, 0), 0);
    TK_EQ_RC(scb_bootstrap_add_resource_instance(bs, 0, 0, 1, 9, NULL, 0), SCB_E_VALIDATION);
    TK_EQ_RC(scb_bootstrap_add_resource_instance(bs, 0, 0, 2, 0, NULL, 0), SCB_E_INVALID_ARG);

    scb_bs_resource_t r;
    uint16_t id;
    const uint8_t *v;
    size_t len;
    TK_EQ_RC(scb_bootstrap_resource(bs, 0, 0, 2, &r), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_bootstrap_resource_instance(bs, 0, 0, 0, 0, &id, &v, &len), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_bootstrap_resource_instance(bs, 0, 0, 1, 1, &id, &v, &len), SCB_E_INVALID_ARG);
    TK_EQ_INT(scb_bootstrap_object_count(NULL), 0);
    scb_bootstrap_free(&bs);
    scb_bootstrap_free(&bs); /* NULL is fine */
    scb_bootstrap_free(NULL);
}

static void test_view_errors(void)
{
    static const char *const bad_security[] = {
        "0001 000C 0000 00 0007 0500 C302000001", /* mode: 3-byte integer */
        "0001 000C 0000 00 0007 0500 C300610062", /* URI with a NUL */
        "0001 000A 0000 00 0005 0300 C10102",     /* Bootstrap-Server = 2 */
        "0001 0009 0000 00 0004 0200 8000",       /* URI as a multiple resource */
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad_security); i++) {
        scb_bootstrap_t *bs = NULL;
        buf_t b = {.n = 0};
        hx(&b, bad_security[i]);
        TK_EQ_RC(decode(&bs, b.b, b.n), SCB_OK); /* the tree is fine */
        scb_security_t sec;
        TK_EQ_RC(scb_bootstrap_security(bs, 0, &sec), SCB_E_PARSE);
        TK_EQ_INT(sec.present, 0);
        scb_bootstrap_free(&bs);
    }
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(decode_hex(&bs, "0001 000A 0001 00 0005 0300 C10700"), SCB_OK);
    scb_server_t srv;
    TK_EQ_RC(scb_bootstrap_server(bs, 0, &srv), SCB_E_PARSE); /* binding with a NUL */
    TK_EQ_INT(scb_bootstrap_security_count(bs), 0);
    scb_security_t sec;
    TK_EQ_RC(scb_bootstrap_security(bs, 0, &sec), SCB_E_INVALID_ARG);
    scb_bootstrap_free(&bs);
}

static void test_object_table(void)
{
    scb_resource_info_t info;
    TK_EQ_RC(scb_lwm2m_resource_info(0, 2, &info), SCB_OK);
    TK_CHECK(strcmp(info.key, "security_mode") == 0);
    TK_EQ_INT(info.type, SCB_T_INTEGER);
    TK_CHECK(info.has_range && info.min == 0 && info.max == 4);
    TK_EQ_RC(scb_lwm2m_resource_info(0, 5, &info), SCB_OK);
    TK_CHECK(info.secret && info.type == SCB_T_OPAQUE);
    TK_EQ_RC(scb_lwm2m_resource_info(0, 16, &info), SCB_OK);
    TK_CHECK(info.multiple && info.type == SCB_T_UNSIGNED);
    TK_EQ_RC(scb_lwm2m_resource_info(1, 7, &info), SCB_OK);
    TK_CHECK(strcmp(info.name, "Binding") == 0 && info.type == SCB_T_STRING && !info.secret);
    TK_EQ_RC(scb_lwm2m_resource_info(1, 4, &info), SCB_OK);
    TK_EQ_INT(info.type, SCB_T_NONE);
    TK_EQ_RC(scb_lwm2m_resource_info(2, 2, &info), SCB_OK);
    TK_CHECK(info.multiple && strcmp(info.key, "acl") == 0);
    TK_EQ_RC(scb_lwm2m_resource_info(21, 0, &info), SCB_OK);
    TK_CHECK(info.secret);
    TK_EQ_RC(scb_lwm2m_resource_info(0, 99, &info), SCB_E_NOT_FOUND);
    TK_EQ_RC(scb_lwm2m_resource_info(3, 0, &info), SCB_E_NOT_FOUND);

    uint16_t id = 0;
    TK_EQ_RC(scb_lwm2m_resource_by_key(1, "lifetime", &id), SCB_OK);
    TK_EQ_INT(id, 1);
    TK_EQ_RC(scb_lwm2m_resource_by_key(0, "secret_key", &id), SCB_OK);
    TK_EQ_INT(id, 5);
    TK_EQ_RC(scb_lwm2m_resource_by_key(1, "secret_key", &id), SCB_E_NOT_FOUND);
    TK_CHECK(strcmp(scb_lwm2m_object_name(0), "LwM2M Security") == 0);
    TK_CHECK(scb_lwm2m_object_name(3) == NULL);

    /* keys are unique within an object and ids ascend (the table is the JSON format) */
    static const uint16_t objects[] = {0, 1, 2, 21};
    for (size_t o = 0; o < SCB_ARRAY_LEN(objects); o++) {
        int last = -1;
        for (uint16_t r = 0; r < 100; r++) {
            if (scb_lwm2m_resource_info(objects[o], r, &info) != SCB_OK)
                continue;
            uint16_t back = 0xFFFF;
            TK_EQ_RC(scb_lwm2m_resource_by_key(objects[o], info.key, &back), SCB_OK);
            TK_EQ_INT(back, r);
            TK_CHECK((int)r > last);
            last = r;
        }
    }
}

/* One definition of a valid value: type, the registry's range (strings:
 * bytes), the rules stated in words (Binding, Preferred Transport). */
static void test_value_check(void)
{
    static const struct {
        uint16_t obj, res;
        const char *hex;
        int rc;
        const char *why;
    } cases[] = {
        {1, 0, "01", SCB_OK, ""},
        {1, 0, "0000FFFE", SCB_OK, ""},             /* 65534 */
        {1, 0, "FFFE", SCB_E_PARSE, "expected integer 1..65534"}, /* -2: two's complement */
        {1, 0, "00", SCB_E_PARSE, "expected integer 1..65534"},
        {1, 0, "0000FFFF", SCB_E_PARSE, "expected integer 1..65534"},
        {1, 0, "000001", SCB_E_PARSE, "expected integer 1..65534"}, /* 3 bytes: no integer */
        {0, 10, "00", SCB_E_PARSE, "expected integer 1..65534"},
        {1, 1, "00", SCB_OK, ""},                   /* 0: an infinite lifetime */
        {1, 1, "7FFFFFFFFFFFFFFF", SCB_OK, ""},
        {1, 1, "FF", SCB_E_PARSE, "expected a non-negative integer"},
        {1, 5, "FFFEAE80", SCB_E_PARSE, "expected a non-negative integer"},
        {0, 12, "FF", SCB_E_PARSE, "expected a non-negative integer"},
        {1, 12, "FF", SCB_OK, ""},                  /* Last Bootstrapped: a Time, no range */
        {0, 2, "04", SCB_OK, ""},
        {0, 2, "05", SCB_E_PARSE, "expected integer 0..4"},
        {0, 13, "04", SCB_E_PARSE, "expected integer 0..3"},          /* unsigned */
        {0, 16, "FFFFFFFFFFFFFFFF", SCB_OK, ""},
        {0, 16, "", SCB_E_PARSE, "expected an unsigned integer"},
        {1, 7, "55", SCB_OK, ""},
        {1, 7, "555153", SCB_OK, ""},               /* UQS */
        {1, 7, "5553", SCB_OK, ""},
        {1, 7, "544E4D48", SCB_OK, ""},             /* TNMH */
        {1, 7, "", SCB_E_PARSE, "expected transport binding letters"},
        {1, 7, "5555", SCB_E_PARSE, "expected transport binding letters"},
        {1, 7, "5155", SCB_E_PARSE, "expected transport binding letters"},
        {1, 7, "5451", SCB_E_PARSE, "expected transport binding letters"},
        {1, 7, "5500", SCB_E_PARSE, "expected UTF-8 text without NUL characters"},
        {1, 7, "75", SCB_E_PARSE, "expected transport binding letters"},
        {1, 22, "54", SCB_OK, ""},
        {1, 22, "5553", SCB_E_PARSE, "expected one transport binding letter"},
        {1, 22, "51", SCB_E_PARSE, "expected one transport binding letter"},
        {0, 0, "636F6170", SCB_OK, ""},
        {0, 0, "FF", SCB_E_PARSE, "expected UTF-8 text without NUL characters"},
        {0, 1, "02", SCB_E_PARSE, "expected one byte 00 or 01"},
        {0, 17, "001500", SCB_E_PARSE, "expected an object link of 4 bytes"},
        {0, 5, "", SCB_OK, ""},                     /* opaque: any bytes */
        {1, 4, "", SCB_E_UNSUPPORTED, "has no value"},
        {0, 1000, "AA", SCB_E_NOT_FOUND, ""},
        {3, 0, "AA", SCB_E_NOT_FOUND, ""},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(cases); i++) {
        uint8_t v[16];
        size_t len = tk_unhex(cases[i].hex, v, sizeof(v));
        char why[200] = "unchanged";
        int rc = scb_lwm2m_value_check(cases[i].obj, cases[i].res, v, len, why, sizeof(why));
        TK_EQ_RC(rc, cases[i].rc);
        TK_CHECK(strncmp(why, cases[i].why, strlen(cases[i].why)) == 0);
        TK_CHECK(cases[i].rc != SCB_OK || why[0] == 0);
        if (rc != cases[i].rc || strncmp(why, cases[i].why, strlen(cases[i].why)) != 0)
            fprintf(stderr, "case %zu: %s '%s'\n", i, scb_error_name(rc), why);
    }
    /* a string's range is its length */
    uint8_t uri[256];
    memset(uri, 'a', sizeof(uri));
    TK_EQ_RC(scb_lwm2m_value_check(0, 0, uri, 255, NULL, 0), SCB_OK);
    char why[100];
    TK_EQ_RC(scb_lwm2m_value_check(0, 0, uri, 256, why, sizeof(why)), SCB_E_PARSE);
    TK_CHECK(strcmp(why, "expected at most 255 bytes, got 256") == 0);
    TK_EQ_RC(scb_lwm2m_value_check(0, 25, uri, 256, NULL, 0), SCB_E_PARSE);
    TK_EQ_RC(scb_lwm2m_value_check(0, 0, NULL, 1, NULL, 0), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_lwm2m_value_check(0, 0, NULL, 0, NULL, 0), SCB_OK); /* an empty URI */
    scb_resource_info_t info;
    TK_EQ_RC(scb_lwm2m_resource_info(1, 1, &info), SCB_OK);
    TK_CHECK(info.has_range && info.min == 0 && info.max == INT64_MAX);
    TK_EQ_RC(scb_lwm2m_resource_info(0, 0, &info), SCB_OK);
    TK_CHECK(info.has_range && info.min == 0 && info.max == 255);
}

int main(void)
{
    TK_RUN(test_vectors);
    TK_RUN(test_rich_file);
    TK_RUN(test_non_minimal_widths);
    TK_RUN(test_malformed);
    TK_RUN(test_mutations);
    TK_RUN(test_size_limit);
    TK_RUN(test_builder_errors);
    TK_RUN(test_view_errors);
    TK_RUN(test_object_table);
    TK_RUN(test_value_check);
    return tk_done();
}
