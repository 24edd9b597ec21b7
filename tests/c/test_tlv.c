/* OMA-TLV headers (every identifier and length width), reading bounds,
 * nesting rules, and the TLV data type conversions. */
#include "lwm2m_tlv.h"
#include "testkit.h"

#include "internal.h"

static char detail[256];

static void check_detail(const char *want)
{
    tk_checks++;
    if (strstr(detail, want) == NULL) {
        tk_failures++;
        fprintf(stderr, "detail '%s' lacks '%s'\n", detail, want);
    }
}

/* Header bytes from the TLV format definition, written out by hand. */
static void test_header_widths(void)
{
    static const struct {
        int type;
        uint16_t id;
        size_t len;
        const char *hex;
    } cases[] = {
        {SCB__TLV_RESOURCE, 0, 0, "C000"},
        {SCB__TLV_RESOURCE, 5, 7, "C705"},             /* length in the type byte */
        {SCB__TLV_RESOURCE, 5, 8, "C80508"},           /* 8-bit length */
        {SCB__TLV_RESOURCE, 5, 255, "C805FF"},
        {SCB__TLV_RESOURCE, 5, 256, "D0050100"},       /* 16-bit length */
        {SCB__TLV_RESOURCE, 5, 65535, "D005FFFF"},
        {SCB__TLV_RESOURCE, 5, 65536, "D805010000"},   /* 24-bit length */
        {SCB__TLV_RESOURCE, 255, 1, "C1FF"},
        {SCB__TLV_RESOURCE, 256, 3, "E30100"},         /* 16-bit identifier */
        {SCB__TLV_RESOURCE, 0xFFFF, 0xFFFFFF, "F8FFFFFFFFFF"},
        {SCB__TLV_OBJECT_INSTANCE, 0, 46, "08002E"},   /* the Nordic instance */
        {SCB__TLV_OBJECT_INSTANCE, 300, 300, "3001 2C012C"},
        {SCB__TLV_MULTIPLE_RESOURCE, 2, 6, "8602"},
        {SCB__TLV_RESOURCE_INSTANCE, 1, 1, "4101"},
        {SCB__TLV_RESOURCE_INSTANCE, 4096, 70000, "781000011170"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(cases); i++) {
        uint8_t hdr[SCB__TLV_MAX_HEADER];
        size_t n = scb__tlv_write_header(hdr, cases[i].type, cases[i].id, cases[i].len);
        TK_EQ_INT(n, scb__tlv_header_size(cases[i].id, cases[i].len));
        TK_EQ_HEX(hdr, n, cases[i].hex);

        /* read it back with its value behind it, and one spare byte */
        size_t total = n + cases[i].len + 1;
        uint8_t *buf = calloc(1, total);
        memcpy(buf, hdr, n);
        size_t pos = 0;
        scb__tlv_t t;
        TK_EQ_RC(scb__tlv_read(buf, total, &pos, &t, "/x", detail, sizeof(detail)), SCB_OK);
        TK_EQ_INT(t.type, cases[i].type);
        TK_EQ_INT(t.id, cases[i].id);
        TK_EQ_INT(t.len, cases[i].len);
        TK_EQ_INT(t.offset, 0);
        TK_EQ_INT(t.value_offset, n);
        TK_EQ_INT(pos, n + cases[i].len);
        /* one byte short of the value */
        if (cases[i].len > 0) {
            pos = 0;
            TK_EQ_RC(scb__tlv_read(buf, total - 2, &pos, &t, "/x", detail, sizeof(detail)),
                     SCB_E_PARSE);
            check_detail("runs past its parent");
        }
        free(buf);
    }
}

/* Readers must accept wider fields than needed (other encoders use them). */
static void test_non_minimal(void)
{
    static const struct {
        const char *hex;
        int type;
        uint16_t id;
        size_t len;
    } cases[] = {
        {"C8 05 03 AABBCC", SCB__TLV_RESOURCE, 5, 3},
        {"D8 05 000001 AA", SCB__TLV_RESOURCE, 5, 1},
        {"F0 0100 0002 AABB", SCB__TLV_RESOURCE, 256, 2},
        {"E0 0005", SCB__TLV_RESOURCE, 5, 0},
        {"CB 05 01 AA", SCB__TLV_RESOURCE, 5, 1}, /* bits 2-0 ignored with a length field */
        {"10 07 0000", SCB__TLV_OBJECT_INSTANCE, 7, 0},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(cases); i++) {
        size_t len, pos = 0;
        uint8_t *buf = tk_unhex_alloc(cases[i].hex, &len);
        scb__tlv_t t;
        TK_EQ_RC(scb__tlv_read(buf, len, &pos, &t, "/x", detail, sizeof(detail)), SCB_OK);
        TK_EQ_INT(t.type, cases[i].type);
        TK_EQ_INT(t.id, cases[i].id);
        TK_EQ_INT(t.len, cases[i].len);
        TK_EQ_INT(pos, len);
        free(buf);
    }
}

static void test_read_errors(void)
{
    static const struct {
        const char *hex;
        size_t end; /* 0: the whole buffer */
        const char *want;
    } cases[] = {
        {"", 0, "/0/1 at offset 0: expected a TLV, found the end"},
        {"C8 05", 0, "TLV header truncated (type byte C8 needs 2 more bytes, 1 left)"},
        {"F8 00", 0, "TLV header truncated"},
        {"C3 05 AA", 0, "/0/1 at offset 0: resource 5: length 3 runs past its parent (1 bytes left)"},
        {"C1 05 AA C1 06 BB", 5, "resource 6: length 1 runs past its parent (0 bytes left)"},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(cases); i++) {
        size_t len, pos = 0;
        uint8_t *buf = tk_unhex_alloc(cases[i].hex, &len);
        size_t end = cases[i].end != 0 ? cases[i].end : len;
        scb__tlv_t t;
        int rc = scb__tlv_read(buf, end, &pos, &t, "/0/1", detail, sizeof(detail));
        if (rc == SCB_OK) /* the two-TLV case fails on its second TLV */
            rc = scb__tlv_read(buf, end, &pos, &t, "/0/1", detail, sizeof(detail));
        TK_EQ_RC(rc, SCB_E_PARSE);
        check_detail(cases[i].want);
        free(buf);
    }
}

static void test_nesting_rules(void)
{
    const int O = SCB__TLV_OBJECT, OI = SCB__TLV_OBJECT_INSTANCE,
              RI = SCB__TLV_RESOURCE_INSTANCE, MR = SCB__TLV_MULTIPLE_RESOURCE,
              R = SCB__TLV_RESOURCE;
    const int parents[] = {O, OI, MR, R, RI};
    const int children[] = {OI, RI, MR, R};
    /* allowed[parent][child] */
    const bool allowed[5][4] = {
        {true, false, false, false},  /* object: object instances */
        {false, false, true, true},   /* object instance: resources */
        {false, true, false, false},  /* multiple resource: resource instances */
        {false, false, false, false}, /* resource: a value */
        {false, false, false, false}, /* resource instance: a value */
    };
    for (int p = 0; p < 5; p++)
        for (int c = 0; c < 4; c++)
            TK_EQ_INT(scb__tlv_child_allowed(parents[p], children[c]), allowed[p][c]);
    TK_CHECK(strcmp(scb__tlv_type_name(MR), "multiple resource") == 0);
}

static void test_integers(void)
{
    static const struct {
        const char *hex;
        int64_t value;
    } cases[] = {
        {"00", 0}, {"7F", 127}, {"FF", -1}, {"80", -128},
        {"0080", 128}, {"8000", -32768}, {"FF7F", -129},
        {"00008000", 32768}, {"80000000", INT32_MIN},
        {"0000000080000000", 2147483648LL},
        {"8000000000000000", INT64_MIN}, {"7FFFFFFFFFFFFFFF", INT64_MAX},
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(cases); i++) {
        uint8_t v[8], buf[8];
        size_t len = tk_unhex(cases[i].hex, v, sizeof(v)), n = 0;
        int64_t x = 0;
        TK_EQ_RC(scb_value_to_int(v, len, &x), SCB_OK);
        TK_EQ_INT(x, cases[i].value);
        /* every case above is in its shortest form */
        TK_EQ_RC(scb_value_from_int(cases[i].value, buf, &n), SCB_OK);
        TK_EQ_MEM(buf, n, v, len);
    }
    uint8_t three[3] = {1, 2, 3};
    int64_t x;
    TK_EQ_RC(scb_value_to_int(three, 3, &x), SCB_E_PARSE);
    TK_EQ_RC(scb_value_to_int(three, 0, &x), SCB_E_PARSE);

    uint64_t u = 0;
    uint8_t b[8];
    size_t n;
    TK_EQ_RC(scb_value_to_uint((const uint8_t *)"\xFF", 1, &u), SCB_OK);
    TK_EQ_INT(u, 255);
    TK_EQ_RC(scb_value_to_uint((const uint8_t *)"\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 8, &u),
             SCB_OK);
    TK_CHECK(u == UINT64_MAX);
    TK_EQ_RC(scb_value_from_uint(255, b, &n), SCB_OK);
    TK_EQ_HEX(b, n, "FF");
    TK_EQ_RC(scb_value_from_uint(256, b, &n), SCB_OK);
    TK_EQ_HEX(b, n, "0100");
    TK_EQ_RC(scb_value_from_uint(65536, b, &n), SCB_OK);
    TK_EQ_HEX(b, n, "00010000");
    TK_EQ_RC(scb_value_from_uint(UINT64_MAX, b, &n), SCB_OK);
    TK_EQ_HEX(b, n, "FFFFFFFFFFFFFFFF");
    TK_EQ_RC(scb_value_to_uint(three, 3, &u), SCB_E_PARSE);
}

static void test_other_types(void)
{
    int bv = -1;
    TK_EQ_RC(scb_value_to_bool((const uint8_t *)"\x01", 1, &bv), SCB_OK);
    TK_EQ_INT(bv, 1);
    TK_EQ_RC(scb_value_to_bool((const uint8_t *)"\x00", 1, &bv), SCB_OK);
    TK_EQ_INT(bv, 0);
    TK_EQ_RC(scb_value_to_bool((const uint8_t *)"\x02", 1, &bv), SCB_E_PARSE);
    TK_EQ_RC(scb_value_to_bool((const uint8_t *)"\x00\x01", 2, &bv), SCB_E_PARSE);

    double d = 0;
    uint8_t b[8];
    size_t n;
    TK_EQ_RC(scb_value_to_float((const uint8_t *)"\x3F\x80\x00\x00", 4, &d), SCB_OK);
    TK_CHECK(d == 1.0);
    TK_EQ_RC(scb_value_to_float((const uint8_t *)"\xBF\xB9\x99\x99\x99\x99\x99\x9A", 8, &d),
             SCB_OK);
    TK_CHECK(d == -0.1);
    TK_EQ_RC(scb_value_to_float(b, 5, &d), SCB_E_PARSE);
    TK_EQ_RC(scb_value_from_float(1.5, b, &n), SCB_OK);
    TK_EQ_HEX(b, n, "3FC00000");
    TK_EQ_RC(scb_value_from_float(-0.1, b, &n), SCB_OK);
    TK_EQ_HEX(b, n, "BFB999999999999A");
    TK_EQ_RC(scb_value_from_float(1e300, b, &n), SCB_OK); /* beyond float: 8 bytes */
    TK_EQ_INT(n, 8);

    uint16_t o = 0, i = 0;
    TK_EQ_RC(scb_value_to_objlnk((const uint8_t *)"\x00\x0B\x01\x00", 4, &o, &i), SCB_OK);
    TK_EQ_INT(o, 11);
    TK_EQ_INT(i, 256);
    TK_EQ_RC(scb_value_to_objlnk(b, 3, &o, &i), SCB_E_PARSE);
    TK_EQ_RC(scb_value_from_objlnk(0xFFFF, 1, b), SCB_OK);
    TK_EQ_HEX(b, 4, "FFFF0001");

    static const struct {
        const char *s;
        size_t len;
        int rc;
    } strings[] = {
        {"coap://a", 8, SCB_OK},
        {"\xC3\xA9t\xC3\xA9", 5, SCB_OK},          /* "été" */
        {"\xF0\x9F\x98\x80", 4, SCB_OK},            /* U+1F600 */
        {"", 0, SCB_OK},
        {"a\0b", 3, SCB_E_PARSE},                   /* NUL */
        {"\xC0\x80", 2, SCB_E_PARSE},               /* overlong */
        {"\xED\xA0\x80", 3, SCB_E_PARSE},           /* surrogate */
        {"\xF4\x90\x80\x80", 4, SCB_E_PARSE},       /* past U+10FFFF */
        {"\xC3", 1, SCB_E_PARSE},                   /* truncated */
        {"\xFF", 1, SCB_E_PARSE},
    };
    for (size_t k = 0; k < SCB_ARRAY_LEN(strings); k++)
        TK_EQ_RC(scb_value_check_string((const uint8_t *)strings[k].s, strings[k].len),
                 strings[k].rc);
}

int main(void)
{
    TK_RUN(test_header_widths);
    TK_RUN(test_non_minimal);
    TK_RUN(test_read_errors);
    TK_RUN(test_nesting_rules);
    TK_RUN(test_integers);
    TK_RUN(test_other_types);
    return tk_done();
}
