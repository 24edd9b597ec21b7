/* The bootstrap JSON format (core/json/FORMAT.md): output of the Nordic
 * vector, a document using every value type, redaction, the hex fallback
 * that keeps odd card data lossless, round trips, and validation messages. */
#include "crypto.h"
#include "internal.h"
#include "scboot_json.h"
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

static scb_bootstrap_t *decode_hex(const char *hex)
{
    size_t len;
    uint8_t *raw = tk_unhex_alloc(hex, &len);
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(scb_bootstrap_decode(&bs, raw, len, detail, sizeof(detail)), SCB_OK);
    free(raw);
    return bs;
}

static uint8_t *encode_alloc(const scb_bootstrap_t *bs, size_t *len)
{
    *len = 0;
    scb_bootstrap_encode(bs, NULL, len);
    uint8_t *p = malloc(*len);
    TK_EQ_RC(scb_bootstrap_encode(bs, p, len), SCB_OK);
    return p;
}

static scb_bootstrap_t *from_json(const char *json)
{
    scb_bootstrap_t *bs = NULL;
    detail[0] = 0;
    int rc = scbj_bootstrap_from_json(json, &bs, detail, sizeof(detail));
    if (rc != SCB_OK)
        fprintf(stderr, "from_json: %s: %s\n", scb_error_name(rc), detail);
    TK_EQ_RC(rc, SCB_OK);
    return bs;
}

/* json is refused with SCB_E_VALIDATION, no model, and a message holding want. */
static void check_refused(const char *json, const char *want)
{
    scb_bootstrap_t *bs = (scb_bootstrap_t *)&detail; /* must come back NULL */
    detail[0] = 0;
    TK_EQ_RC(scbj_bootstrap_from_json(json, &bs, detail, sizeof(detail)), SCB_E_VALIDATION);
    TK_CHECK(bs == NULL);
    check_detail(want);
}

static char *to_json(const scb_bootstrap_t *bs, unsigned flags)
{
    char *s = NULL;
    TK_EQ_RC(scbj_bootstrap_to_json(bs, flags, &s), SCB_OK);
    return s;
}

/* JSON -> bytes -> JSON -> bytes: the two byte strings are identical, and
 * so are the two JSON texts after the first normalisation. */
static void check_round_trip(const scb_bootstrap_t *bs)
{
    size_t l1, l2;
    uint8_t *b1 = encode_alloc(bs, &l1);
    char *j1 = to_json(bs, SCBJ_SHOW_SECRETS);
    scb_bootstrap_t *back = from_json(j1);
    if (back == NULL) {
        free(b1);
        scbj_free(j1);
        return;
    }
    uint8_t *b2 = encode_alloc(back, &l2);
    TK_EQ_MEM(b2, l2, b1, l1);
    char *j2 = to_json(back, SCBJ_SHOW_SECRETS);
    TK_CHECK(strcmp(j1, j2) == 0);
    free(b1);
    free(b2);
    scbj_free(j1);
    scbj_free(j2);
    scb_bootstrap_free(&back);
}

static const char *nordic_hex =
    "00010036000000003108002EC80025636F61703A2F2F6C657368616E2E65636C6970736570726F6A656374732E"
    "696F3A35373833C10101C10203FFFF";

static void test_nordic(void)
{
    scb_bootstrap_t *bs = decode_hex(nordic_hex);
    if (bs == NULL)
        return;
    uint8_t raw[64], digest[32];
    size_t len = tk_unhex(nordic_hex, raw, sizeof(raw));
    scb__sha256(raw, len - 2, digest);
    char want[512], dhex[65];
    for (int i = 0; i < 32; i++)
        snprintf(dhex + 2 * i, 3, "%02x", digest[i]);
    snprintf(want, sizeof(want),
             "{\"security\":[{\"instance\":0,\"server_uri\":\"coap://leshan.eclipseprojects.io:"
             "5783\",\"bootstrap_server\":true,\"security_mode\":3}],\"servers\":[],\"objects\":[]"
             ",\"digest\":\"%s\"}",
             dhex);
    char *s = to_json(bs, SCBJ_COMPACT);
    TK_CHECK(s != NULL && strcmp(s, want) == 0);
    if (s != NULL && strcmp(s, want) != 0)
        fprintf(stderr, "got  %s\nwant %s\n", s, want);

    /* back to the card bytes */
    scb_bootstrap_t *back = from_json(s);
    size_t elen;
    uint8_t *enc = encode_alloc(back, &elen);
    TK_EQ_MEM(enc, elen, raw, len - 2);
    free(enc);
    scbj_free(s);

    /* the indented form parses to the same document */
    s = to_json(bs, 0);
    TK_CHECK(strchr(s, '\n') != NULL);
    json_object *a = json_tokener_parse(s), *b = json_tokener_parse(want);
    TK_CHECK(json_object_equal(a, b));
    json_object_put(a);
    json_object_put(b);
    scbj_free(s);
    scb_bootstrap_free(&back);
    scb_bootstrap_free(&bs);
}

/* Every value type, every section, input in non-canonical section order. */
static const char *full_doc =
    "{\"objects\": ["
    "  {\"id\": 2, \"instances\": [{\"id\": 0, \"resources\": {\"object_id\": 1,"
    "    \"object_instance_id\": 0, \"acl\": {\"0\": 15, \"1\": 31}, \"access_control_owner\": 1}}]},"
    "  {\"id\": 10241, \"version\": \"2.0\", \"instances\": ["
    "    {\"id\": 0, \"resources\": {\"5\": {}, \"6\": {\"hex\": \"\"}, \"7\": {\"256\": {\"hex\": \"AB\"}}}},"
    "    {\"id\": 1}]}],"
    " \"servers\": [{\"instance\": 0, \"short_server_id\": 1, \"lifetime\": 86400,"
    "   \"notification_storing\": true, \"binding\": \"UQ\", \"last_bootstrapped\": 1700000000,"
    "   \"tls_dtls_alert_code\": 255, \"apn_link\": \"11:0\"}],"
    " \"security\": ["
    "  {\"instance\": 0, \"server_uri\": \"coaps://s\\u00e9\", \"bootstrap_server\": false,"
    "   \"security_mode\": 0, \"public_key_or_identity\": \"6964\","
    "   \"secret_key\": \"000102030405060708090a0b0c0d0e0f\", \"short_server_id\": 1,"
    "   \"client_hold_off_time\": 9223372036854775807,"
    "   \"dtls_tls_ciphersuite\": {\"0\": 49320, \"1\": 18446744073709551615},"
    "   \"oscore_security_mode\": \"21:0\", \"1000\": {\"hex\": \"aa\"}},"
    "  {\"instance\": 300, \"sms_binding_secret_keys\": {\"hex\": \"0102\"}, \"25\": {\"0\": {\"hex\": \"78\"}}}],"
    " \"versions\": {\"0\": \"1.1\"},"
    " \"digest\": \"ignored on input\","
    " \"read\": {\"card\": \"ignored on input too\", \"apdus\": 12}}";

/* The value bytes of /obj/inst/res (single) from the tree API. */
static bool value_of(const scb_bootstrap_t *bs, uint16_t obj, uint16_t inst, uint16_t res,
                     const uint8_t **v, size_t *len)
{
    for (size_t o = 0; o < scb_bootstrap_object_count(bs); o++) {
        scb_bs_object_t ob;
        scb_bootstrap_object(bs, o, &ob);
        for (size_t i = 0; ob.id == obj && i < ob.instance_count; i++) {
            scb_bs_instance_t in;
            scb_bootstrap_instance(bs, o, i, &in);
            for (size_t r = 0; in.id == inst && r < in.resource_count; r++) {
                scb_bs_resource_t rr;
                scb_bootstrap_resource(bs, o, i, r, &rr);
                if (rr.id == res && !rr.multiple) {
                    *v = rr.value;
                    *len = rr.value_len;
                    return true;
                }
            }
        }
    }
    return false;
}

static void check_value(const scb_bootstrap_t *bs, uint16_t obj, uint16_t inst, uint16_t res,
                        const char *hex)
{
    const uint8_t *v = NULL;
    size_t len = 0;
    TK_CHECK(value_of(bs, obj, inst, res, &v, &len));
    TK_EQ_HEX(v, len, hex);
}

static void test_full_document(void)
{
    scb_bootstrap_t *bs = from_json(full_doc);
    if (bs == NULL)
        return;
    /* canonical order: Security, Server, then "objects" as listed */
    static const uint16_t order[] = {0, 1, 2, 10241};
    TK_EQ_INT(scb_bootstrap_object_count(bs), 4);
    for (size_t o = 0; o < 4; o++) {
        scb_bs_object_t ob;
        scb_bootstrap_object(bs, o, &ob);
        TK_EQ_INT(ob.id, order[o]);
        if (o == 0)
            TK_CHECK(ob.version_major == 1 && ob.version_minor == 1);
        if (o == 1)
            TK_CHECK(ob.version_major == 0);
        if (o == 3)
            TK_CHECK(ob.version_major == 2 && ob.version_minor == 0 && ob.instance_count == 2);
    }
    /* values, encoded in their shortest forms */
    check_value(bs, 0, 0, 0, "636F6170733A2F2F73C3A9");
    check_value(bs, 0, 0, 1, "00");
    check_value(bs, 0, 0, 2, "00");
    check_value(bs, 0, 0, 3, "6964");
    check_value(bs, 0, 0, 5, "000102030405060708090A0B0C0D0E0F");
    check_value(bs, 0, 0, 11, "7FFFFFFFFFFFFFFF");
    check_value(bs, 0, 0, 17, "00150000");
    check_value(bs, 0, 0, 1000, "AA");
    check_value(bs, 0, 300, 8, "0102");
    check_value(bs, 1, 0, 1, "00015180");
    check_value(bs, 1, 0, 6, "01");
    check_value(bs, 1, 0, 7, "5551");
    check_value(bs, 1, 0, 10, "000B0000");
    check_value(bs, 1, 0, 11, "FF");
    check_value(bs, 1, 0, 12, "6553F100");
    check_value(bs, 2, 0, 3, "01");
    check_value(bs, 10241, 0, 6, "");

    scb_security_t sec;
    TK_EQ_RC(scb_bootstrap_security(bs, 0, &sec), SCB_OK);
    TK_CHECK(strcmp(sec.server_uri, "coaps://s\xC3\xA9") == 0);
    TK_EQ_INT(sec.bootstrap_server, 0);
    TK_EQ_INT(sec.client_hold_off_time, INT64_MAX);
    scb_server_t srv;
    TK_EQ_RC(scb_bootstrap_server(bs, 0, &srv), SCB_OK);
    TK_EQ_INT(srv.lifetime, 86400);

    /* the multiple-instance resources */
    scb_bs_resource_t r;
    uint16_t id;
    const uint8_t *v;
    size_t len;
    scb_bootstrap_resource(bs, 0, 0, 7, &r); /* dtls_tls_ciphersuite: the 8th key given */
    TK_CHECK(r.multiple && r.id == 16 && r.instance_count == 2);
    scb_bootstrap_resource_instance(bs, 0, 0, 7, 0, &id, &v, &len);
    TK_EQ_HEX(v, len, "C0A8");
    scb_bootstrap_resource_instance(bs, 0, 0, 7, 1, &id, &v, &len);
    TK_EQ_HEX(v, len, "FFFFFFFFFFFFFFFF");
    scb_bootstrap_resource(bs, 2, 0, 2, &r);
    TK_CHECK(r.multiple && r.id == 2 && r.instance_count == 2);
    scb_bootstrap_resource_instance(bs, 2, 0, 2, 1, &id, &v, &len);
    TK_CHECK(id == 1 && len == 1 && v[0] == 31);
    scb_bootstrap_resource(bs, 3, 0, 0, &r);
    TK_CHECK(r.multiple && r.id == 5 && r.instance_count == 0);
    scb_bootstrap_resource(bs, 3, 0, 2, &r);
    TK_CHECK(r.multiple && r.instance_count == 1);
    scb_bootstrap_resource_instance(bs, 3, 0, 2, 0, &id, &v, &len);
    TK_CHECK(id == 256 && len == 1 && v[0] == 0xAB);

    check_round_trip(bs);

    /* what the output says, typed */
    char *s = to_json(bs, SCBJ_SHOW_SECRETS);
    json_object *doc = json_tokener_parse(s);
    json_object *sec0 = json_object_array_get_idx(json_object_object_get(doc, "security"), 0);
    TK_CHECK(strcmp(json_object_get_string(json_object_object_get(sec0, "secret_key")),
                    "000102030405060708090a0b0c0d0e0f") == 0);
    TK_CHECK(strcmp(json_object_get_string(json_object_object_get(sec0, "oscore_security_mode")),
                    "21:0") == 0);
    json_object *cs = json_object_object_get(sec0, "dtls_tls_ciphersuite");
    TK_CHECK(json_object_get_uint64(json_object_object_get(cs, "1")) == UINT64_MAX);
    json_object *hex1000 = json_object_object_get(json_object_object_get(sec0, "1000"), "hex");
    TK_CHECK(strcmp(json_object_get_string(hex1000), "aa") == 0);
    TK_CHECK(strcmp(json_object_get_string(json_object_object_get(
                        json_object_object_get(doc, "versions"), "0")),
                    "1.1") == 0);
    json_object *acl = json_object_object_get(
        json_object_object_get(
            json_object_array_get_idx(
                json_object_object_get(
                    json_object_array_get_idx(json_object_object_get(doc, "objects"), 0),
                    "instances"),
                0),
            "resources"),
        "acl");
    TK_EQ_INT(json_object_get_int(json_object_object_get(acl, "1")), 31);
    json_object_put(doc);
    scbj_free(s);
    scb_bootstrap_free(&bs);
}

static void test_redaction(void)
{
    scb_bootstrap_t *bs = from_json(full_doc);
    if (bs == NULL)
        return;
    char *s = to_json(bs, 0);
    TK_CHECK(strstr(s, "000102030405") == NULL); /* the secret key is not in the text */
    json_object *doc = json_tokener_parse(s);
    json_object *list = json_object_object_get(doc, "security");
    TK_CHECK(strcmp(json_object_get_string(json_object_object_get(
                        json_object_array_get_idx(list, 0), "secret_key")),
                    SCBJ_REDACTED) == 0);
    TK_CHECK(strcmp(json_object_get_string(json_object_object_get(
                        json_object_array_get_idx(list, 1), "sms_binding_secret_keys")),
                    SCBJ_REDACTED) == 0);
    json_object_put(doc);

    /* a redacted document cannot be written back */
    scb_bootstrap_t *back = NULL;
    TK_EQ_RC(scbj_bootstrap_from_json(s, &back, detail, sizeof(detail)), SCB_E_VALIDATION);
    TK_CHECK(back == NULL);
    check_detail("security[0].secret_key: is \"<redacted>\"");
    scbj_free(s);
    scb_bootstrap_free(&bs);

    /* a string value that happens to read "<redacted>" stays writable */
    bs = from_json("{\"security\": [{\"server_uri\": {\"hex\": \"3c72656461637465643e\"}}]}");
    s = to_json(bs, SCBJ_COMPACT);
    TK_CHECK(strstr(s, "\"server_uri\":{\"hex\":\"3c72656461637465643e\"}") != NULL);
    check_round_trip(bs);
    scbj_free(s);
    scb_bootstrap_free(&bs);
}

/* Card data that is not valid for its OMA type survives as {"hex": ...}. */
static void test_hex_fallback(void)
{
    /* /0/0: URI with invalid UTF-8, Bootstrap-Server = 2, mode 7 (out of
     * range), SSID as 3 bytes; /0/1: URI as a multiple resource;
     * /2/0: ACL as a single resource; /1/0: Execute resource 4 with a value */
    const char *hex = "0003 002F"
                      "0000 00 0016 08000F C200C3FF C10102 C10207 C30A000001"
                      "             0201 8000"
                      "0001 00 0005 0300 C10401"
                      "0002 00 0005 0300 C10205";
    scb_bootstrap_t *bs = decode_hex(hex);
    if (bs == NULL)
        return;
    char *s = to_json(bs, SCBJ_COMPACT);
    TK_CHECK(strstr(s, "\"server_uri\":{\"hex\":\"c3ff\"}") != NULL);
    TK_CHECK(strstr(s, "\"bootstrap_server\":{\"hex\":\"02\"}") != NULL);
    TK_CHECK(strstr(s, "\"security_mode\":{\"hex\":\"07\"}") != NULL);
    TK_CHECK(strstr(s, "\"short_server_id\":{\"hex\":\"000001\"}") != NULL);
    TK_CHECK(strstr(s, "\"server_uri\":{}") != NULL);
    TK_CHECK(strstr(s, "\"disable\":{\"hex\":\"01\"}") != NULL);
    TK_CHECK(strstr(s, "\"acl\":{\"hex\":\"05\"}") != NULL);
    /* lossless: the same bytes come back */
    scb_bootstrap_t *back = from_json(s);
    size_t l1, l2;
    uint8_t *b1 = encode_alloc(bs, &l1), *b2 = encode_alloc(back, &l2);
    TK_EQ_MEM(b2, l2, b1, l1);
    free(b1);
    free(b2);
    scbj_free(s);
    scb_bootstrap_free(&back);
    scb_bootstrap_free(&bs);
}

static void test_versions(void)
{
    /* an explicit version with no instances keeps its (empty) object */
    scb_bootstrap_t *bs = from_json("{\"versions\": {\"0\": \"1.0\", \"1\": \"1.2\"}}");
    if (bs == NULL)
        return;
    TK_EQ_INT(scb_bootstrap_object_count(bs), 2);
    size_t len;
    uint8_t *b = encode_alloc(bs, &len);
    TK_EQ_HEX(b, len, "0002 000C 0000 0100 0000 0001 0102 0000");
    free(b);
    check_round_trip(bs);
    scb_bootstrap_free(&bs);

    /* an empty document is an empty file */
    bs = from_json("{}");
    b = encode_alloc(bs, &len);
    TK_EQ_HEX(b, len, "00000000");
    free(b);
    scb_bootstrap_free(&bs);
}

static void test_embedded_object(void)
{
    /* a profile embedding the bootstrap, as the virtual card's does */
    json_object *profile = json_tokener_parse(
        "{\"name\": \"card\", \"bootstrap\": {\"security\": [{\"server_uri\": \"coap://x\"}]}}");
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(scbj_bootstrap_from_object(json_object_object_get(profile, "bootstrap"), &bs, detail,
                                        sizeof(detail)),
             SCB_OK);
    check_value(bs, 0, 0, 0, "636F61703A2F2F78"); /* instance defaults to the index */
    json_object *out = NULL;
    TK_EQ_RC(scbj_bootstrap_to_object(bs, 0, &out), SCB_OK);
    TK_EQ_INT(json_object_array_length(json_object_object_get(out, "security")), 1);
    json_object_put(out);
    json_object_put(profile);
    scb_bootstrap_free(&bs);
}

static void test_validation(void)
{
    static const struct {
        const char *json;
        const char *want;
    } bad[] = {
        {"[]", "(top level): expected a JSON object"},
        {"{\"security\": {}}", "security: expected an array"},
        {"{\"objects\": 1}", "objects: expected an array"},
        {"{\"secutity\": []}", "(top level): unknown key 'secutity'"},
        {"{\"security\": [{\"security_mode\": 7}]}", "security[0].security_mode: expected integer 0..4"},
        {"{\"security\": [{\"security_mode\": \"3\"}]}", "security[0].security_mode: expected integer 0..4"},
        {"{\"security\": [{\"security_mode\": 3.0}]}", "security[0].security_mode: expected integer 0..4"},
        {"{\"security\": [{\"bootstrap_server\": 1}]}", "security[0].bootstrap_server: expected true or false"},
        {"{\"security\": [{\"server_uri\": 5}]}", "security[0].server_uri: expected a string"},
        {"{\"security\": [{\"server_uri\": \"a\\u0000b\"}]}", "security[0].server_uri: string holds a NUL"},
        {"{\"security\": [{\"public_key_or_identity\": \"abc\"}]}", "security[0].public_key_or_identity: expected an even number of hex digits"},
        {"{\"security\": [{\"public_key_or_identity\": \"0z\"}]}", "security[0].public_key_or_identity: not hex (character 2)"},
        {"{\"security\": [{\"foo\": 1}]}", "security[0].foo: not a resource of LwM2M Security"},
        {"{\"security\": [{\"1000\": 5}]}", "security[0].1000: resource not in the object table: expected {\"hex\": \"...\"}"},
        {"{\"security\": [{\"1000\": {\"hex\": \"aa\", \"x\": 1}}]}", "security[0].1000: {\"hex\": ...} takes no other keys"},
        {"{\"security\": [{\"1000\": {\"hex\": 5}}]}", "security[0].1000.hex: expected a string of hex digits"},
        {"{\"security\": [{\"instance\": 0}, {\"instance\": 0}]}", "security[1].instance: instance 0 appears twice"},
        {"{\"security\": [{\"instance\": -1}]}", "security[0].instance: expected integer 0..65535"},
        {"{\"security\": [{\"0\": \"coap://x\", \"server_uri\": \"coap://y\"}]}", "security[0].server_uri: resource 0 appears twice"},
        {"{\"security\": [{\"dtls_tls_ciphersuite\": 5}]}", "security[0].dtls_tls_ciphersuite: multiple-instance resource: expected an object"},
        {"{\"security\": [{\"dtls_tls_ciphersuite\": {\"a\": 1}}]}", "security[0].dtls_tls_ciphersuite.a: expected a decimal resource instance id"},
        {"{\"security\": [{\"dtls_tls_ciphersuite\": {\"01\": 1}}]}", "dtls_tls_ciphersuite.01: expected a decimal"},
        {"{\"security\": [{\"dtls_tls_ciphersuite\": {\"0\": -1}}]}", "security[0].dtls_tls_ciphersuite.0: expected an unsigned integer"},
        {"{\"security\": [{\"matching_type\": 4}]}", "security[0].matching_type: expected integer 0..3"},
        {"{\"security\": [{\"oscore_security_mode\": \"21\"}]}", "security[0].oscore_security_mode: expected an object link"},
        {"{\"security\": [{\"oscore_security_mode\": \"21:65536\"}]}", "expected an object link"},
        {"{\"security\": [{\"server_uri\": {\"0\": \"x\"}}]}", "security[0].server_uri.0: single-instance in the object table"},
        {"{\"security\": [{\"secret_key\": {\"hex\": \"<redacted>\"}}]}", "security[0].secret_key.hex: is \"<redacted>\""},
        {"{\"security\": [{\"server_uri\": \"<redacted>\"}]}", "security[0].server_uri: is \"<redacted>\""},
        {"{\"security\": [5]}", "security[0]: expected an object"},
        {"{\"servers\": [{\"disable\": 1}]}", "servers[0].disable: resource without a value type (Execute)"},
        {"{\"servers\": [{\"lifetime\": 18446744073709551615}]}", "servers[0].lifetime: expected a non-negative integer"},
        {"{\"servers\": [{\"lifetime\": 18446744073709551616}]}", "JSON text: integer beyond 64 bits (line 1, column 27)"},
        {"{\"servers\": [{\"lifetime\": -9223372036854775809}]}", "JSON text: integer beyond 64 bits"},
        {"{\"objects\": [{\"id\": 0}]}", "objects[0].id: objects 0 and 1 belong in \"security\" and \"servers\""},
        {"{\"objects\": [{\"instances\": []}]}", "objects[0]: missing \"id\""},
        {"{\"objects\": [{\"id\": 70000}]}", "objects[0].id: expected integer 0..65535"},
        {"{\"objects\": [{\"id\": 5, \"version\": \"0.1\"}]}", "objects[0].version: expected \"major.minor\""},
        {"{\"objects\": [{\"id\": 5, \"version\": \"1.256\"}]}", "objects[0].version: expected"},
        {"{\"objects\": [{\"id\": 5, \"foo\": 1}]}", "objects[0]: unknown key 'foo'"},
        {"{\"objects\": [{\"id\": 5}, {\"id\": 5}]}", "objects[1].id: object 5 appears twice"},
        {"{\"objects\": [{\"id\": 5, \"instances\": {}}]}", "objects[0].instances: expected an array"},
        {"{\"objects\": [{\"id\": 5, \"instances\": [{\"id\": 1}, {\"id\": 1}]}]}", "objects[0].instances[1].id: instance 1 appears twice"},
        {"{\"objects\": [{\"id\": 5, \"instances\": [{\"x\": 1}]}]}", "objects[0].instances[0]: unknown key 'x'"},
        {"{\"objects\": [{\"id\": 5, \"instances\": [{\"resources\": []}]}]}", "objects[0].instances[0].resources: expected an object of resources"},
        {"{\"objects\": [{\"id\": 5, \"instances\": [{\"resources\": {\"name\": 1}}]}]}", "objects[0].instances[0].resources.name: object 5 has no resource names: use decimal resource ids"},
        {"{\"objects\": [{\"id\": 2, \"instances\": [{\"resources\": {\"acl\": {\"0\": 32}}}]}]}", "objects[0].instances[0].resources.acl.0: expected integer 0..31"},
        {"{\"versions\": {\"2\": \"1.0\"}}", "versions.2: only objects \"0\" and \"1\""},
        {"{\"versions\": {\"0\": \"1.x\"}}", "versions.0: expected \"major.minor\""},
        {"{\"versions\": []}", "versions: expected an object"},
        {"{\"security\": [}", "JSON text: "},
        {"{} x", "JSON text: unexpected character (line 1, column 4)"},
        {"{", "JSON text: "},
        {"{\"a\xFF\": 1}", "JSON text: "},
        {"{\"se\x01\": 1}", "(top level): unknown key 'se?'"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++)
        check_refused(bad[i].json, bad[i].want);

    /* sizes: one value beyond the file, or a file beyond 32 KB */
    size_t big = 2 * SCB_MAX_FILE_SIZE + 2;
    char *json = malloc(2 * 40000 + 200); /* room for both documents below */
    strcpy(json, "{\"security\": [{\"public_key_or_identity\": \"");
    size_t n = strlen(json);
    memset(json + n, '0', big);
    strcpy(json + n + big, "\"}]}");
    scb_bootstrap_t *bs = NULL;
    TK_EQ_RC(scbj_bootstrap_from_json(json, &bs, detail, sizeof(detail)), SCB_E_VALIDATION);
    check_detail("security[0].public_key_or_identity: longer than the 32768-byte file");
    strcpy(json, "{\"security\": [{\"public_key_or_identity\": \"");
    memset(json + n, '0', 40000);
    strcpy(json + n + 40000, "\", \"server_public_key\": \"");
    size_t m = strlen(json);
    memset(json + m, '0', 40000);
    strcpy(json + m + 40000, "\"}]}");
    TK_EQ_RC(scbj_bootstrap_from_json(json, &bs, detail, sizeof(detail)), SCB_E_FILE_TOO_LARGE);
    check_detail("(top level): the bootstrap file would exceed 32768 bytes");
    TK_CHECK(bs == NULL);
    free(json);

    TK_EQ_RC(scbj_bootstrap_from_json(NULL, &bs, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    TK_EQ_RC(scbj_bootstrap_from_json("{}", NULL, detail, sizeof(detail)), SCB_E_INVALID_ARG);
    char *s = (char *)detail;
    TK_EQ_RC(scbj_bootstrap_to_json(NULL, 0, &s), SCB_E_INVALID_ARG);
    TK_CHECK(s == NULL);
    scbj_free(NULL);
}

/* Decoded card files survive JSON and back: the hand-made mutations of the
 * Nordic file that still decode, through JSON, give the same model again. */
static void test_decoded_round_trips(void)
{
    uint8_t raw[64];
    size_t len = tk_unhex(nordic_hex, raw, sizeof(raw));
    uint32_t seed = 7;
    int checked = 0;
    for (int round = 0; round < 3000; round++) {
        uint8_t m[64];
        memcpy(m, raw, len);
        seed = seed * 1103515245u + 12345u;
        size_t at = 9 + (seed >> 8) % (len - 11); /* inside the TLV */
        seed = seed * 1103515245u + 12345u;
        m[at] = (uint8_t)(seed >> 16);
        scb_bootstrap_t *bs = NULL;
        if (scb_bootstrap_decode(&bs, m, len, NULL, 0) != SCB_OK)
            continue;
        check_round_trip(bs);
        checked++;
        scb_bootstrap_free(&bs);
    }
    TK_CHECK(checked > 500);
}

/* One value as the document renders it: typed, or {"hex"} when the bytes
 * are not a value of the resource's type, range or multiplicity. */
static void test_value_to_json(void)
{
    static const struct {
        uint16_t obj, res;
        int multiple;
        const char *hex;
        unsigned flags;
        const char *want;
    } cases[] = {
        {0, 0, 0, "636f6170", 0, "\"coap\""},
        {0, 0, 0, "fffe", 0, "{\"hex\":\"fffe\"}"},        /* not UTF-8 */
        {0, 2, 0, "03", 0, "3"},
        {0, 2, 0, "07", 0, "{\"hex\":\"07\"}"},            /* Security Mode 0..4 */
        {0, 11, 0, "000001", 0, "{\"hex\":\"000001\"}"},   /* a 3-byte integer */
        {0, 1, 0, "01", 0, "true"},
        {0, 3, 0, "6964", 0, "\"6964\""},                    /* opaque: hex text */
        {0, 5, 0, "0011", 0, "\"<redacted>\""},
        {0, 5, 0, "0011", SCBJ_SHOW_SECRETS, "\"0011\""},
        {0, 17, 0, "00150003", 0, "\"21:3\""},
        {0, 16, 1, "c0a8", 0, "49320"},
        {0, 16, 0, "c0a8", 0, "{\"hex\":\"c0a8\"}"},      /* single: not the table's */
        {2, 2, 0, "0f", 0, "{\"hex\":\"0f\"}"},
        {2, 2, 1, "0f", 0, "15"},
        {0, 1000, 0, "aa", 0, "{\"hex\":\"aa\"}"},         /* unknown resource */
        {1, 7, 0, "55", 0, "\"U\""},
        {1, 7, 0, "", 0, "{\"hex\":\"\"}"},              /* no binding letter */
        {1, 1, 0, "ff", 0, "{\"hex\":\"ff\"}"},          /* a negative lifetime */
        {1, 1, 0, "00", 0, "0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t v[16];
        size_t len = tk_unhex(cases[i].hex, v, sizeof(v));
        char *s = NULL;
        TK_EQ_RC(scbj_value_to_json(cases[i].obj, cases[i].res, cases[i].multiple, v, len,
                                    cases[i].flags | SCBJ_COMPACT, &s),
                 SCB_OK);
        TK_CHECK(s != NULL && strcmp(s, cases[i].want) == 0);
        if (s != NULL && strcmp(s, cases[i].want) != 0)
            fprintf(stderr, "case %zu: got %s, want %s\n", i, s, cases[i].want);
        scbj_free(s);
    }
    char *s = NULL;
    TK_EQ_RC(scbj_value_to_json(0, 0, 0, NULL, 1, 0, &s), SCB_E_INVALID_ARG);
    TK_CHECK(s == NULL);
    TK_EQ_RC(scbj_value_to_json(0, 0, 0, NULL, 0, 0, NULL), SCB_E_INVALID_ARG);
}

/* A member name given twice in one object: json-c keeps the last without
 * a word (a second "security": [] dropped every account); the text is
 * refused, naming the member and both places. */
static void test_duplicate_names(void)
{
    static const struct {
        const char *json;
        const char *want;
    } bad[] = {
        {"{\"security\": [{\"server_uri\": \"coaps://a\"}],\n \"security\": []}",
         "security: key appears twice (line 2, column 2; first at line 1, column 2)"},
        {"{\"security\": [{\"server_uri\": \"a\", \"server_uri\": \"b\"}]}",
         "security[0].server_uri: key appears twice (line 1, column 35; first at line 1, "
         "column 16)"},
        /* an escape spells the same name */
        {"{\"security\": [], \"secu\\u0072ity\": []}",
         "security: key appears twice (line 1, column 18; first at line 1, column 2)"},
        {"{\"servers\": [{\"short_server_id\": 1}, {\"lifetime\": 1, \"lifetime\": 2}]}",
         "servers[1].lifetime: key appears twice"},
        {"{\"objects\": [{\"id\": 5, \"instances\": [{\"resources\": {\"0\": {\"hex\": \"aa\", "
         "\"hex\": \"bb\"}}}]}]}",
         "objects[0].instances[0].resources.0.hex: key appears twice"},
        /* columns count characters, lines end at \n (CRLF too) */
        {"{\"\xC3\xA9\": 1, \"\xC3\xA9\": 2}", "key appears twice (line 1, column 10; first at "
                                               "line 1, column 2)"},
        {"{\r\n\"versions\": {},\r\n\"versions\": {}}",
         "versions: key appears twice (line 3, column 1; first at line 2, column 1)"},
        /* json-c cuts a name at NUL, which would make these one name */
        {"{\"security\": [], \"security\\u0000x\": []}",
         "(top level): a member name holds a NUL character (line 1, column 18)"},
        {"{\"servers\": [{\"a\\u0000\": 1}]}",
         "servers[0]: a member name holds a NUL character (line 1, column 15)"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++)
        check_refused(bad[i].json, bad[i].want);
    /* the same name in different objects, names inside string values and
     * names that differ only in case are fine */
    static const char *const good[] = {
        "{\"security\": [{\"instance\": 0, \"server_uri\": \"\\\"security\\\": [],\"}, "
        "{\"instance\": 1, \"server_uri\": \"x\"}], \"servers\": [{\"short_server_id\": 1}]}",
        "{\"objects\": [{\"id\": 5, \"instances\": [{\"resources\": {\"0\": {\"hex\": \"aa\"}, "
        "\"1\": {\"hex\": \"bb\"}}}]}, {\"id\": 6, \"instances\": [{\"resources\": {\"0\": "
        "{\"hex\": \"aa\"}}}]}]}",
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(good); i++) {
        scb_bootstrap_t *bs = from_json(good[i]);
        scb_bootstrap_free(&bs);
    }
    check_refused("{\"Security\": [], \"security\": []}",
                  "(top level): unknown key 'Security'"); /* not "appears twice" */

    /* deep paths stay bounded */
    char deep[2048];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"objects\": [{\"id\": 5, \"instances\": "
                                                      "[{\"resources\": {\"0\": ");
    for (int d = 0; d < 24; d++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"a_rather_long_member_name\": ");
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"x\": 1, \"x\": 2}");
    for (int d = 0; d < 24; d++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "}");
    snprintf(deep + n, sizeof(deep) - n, "}}]}]}");
    check_refused(deep, "...: key appears twice (line 1, column ");
}

/* RFC 8259 8.1: a parser may ignore a byte order mark; editors on Windows
 * write one. */
static void test_byte_order_mark(void)
{
    scb_bootstrap_t *bs = from_json("\xEF\xBB\xBF{\"servers\": [{\"short_server_id\": 1}]}");
    TK_CHECK(bs != NULL && scb_bootstrap_server_count(bs) == 1);
    scb_bootstrap_free(&bs);
    /* positions count from after it; a second one is no mark */
    check_refused("\xEF\xBB\xBF{} x", "JSON text: unexpected character (line 1, column 4)");
    check_refused("\xEF\xBB\xBF\xEF\xBB\xBF{}", "JSON text: ");
    check_refused("\xEF\xBB", "JSON text: ");
}

/* Syntax errors say where: json-c's parse end as line and column. */
static void test_line_column(void)
{
    static const struct {
        const char *json;
        const char *want;
    } bad[] = {
        {"{\n  \"servers\": [\n    {\"short_server_id\": 1,, \"lifetime\": 5}\n  ]\n}\n",
         "JSON text: quoted object property name expected (line 3, column 27)"},
        {"{\"servers\": [{\"lifetime\": 1}]\n}\n{}", "JSON text: unexpected character (line 3, "
                                                  "column 1)"},
        {"{\"servers\": [\n", "JSON text: incomplete document (the text ends at line 2, column 1)"},
        {"{\"a\": \"\xC3\xA9\xFF\"}", "JSON text: invalid utf-8 string (line 1, column 9)"},
        {"\n\n   {\"servers\": [{\"lifetime\": 99999999999999999999}]}",
         "JSON text: integer beyond 64 bits (line 3, column 30)"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++)
        check_refused(bad[i].json, bad[i].want);
}

/* Values outside the OMA object definitions are refused with their path
 * (one definition: scb_lwm2m_value_check), and the same values read from
 * a card are rendered {"hex": ...}, so they still round-trip. */
static void test_object_definition_ranges(void)
{
    char uri256[300] = "{\"security\": [{\"server_uri\": \"";
    size_t n = strlen(uri256);
    memset(uri256 + n, 'a', 256);
    strcpy(uri256 + n + 256, "\"}]}");
    const struct {
        const char *json;
        const char *want;
    } bad[] = {
        {"{\"servers\": [{\"short_server_id\": 1, \"lifetime\": -5}]}",
         "servers[0].lifetime: expected a non-negative integer"},
        {"{\"servers\": [{\"default_min_period\": -1}]}",
         "servers[0].default_min_period: expected a non-negative integer"},
        {"{\"servers\": [{\"default_max_period\": -1}]}",
         "servers[0].default_max_period: expected a non-negative integer"},
        {"{\"servers\": [{\"disable_timeout\": -86400}]}",
         "servers[0].disable_timeout: expected a non-negative integer"},
        {"{\"servers\": [{\"lifetime\": \"60\"}]}",
         "servers[0].lifetime: expected a non-negative integer"},
        {"{\"security\": [{\"client_hold_off_time\": -1}]}",
         "security[0].client_hold_off_time: expected a non-negative integer"},
        {"{\"security\": [{\"bootstrap_server_account_timeout\": -1}]}",
         "security[0].bootstrap_server_account_timeout: expected a non-negative integer"},
        {"{\"servers\": [{\"short_server_id\": 0}]}",
         "servers[0].short_server_id: expected integer 1..65534"},
        {"{\"servers\": [{\"short_server_id\": 65535}]}",
         "servers[0].short_server_id: expected integer 1..65534"},
        {"{\"security\": [{\"short_server_id\": 65535}]}",
         "security[0].short_server_id: expected integer 1..65534"},
        {"{\"security\": [{\"security_mode\": 5}]}", "security[0].security_mode: expected integer 0..4"},
        {"{\"security\": [{\"groups_to_use\": {\"0\": 65536}}]}",
         "security[0].groups_to_use.0: expected integer 0..65535"},
        {"{\"servers\": [{\"binding\": \"UX\"}]}",
         "servers[0].binding: expected transport binding letters (one or more of U, T, S, N, "
         "M, H, each once; Q only after U or S)"},
        {"{\"servers\": [{\"binding\": \"UU\"}]}", "servers[0].binding: expected transport"},
        {"{\"servers\": [{\"binding\": \"QU\"}]}", "servers[0].binding: expected transport"},
        {"{\"servers\": [{\"binding\": \"TQ\"}]}", "servers[0].binding: expected transport"},
        {"{\"servers\": [{\"binding\": \"u\"}]}", "servers[0].binding: expected transport"},
        {"{\"servers\": [{\"binding\": \"\"}]}", "servers[0].binding: expected transport"},
        {"{\"servers\": [{\"preferred_transport\": \"US\"}]}",
         "servers[0].preferred_transport: expected one transport binding letter"},
        {"{\"servers\": [{\"preferred_transport\": \"Q\"}]}",
         "servers[0].preferred_transport: expected one transport binding letter"},
        {uri256, "security[0].server_uri: expected at most 255 bytes, got 256"},
        {"{\"security\": [{\"secondary_server_uri\": {\"0\": 5}}]}",
         "security[0].secondary_server_uri.0: expected a string"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++)
        check_refused(bad[i].json, bad[i].want);
    static const char *const good[] = {
        "{\"servers\": [{\"short_server_id\": 1, \"lifetime\": 0, \"default_min_period\": 0, "
        "\"default_max_period\": 9223372036854775807, \"disable_timeout\": 86400}]}",
        "{\"servers\": [{\"short_server_id\": 65534, \"binding\": \"U\"}]}",
        "{\"servers\": [{\"binding\": \"UQ\"}, {\"binding\": \"UQS\"}, {\"binding\": \"SQ\"}, "
        "{\"binding\": \"US\"}, {\"binding\": \"S\"}, {\"binding\": \"T\"}, {\"binding\": \"N\"}, "
        "{\"binding\": \"UT\"}, {\"binding\": \"M\"}, {\"binding\": \"H\"}, {\"binding\": \"USQ\"}, "
        "{\"preferred_transport\": \"T\"}]}",
        /* the lossless escape takes any bytes */
        "{\"servers\": [{\"lifetime\": {\"hex\": \"ff\"}, \"binding\": {\"hex\": \"5558\"}}]}",
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(good); i++) {
        scb_bootstrap_t *bs = from_json(good[i]);
        scb_bootstrap_free(&bs);
    }
    uri256[n + 255] = '"';
    strcpy(uri256 + n + 256, "}]}");
    scb_bootstrap_t *bs = from_json(uri256); /* 255 bytes: the limit */
    scb_bootstrap_free(&bs);

    /* card data out of range: rendered {"hex"}, accepted back as it is */
    bs = from_json("{\"servers\": [{\"lifetime\": {\"hex\": \"ff\"}, \"binding\": {\"hex\": \"5558\"}, "
                   "\"short_server_id\": {\"hex\": \"00\"}, \"default_min_period\": {\"hex\": \"00\"}}]}");
    char *s = to_json(bs, SCBJ_COMPACT);
    TK_CHECK(s != NULL && strstr(s, "\"lifetime\":{\"hex\":\"ff\"},\"binding\":{\"hex\":\"5558\"},"
                                    "\"short_server_id\":{\"hex\":\"00\"},"
                                    "\"default_min_period\":0") != NULL);
    if (s != NULL)
        check_round_trip(bs);
    scbj_free(s);
    scb_bootstrap_free(&bs);
}

/* Accounts a client will likely refuse: accepted, and reported. */
static void test_warnings(void)
{
    scb_bootstrap_t *bs = from_json(
        "{\"security\": [{\"server_uri\": \"coaps://a\", \"short_server_id\": 1},"
        " {\"security_mode\": 3, \"short_server_id\": 2},"
        " {\"server_uri\": \"coaps://b\", \"bootstrap_server\": false},"
        " {\"server_uri\": \"coaps://bs\", \"bootstrap_server\": true}],"
        " \"servers\": [{\"short_server_id\": 1}, {\"lifetime\": 60}]}");
    if (bs == NULL)
        return;
    static const char *const want[] = {
        "security[1]: no server_uri",
        "security[2]: no short_server_id (needed unless bootstrap_server is true)",
        "servers[1]: no short_server_id",
    };
    char w[128];
    for (size_t i = 0; i < SCB_ARRAY_LEN(want); i++) {
        TK_EQ_RC(scbj_bootstrap_warning(bs, i, w, sizeof(w)), SCB_OK);
        TK_CHECK(strcmp(w, want[i]) == 0);
        if (strcmp(w, want[i]) != 0)
            fprintf(stderr, "warning %zu: '%s', want '%s'\n", i, w, want[i]);
    }
    TK_EQ_RC(scbj_bootstrap_warning(bs, SCB_ARRAY_LEN(want), w, sizeof(w)), SCB_E_NOT_FOUND);
    TK_CHECK(w[0] == 0);
    char small[12];
    TK_EQ_RC(scbj_bootstrap_warning(bs, 0, small, sizeof(small)), SCB_OK); /* truncated */
    TK_CHECK(strlen(small) == sizeof(small) - 1);
    TK_EQ_RC(scbj_bootstrap_warning(NULL, 0, w, sizeof(w)), SCB_E_INVALID_ARG);
    TK_EQ_RC(scbj_bootstrap_warning(bs, 0, NULL, 0), SCB_E_INVALID_ARG);
    scb_bootstrap_free(&bs);

    /* full_doc's second account holds only SMS keys */
    bs = from_json(full_doc);
    TK_EQ_RC(scbj_bootstrap_warning(bs, 0, w, sizeof(w)), SCB_OK);
    TK_CHECK(strcmp(w, "security[1]: no server_uri") == 0);
    TK_EQ_RC(scbj_bootstrap_warning(bs, 1, w, sizeof(w)), SCB_OK);
    TK_CHECK(strncmp(w, "security[1]: no short_server_id", 31) == 0);
    TK_EQ_RC(scbj_bootstrap_warning(bs, 2, w, sizeof(w)), SCB_E_NOT_FOUND);
    scb_bootstrap_free(&bs);
    /* a complete file, and the Nordic one (a bootstrap-server account), have none */
    bs = from_json("{\"security\": [{\"server_uri\": \"coaps://a\", \"short_server_id\": 1}],"
                   " \"servers\": [{\"short_server_id\": 1}]}");
    TK_EQ_RC(scbj_bootstrap_warning(bs, 0, w, sizeof(w)), SCB_E_NOT_FOUND);
    scb_bootstrap_free(&bs);
    bs = decode_hex(nordic_hex);
    TK_EQ_RC(scbj_bootstrap_warning(bs, 0, w, sizeof(w)), SCB_E_NOT_FOUND);
    scb_bootstrap_free(&bs);
}

int main(void)
{
    TK_RUN(test_nordic);
    TK_RUN(test_full_document);
    TK_RUN(test_redaction);
    TK_RUN(test_hex_fallback);
    TK_RUN(test_versions);
    TK_RUN(test_embedded_object);
    TK_RUN(test_validation);
    TK_RUN(test_decoded_round_trips);
    TK_RUN(test_value_to_json);
    TK_RUN(test_duplicate_names);
    TK_RUN(test_byte_order_mark);
    TK_RUN(test_line_column);
    TK_RUN(test_object_definition_ranges);
    TK_RUN(test_warnings);
    return tk_done();
}
