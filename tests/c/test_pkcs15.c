/* PKCS#15 parsers: the recorded Nordic ODF/DODF vectors, hand-made
 * EF.DIR / ODF / DODF / AODF variants, and malformed input. */
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

static void check_path(const scb_path_t *p, const char *hex)
{
    TK_EQ_HEX(p->bytes, p->len, hex);
}

/* ---- the recorded vectors ---- */
static void check_odf_vector(json_object *e, const uint8_t *raw, size_t len)
{
    json_object *expect = json_object_object_get(e, "expect");
    json_object *entries = json_object_object_get(expect, "entries");
    scb_odf_entry_t got[8];
    size_t n = SCB_ARRAY_LEN(got);
    TK_EQ_RC(scb_pkcs15_parse_odf_entries(raw, len, got, &n, detail, sizeof(detail)), SCB_OK);
    TK_EQ_INT(n, json_object_array_length(entries));
    for (size_t i = 0; i < n && i < json_object_array_length(entries); i++) {
        json_object *pair = json_object_array_get_idx(entries, i);
        uint8_t tag;
        tk_unhex(json_object_get_string(json_object_array_get_idx(pair, 0)), &tag, 1);
        TK_EQ_INT(got[i].tag, tag);
        check_path(&got[i].path, json_object_get_string(json_object_array_get_idx(pair, 1)));
        TK_CHECK(!got[i].path.has_range);
    }
    scb_path_t paths[4];
    n = SCB_ARRAY_LEN(paths);
    TK_EQ_RC(scb_pkcs15_parse_odf(raw, len, paths, &n, detail, sizeof(detail)), SCB_OK);
    TK_EQ_INT(n, 1);
    check_path(&paths[0], tk_json_str(expect, "dodf_path"));
}

static void check_dodf_vector(json_object *e, const uint8_t *raw, size_t len)
{
    json_object *expect = json_object_object_get(e, "expect");
    const char *path = tk_json_str(expect, "bootstrap_path");
    scb_dodf_entry_t d;
    int rc = scb_pkcs15_find_bootstrap(raw, len, &d, detail, sizeof(detail));
    if (path == NULL) {
        TK_EQ_RC(rc, SCB_E_NO_BOOTSTRAP);
        check_detail("no entry with the LwM2M bootstrap OID");
        return;
    }
    TK_EQ_RC(rc, SCB_OK);
    check_path(&d.path, path);
    TK_CHECK(strcmp(d.label, tk_json_str(expect, "label")) == 0);
    TK_EQ_HEX(d.oid_value, d.oid_value_len, tk_json_str(expect, "oid_value"));
    json_object *mis = json_object_object_get(expect, "oid_misencoded");
    TK_EQ_INT(d.oid_form == SCB_OID_DO_ID_MISENCODED, json_object_get_boolean(mis));
    TK_EQ_INT(d.oid_form, SCB_OID_DO_ID_MISENCODED); /* the Nordic entry is an oidDO */
    TK_EQ_INT(d.private_flag, 0);                    /* empty CommonObjectAttributes */
    TK_EQ_INT(d.modifiable_flag, 0);
    TK_EQ_INT(d.has_auth_id, 0);
    TK_CHECK(!d.path.has_range);
}

static void test_vectors(void)
{
    json_object *root = tk_load_vectors("lwm2m.json");
    json_object *entries = json_object_object_get(root, "entries");
    int odf = 0, dodf = 0;
    for (size_t i = 0; i < json_object_array_length(entries); i++) {
        json_object *e = json_object_array_get_idx(entries, i);
        const char *kind = tk_json_str(e, "kind");
        size_t len;
        uint8_t *raw = tk_unhex_alloc(tk_json_str(e, "raw"), &len);
        if (strcmp(kind, "odf") == 0) {
            check_odf_vector(e, raw, len);
            odf++;
        } else if (strcmp(kind, "dodf") == 0) {
            check_dodf_vector(e, raw, len);
            dodf++;
        }
        free(raw);
    }
    TK_EQ_INT(odf, 2);
    TK_EQ_INT(dodf, 2);
    json_object_put(root);
}

/* Every proper prefix of the Nordic ODF and DODF is malformed. */
static void test_vector_truncations(void)
{
    static const char *const files[] = {
        "A706300404026430",
        "A127300030110C0F4C774D324D20426F6F747374726170A110300E06060604672B0901300404026432",
    };
    for (size_t f = 0; f < SCB_ARRAY_LEN(files); f++) {
        size_t len;
        uint8_t *raw = tk_unhex_alloc(files[f], &len);
        for (size_t cut = 1; cut < len; cut++) {
            uint8_t *copy = malloc(cut); /* exact size: ASan sees any overread */
            memcpy(copy, raw, cut);
            detail[0] = 0;
            if (f == 0) {
                scb_path_t p[2];
                size_t n = 2;
                TK_EQ_RC(scb_pkcs15_parse_odf(copy, cut, p, &n, detail, sizeof(detail)),
                         SCB_E_PARSE);
                check_detail("ODF");
            } else {
                scb_dodf_entry_t d;
                TK_EQ_RC(scb_pkcs15_find_bootstrap(copy, cut, &d, detail, sizeof(detail)),
                         SCB_E_PARSE);
                check_detail("DODF");
            }
            free(copy);
        }
        free(raw);
    }
}

/* ---- EF.DIR ---- */
static int parse_dir_hex(const char *hex, scb_app_template_t *app)
{
    size_t len;
    uint8_t *raw = tk_unhex_alloc(hex, &len);
    detail[0] = 0;
    int rc = scb_pkcs15_parse_dir(raw, len, app, detail, sizeof(detail));
    free(raw);
    return rc;
}

static void test_dir(void)
{
    scb_app_template_t app;
    TK_EQ_HEX(scb_pkcs15_default_aid(), SCB_PKCS15_AID_LEN, "A000000063504B43532D3135");

    /* a USIM template, then the PKCS#15 one, then FF padding */
    TK_EQ_RC(parse_dir_hex("610F 4F07A0000000871002 50045553494D"
                           "611C 4F0CA000000063504B43532D3135 5006503135617070 51043F005015"
                           "FFFFFF",
                           &app),
             SCB_OK);
    TK_EQ_HEX(app.aid, app.aid_len, "A000000063504B43532D3135");
    TK_CHECK(strcmp(app.label, "P15app") == 0);
    check_path(&app.path, "3F005015");

    /* an AID with a suffix after RID + PIX still matches; 00 padding */
    TK_EQ_RC(parse_dir_hex("0000 6111 4F0DA000000063504B43532D313501 5000", &app), SCB_OK);
    TK_EQ_INT(app.aid_len, 13);
    TK_EQ_INT(app.path.len, 0);
    TK_CHECK(app.label[0] == 0);

    TK_EQ_RC(parse_dir_hex("610F 4F07A0000000871002 50045553494D FFFF", &app), SCB_E_NOT_FOUND);
    check_detail("no PKCS#15 application");
    TK_EQ_RC(parse_dir_hex("FFFFFFFF", &app), SCB_E_NOT_FOUND);
    TK_EQ_RC(parse_dir_hex("6113 4F11A000000063504B43532D31350102030405", &app), SCB_E_PARSE);
    check_detail("EF.DIR template 1 at offset 2: AID (4F) of 17 bytes");
    TK_EQ_RC(parse_dir_hex("6110 4F0CA000000063504B43532D3135 5105", &app), SCB_E_PARSE);
    check_detail("runs past");
    TK_EQ_RC(parse_dir_hex("6116 4F0CA000000063504B43532D3135 5106 410A42FF43", &app), SCB_E_PARSE);

    /* labels: control characters and invalid UTF-8 become '?' */
    TK_EQ_RC(parse_dir_hex("6115 4F0CA000000063504B43532D3135 5005410A42FF43", &app), SCB_OK);
    TK_CHECK(strcmp(app.label, "A?B?C") == 0);
    /* a long label is cut at a character boundary */
    char hex[400] = "6152 4F0CA000000063504B43532D3135 5042";
    for (int i = 0; i < 33; i++)
        strcat(hex, "C3A9");
    TK_EQ_RC(parse_dir_hex(hex, &app), SCB_OK);
    TK_EQ_INT(strlen(app.label), 62);
    TK_EQ_RC(scb_value_check_string((const uint8_t *)app.label, strlen(app.label)), SCB_OK);
}

/* ---- ODF ---- */
static int parse_odf_hex(const char *hex, scb_odf_entry_t *e, size_t *n)
{
    size_t len;
    uint8_t *raw = tk_unhex_alloc(hex, &len);
    detail[0] = 0;
    int rc = scb_pkcs15_parse_odf_entries(raw, len, e, n, detail, sizeof(detail));
    free(raw);
    return rc;
}

static void test_odf(void)
{
    scb_odf_entry_t e[4];
    size_t n = 4;
    /* a Path with index and length; an entry holding objects directly; 00 padding */
    TK_EQ_RC(parse_odf_hex("A70C 300A 04026430 020100 800110  A804 A0023000  A8063004 04024401"
                           "0000",
                           e, &n),
             SCB_OK);
    TK_EQ_INT(n, 2);
    TK_EQ_INT(e[0].tag, 0xA7);
    check_path(&e[0].path, "6430");
    TK_CHECK(e[0].path.has_range);
    TK_EQ_INT(e[0].path.index, 0);
    TK_EQ_INT(e[0].path.length, 16);
    TK_EQ_INT(e[1].tag, 0xA8);
    check_path(&e[1].path, "4401");

    /* capacity: the first entries filled, the count of all returned */
    scb_path_t p[1];
    size_t np = 1;
    size_t len;
    uint8_t *raw = tk_unhex_alloc("A706300404026430 A706300404026431", &len);
    TK_EQ_RC(scb_pkcs15_parse_odf(raw, len, p, &np, detail, sizeof(detail)),
             SCB_E_BUFFER_TOO_SMALL);
    TK_EQ_INT(np, 2);
    check_path(&p[0], "6430");
    free(raw);

    /* none: not an error */
    n = 4;
    TK_EQ_RC(parse_odf_hex("A506300404024404FFFF", e, &n), SCB_OK);
    np = 1;
    raw = tk_unhex_alloc("A506300404024404", &len);
    TK_EQ_RC(scb_pkcs15_parse_odf(raw, len, p, &np, detail, sizeof(detail)), SCB_OK);
    TK_EQ_INT(np, 0);
    free(raw);

    static const struct {
        const char *hex;
        int rc;
        const char *want;
    } bad[] = {
        {"3000", SCB_E_PARSE, "ODF at offset 0: entry 1: tag 30 is not a PKCS15Objects choice"},
        {"A700", SCB_E_PARSE, "ODF entry 1 at offset 0: empty entry"},
        {"A707 300404026430 05", SCB_E_PARSE, "unexpected data after"},
        {"A705 3003 040164", SCB_E_PARSE, "path of 1 bytes"},
        {"A704 3002 0400", SCB_E_PARSE, "path of 0 bytes"},
        {"A716 3014 0412 3F00 5015 6430 6431 6432 6433 6434 6435 6436", SCB_E_PARSE,
         "path of 18 bytes"},
        {"A709 3007 04026430 020100", SCB_E_PARSE, "Path has an index without a length"},
        {"A709 3007 04026430 800100", SCB_E_PARSE, "Path has a length without an index"},
        {"A706 3004 02016430", SCB_E_PARSE, "Path must start with an OCTET STRING"},
        {"A70A 3008 04026430 0C024142", SCB_E_PARSE, "unexpected tag C in a Path"},
        {"A70A 3008 04026430 4F024142", SCB_E_UNSUPPORTED, "qualified by an AID"},
        {"A709 3007 04026430 0201FF", SCB_E_PARSE, "Path index: negative"},
        {"A706300404026430 A7", SCB_E_PARSE, "ODF at offset 8: tag A7 without a length"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++) {
        n = 4;
        TK_EQ_RC(parse_odf_hex(bad[i].hex, e, &n), bad[i].rc);
        check_detail(bad[i].want);
    }
}

/* ---- DODF ---- */
static int find_hex(const char *hex, scb_dodf_entry_t *d)
{
    size_t len;
    uint8_t *raw = tk_unhex_alloc(hex, &len);
    detail[0] = 0;
    int rc = scb_pkcs15_find_bootstrap(raw, len, d, detail, sizeof(detail));
    free(raw);
    return rc;
}

/* An oidDO with another OID, before the entries under test. */
#define OTHER_OIDDO "A113 3000 3000 A10D 300B 06032A0304 300404021111"

static void test_dodf_forms(void)
{
    scb_dodf_entry_t d;

    /* opaqueDO found by applicationOID; label from CommonObjectAttributes
     * (not applicationName); private + modifiable; authId; [0] subclass skipped */
    TK_EQ_RC(find_hex(OTHER_OIDDO
                      "3029 300E 0C05426F6F7431 030206C0 040101"
                      "     300B 0C03617070 0604672B0901"
                      "     A0023000"
                      "     A106 3004 04026432",
                      &d),
             SCB_OK);
    TK_EQ_INT(d.oid_form, SCB_OID_APPLICATION_OID);
    TK_EQ_HEX(d.oid_value, d.oid_value_len, "672B0901");
    TK_CHECK(strcmp(d.label, "Boot1") == 0);
    TK_EQ_INT(d.private_flag, 1);
    TK_EQ_INT(d.modifiable_flag, 1);
    TK_EQ_INT(d.has_auth_id, 1);
    TK_EQ_HEX(d.auth_id, d.auth_id_len, "01");
    check_path(&d.path, "6432");

    /* oidDO with the correct OID encoding and a Path with index/length;
     * flags with 7 unused bits: private only */
    TK_EQ_RC(find_hex("A124 3009 0C03616263 03020780 3000"
                      "     A115 3013 0604672B0901 300B 04026432 020100 80020100",
                      &d),
             SCB_OK);
    TK_EQ_INT(d.oid_form, SCB_OID_DO_ID);
    TK_CHECK(strcmp(d.label, "abc") == 0);
    TK_EQ_INT(d.private_flag, 1);
    TK_EQ_INT(d.modifiable_flag, 0);
    TK_EQ_INT(d.has_auth_id, 0);
    TK_CHECK(d.path.has_range);
    TK_EQ_INT(d.path.index, 0);
    TK_EQ_INT(d.path.length, 256);

    /* opaqueDO with the mis-encoded applicationOID, label from applicationName */
    TK_EQ_RC(find_hex("3019 3000 300D 0C03617070 06060604672B0901 A106 3004 04026432 FFFF", &d),
             SCB_OK);
    TK_EQ_INT(d.oid_form, SCB_OID_APPLICATION_OID_MISENCODED);
    TK_EQ_HEX(d.oid_value, d.oid_value_len, "0604672B0901");
    TK_CHECK(strcmp(d.label, "app") == 0);

    /* only other objects */
    TK_EQ_RC(find_hex(OTHER_OIDDO "0000" OTHER_OIDDO, &d), SCB_E_NO_BOOTSTRAP);
    check_detail("among 2 data object(s)");
    TK_EQ_RC(find_hex("", &d), SCB_E_NO_BOOTSTRAP);
}

static void test_dodf_errors(void)
{
    static const struct {
        const char *hex;
        int rc;
        const char *want;
    } bad[] = {
        /* the value is held directly ([0]), not as a Path */
        {"A112 3000 3000 A10C 300A 0604672B0901 A0020400", SCB_E_UNSUPPORTED,
         "DODF entry 1 at offset 16: the object's value is not a Path (tag A0)"},
        {"A10E 3000 3000 A108 3006 0604672B0901", SCB_E_PARSE, "OidDO without a value"},
        /* an oidDO matched by its applicationOID, whose OidDO is not a SEQUENCE */
        {"A110 3000 3006 0604672B0901 A104 04026432", SCB_E_PARSE, "OidDO must be a SEQUENCE"},
        {"3010 3000 3006 0604672B0901 A104 3002 0400", SCB_E_PARSE, "path of 0 bytes"},
        {"300C 3000 3006 0604672B0901 A100", SCB_E_PARSE, "empty typeAttributes"},
        {"300A 3000 3006 0604672B0901", SCB_E_PARSE, "typeAttributes [1] missing"},
        {"301B 300B 0409010203040506070809 3006 0604672B0901 A104 3002 0402", SCB_E_PARSE,
         "tag 4: length 2 runs past"},
        {"301D 300B 0409010203040506070809 3006 0604672B0901 A106 3004 04026432",
         SCB_E_UNSUPPORTED, "authId of 9 bytes"},
        {"3016 3004 03020880 3006 0604672B0901 A106 3004 04026432", SCB_E_PARSE,
         "malformed flags"},
        {"3015 3003 030101 3006 0604672B0901 A106 3004 04026432", SCB_E_PARSE,
         "malformed flags"},
        {"0401AA", SCB_E_NO_BOOTSTRAP, "among 1"}, /* a primitive entry is not a DO */
        {"A103 040100", SCB_E_NO_BOOTSTRAP, "among 1"},
        {"A1020401", SCB_E_PARSE, "DODF entry 1 at offset 2: tag 4: length 1 runs past"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++) {
        scb_dodf_entry_t d;
        TK_EQ_RC(find_hex(bad[i].hex, &d), bad[i].rc);
        check_detail(bad[i].want);
        TK_EQ_INT(d.oid_form, SCB_OID_NONE); /* nothing half-filled */
        TK_EQ_INT(d.path.len, 0);
    }

    /* flags with no bits at all are valid: nothing set */
    scb_dodf_entry_t d;
    TK_EQ_RC(find_hex("3015 3003 030100 3006 0604672B0901 A106 3004 04026432", &d), SCB_OK);
    TK_EQ_INT(d.private_flag, 0);
    TK_EQ_INT(d.modifiable_flag, 0);
}

/* ---- EF.AODF ---- */
/* An AODF as PKCS#15 v1.1 6.8 lays it out, encoded by hand: an authKey
 * object ([1], skipped), the PIN "User PIN" (authId 02) with every
 * optional field, the PIN with authId 01 with none of them and an
 * extension field, then the FF padding of the EF. */
static const char *const AODF =
    "A103 300100"                                         /* authKey [1] */
    "3046"
    "  300A 0C08 55736572205049 4E"                       /* label "User PIN" */
    "  3003 040102"                                       /* authId 02 */
    "  A133 3031"
    "    0303 064C40"        /* pinFlags: local, initialized, needs-padding, integrity-protected */
    "    0A01 01"            /* pinType ascii-numeric */
    "    0201 04 0201 08 0201 08"                         /* min, stored, max */
    "    8002 0081"          /* pinReference [0] 0x81 (a local PIN) */
    "    0401 FF"            /* padChar */
    "    180F 3230323430313031303030303030 5A"            /* lastPinChange */
    "    3006 04043F005015"                               /* path */
    "301A"
    "  3000 3003 040101"
    "  A111 300F 030100 0A0102 020106 020100 810100"      /* utf8, 6.., stored 0, [1] */
    "FFFFFFFF";

static int find_pin_hex(const char *hex, const char *auth_id, scb_pin_object_t *p)
{
    size_t len;
    uint8_t *raw = tk_unhex_alloc(hex, &len), id[8];
    size_t id_len = auth_id != NULL ? tk_unhex(auth_id, id, sizeof(id)) : 0;
    detail[0] = 0;
    int rc = scb_pkcs15_find_pin(raw, len, auth_id != NULL ? id : NULL, id_len, p, detail,
                                 sizeof(detail));
    free(raw);
    return rc;
}

/* A one-object AODF (authId 01) around the given PinAttributes content. */
static int pin_attrs(const char *attrs, scb_pin_object_t *p)
{
    uint8_t a[128];
    size_t n = tk_unhex(attrs, a, sizeof(a));
    char hex[400];
    size_t o = 0;
    o += (size_t)snprintf(hex + o, sizeof(hex) - o, "30%02zX 3000 3003 040101 A1%02zX 30%02zX ",
                          n + 11, n + 2, n);
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(hex + o, sizeof(hex) - o, "%02X", a[i]);
    return find_pin_hex(hex, "01", p);
}

static void test_aodf(void)
{
    scb_pin_object_t p;
    TK_EQ_RC(find_pin_hex(AODF, "02", &p), SCB_OK);
    TK_CHECK(strcmp(p.label, "User PIN") == 0);
    TK_EQ_HEX(p.auth_id, p.auth_id_len, "02");
    TK_EQ_INT(p.flags, SCB_PIN_FLAG_LOCAL | SCB_PIN_FLAG_INITIALIZED |
                           SCB_PIN_FLAG_NEEDS_PADDING | 1u << 9);
    TK_EQ_INT(p.pin_type, SCB_PIN_TYPE_ASCII_NUMERIC);
    TK_EQ_INT(p.min_length, 4);
    TK_EQ_INT(p.stored_length, 8);
    TK_EQ_INT(p.has_max_length, 1);
    TK_EQ_INT(p.max_length, 8);
    TK_EQ_INT(p.has_reference, 1);
    TK_EQ_INT(p.reference, 0x81);
    TK_EQ_INT(p.has_pad_char, 1);
    TK_EQ_INT(p.pad_char, 0xFF);
    check_path(&p.path, "3F005015");

    TK_EQ_RC(find_pin_hex(AODF, "01", &p), SCB_OK);
    TK_CHECK(p.label[0] == 0);
    TK_EQ_INT(p.flags, 0);
    TK_EQ_INT(p.pin_type, SCB_PIN_TYPE_UTF8);
    TK_EQ_INT(p.min_length, 6);
    TK_EQ_INT(p.stored_length, 0);
    TK_EQ_INT(p.has_max_length, 0);
    TK_EQ_INT(p.has_reference, 0);
    TK_EQ_INT(p.reference, 0);              /* pinReference DEFAULT 0 */
    TK_EQ_INT(p.has_pad_char, 0);
    TK_EQ_INT(p.path.len, 0);

    TK_EQ_RC(find_pin_hex(AODF, NULL, &p), SCB_OK); /* the first PIN object */
    TK_EQ_HEX(p.auth_id, p.auth_id_len, "02");
    TK_EQ_RC(find_pin_hex(AODF, "03", &p), SCB_E_NOT_FOUND);
    check_detail("AODF: no PIN object with authId 03 among 2 PIN object(s)");
    TK_EQ_INT(p.auth_id_len, 0);
    TK_EQ_RC(find_pin_hex("A103300100 FFFF", NULL, &p), SCB_E_NOT_FOUND);
    check_detail("no PIN object among 1 authentication object(s)");
    TK_EQ_RC(find_pin_hex("", "01", &p), SCB_E_NOT_FOUND);

    /* A reference with its top bit set written as one byte (a negative
     * INTEGER: old OpenSC, some issuers' cards) is the byte they mean. */
    TK_EQ_RC(pin_attrs("030100 0A0101 020104 020108 800181", &p), SCB_OK);
    TK_EQ_INT(p.reference, 0x81);
    TK_EQ_RC(pin_attrs("030100 0A0101 020104 020108 800100", &p), SCB_OK);
    TK_EQ_INT(p.has_reference, 1);
    TK_EQ_INT(p.reference, 0);
    /* maxLength left out, padChar 00, and an extension after the path */
    TK_EQ_RC(pin_attrs("030100 0A0101 020104 02010C 0401 00 3004 04025015 9F2001 00", &p),
             SCB_OK);
    TK_EQ_INT(p.has_max_length, 0);
    TK_EQ_INT(p.stored_length, 12);
    TK_EQ_INT(p.pad_char, 0x00);
    check_path(&p.path, "5015");

    static const struct {
        const char *attrs;
        int rc;
        const char *want;
    } bad[] = {
        {"030100 020104 020108", SCB_E_PARSE, "PinAttributes: pinType expected, found tag 2"},
        {"0A0101 020104 020108", SCB_E_PARSE, "pinFlags expected, found tag A"},
        {"030100 0A0101 020104", SCB_E_PARSE, "PinAttributes without storedLength"},
        {"030100 0A0101 020104 020108 800101 020108", SCB_E_PARSE,
         "tag 2 out of order or repeated"},
        {"030100 0A0101 020104 020108 800101 800102", SCB_E_PARSE,
         "tag 80 out of order or repeated"},
        {"030100 0A0101 020104 020108 0402FFFF", SCB_E_PARSE, "padChar of 2 bytes, expected 1"},
        {"030100 0A0101 020109 020108 020108", SCB_E_PARSE, "minLength 9 above maxLength 8"},
        {"030100 0A0101 020104 02020100", SCB_E_PARSE, "storedLength 256 is over 255"},
        {"030100 0A0101 0201FF 020108", SCB_E_PARSE, "minLength: negative INTEGER"},
        {"030100 0A0101 020104 020108 80020100", SCB_E_PARSE, "pinReference 256 is over 255"},
        {"030107 0A0101 020104 020108", SCB_E_PARSE, "pinFlags: malformed BIT STRING"},
        {"0306000102030405 0A0101 020104 020108", SCB_E_PARSE, "pinFlags: malformed"},
        {"030100 0A020100 020104 020108", SCB_E_PARSE, "pinType 256 unknown"},
        {"030100 0A0101 020104 020108 3002 0400", SCB_E_PARSE, "path of 0 bytes"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad); i++) {
        TK_EQ_RC(pin_attrs(bad[i].attrs, &p), bad[i].rc);
        check_detail(bad[i].want);
        TK_EQ_INT(p.auth_id_len, 0); /* nothing half-filled */
    }
    static const struct {
        const char *hex;
        int rc;
        const char *want;
    } bad_objects[] = {
        {"3009 3000 3003 040101 A100", SCB_E_PARSE,
         "AODF entry 1 at offset 9: empty typeAttributes"},
        {"3007 3000 3003 040101", SCB_E_PARSE, "typeAttributes [1] missing"},
        {"3006 3000 A102 3000", SCB_E_PARSE, "CommonAuthenticationObjectAttributes missing"},
        {"3008 3000 3000 A102 3000", SCB_E_PARSE, "without an authId"},
        {"300D 3000 3003 020101 A104 3002 0300", SCB_E_PARSE, "authId must be an OCTET STRING"},
        {"300F 3000 3003 040101 A106 0404 03010000", SCB_E_PARSE,
         "PinAttributes must be a SEQUENCE"},
        {"3013 3000 300B 0409010203040506070809 A102 3000", SCB_E_UNSUPPORTED,
         "authId of 9 bytes"},
        {"3010 3000 3003 040101", SCB_E_PARSE, "length 16 runs past"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(bad_objects); i++) {
        TK_EQ_RC(find_pin_hex(bad_objects[i].hex, NULL, &p), bad_objects[i].rc);
        check_detail(bad_objects[i].want);
    }
    /* an object with another authId is not examined further */
    TK_EQ_RC(find_pin_hex("3009 3000 3003 040102 A100", "01", &p), SCB_E_NOT_FOUND);

    /* every truncation is refused or finds nothing, never reads past the end */
    size_t len;
    uint8_t *raw = tk_unhex_alloc(AODF, &len);
    for (size_t cut = 1; cut < len - 4; cut++) {
        uint8_t *copy = malloc(cut);
        memcpy(copy, raw, cut);
        detail[0] = 0;
        int rc = scb_pkcs15_find_pin(copy, cut, (const uint8_t *)"\x01", 1, &p, detail,
                                     sizeof(detail));
        TK_CHECK(rc == SCB_E_PARSE || rc == SCB_E_NOT_FOUND);
        check_detail("AODF");
        free(copy);
    }
    free(raw);
    TK_EQ_RC(scb_pkcs15_find_pin(NULL, 1, NULL, 0, &p, NULL, 0), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_pkcs15_find_pin(NULL, 0, NULL, 1, &p, NULL, 0), SCB_E_INVALID_ARG);
    TK_EQ_RC(scb_pkcs15_find_pin(NULL, 0, NULL, 0, NULL, NULL, 0), SCB_E_INVALID_ARG);
}

int main(void)
{
    TK_RUN(test_vectors);
    TK_RUN(test_vector_truncations);
    TK_RUN(test_dir);
    TK_RUN(test_odf);
    TK_RUN(test_dodf_forms);
    TK_RUN(test_dodf_errors);
    TK_RUN(test_aodf);
    return tk_done();
}
