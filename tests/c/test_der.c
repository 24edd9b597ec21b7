/* The bounded BER/DER reader: tags, lengths, nesting, bounds, messages. */
#include "der.h"
#include "testkit.h"

static char detail[256];

typedef struct {
    uint8_t *buf;
    size_t len;
    scb__der_t d;
} reader_t;

static void open_hex(reader_t *r, const char *hex)
{
    r->buf = tk_unhex_alloc(hex, &r->len);
    detail[0] = 0;
    scb__der_init(&r->d, r->buf, r->len, "T", detail, sizeof(detail));
}

static void close_reader(reader_t *r)
{
    free(r->buf);
}

/* Reading the first TLV of hex fails, and the detail names the reason. */
static void expect_fail(const char *hex, const char *reason)
{
    reader_t r;
    scb__der_tlv_t t;
    open_hex(&r, hex);
    TK_EQ_RC(scb__der_next(&r.d, &t), SCB_E_PARSE);
    if (strstr(detail, reason) == NULL) {
        tk_failures++;
        fprintf(stderr, "detail for %s: '%s' lacks '%s'\n", hex, detail, reason);
    }
    tk_checks++;
    close_reader(&r);
}

static void test_tags(void)
{
    reader_t r;
    scb__der_tlv_t t;
    open_hex(&r, "5F20 02 AABB  BF8101 00  A1 00");
    TK_EQ_RC(scb__der_next(&r.d, &t), SCB_OK);
    TK_EQ_INT(t.tag, 0x5F20);
    TK_EQ_INT(t.cls, SCB__DER_APPLICATION);
    TK_CHECK(!t.constructed);
    TK_EQ_INT(t.len, 2);
    TK_EQ_HEX(t.value, t.len, "AABB");
    TK_EQ_RC(scb__der_next(&r.d, &t), SCB_OK);
    TK_EQ_INT(t.tag, 0xBF8101);
    TK_EQ_INT(t.cls, SCB__DER_CONTEXT);
    TK_CHECK(t.constructed);
    TK_EQ_INT(t.len, 0);
    TK_EQ_INT(t.offset, 5);
    TK_EQ_RC(scb__der_next(&r.d, &t), SCB_OK);
    TK_EQ_INT(t.tag, 0xA1);
    TK_CHECK(!scb__der_more(&r.d));
    close_reader(&r);

    expect_fail("1F818181 01 00", "tag longer than 4 bytes");
    expect_fail("1F8001 00", "leading zero");
    expect_fail("1F81", "truncated");
    expect_fail("04", "without a length");
    expect_fail("", "found the end");
}

static void test_lengths(void)
{
    reader_t r;
    scb__der_tlv_t t;
    char hex[2 * 300 + 32];

    /* long forms 81 and 82, and a non-minimal 84 (BER allows it) */
    strcpy(hex, "0481 80");
    for (int i = 0; i < 128; i++)
        strcat(hex, "11");
    strcat(hex, "0482 0100");
    for (int i = 0; i < 256 - 128; i++)
        strcat(hex, "22");
    open_hex(&r, hex);
    TK_EQ_RC(scb__der_next(&r.d, &t), SCB_OK);
    TK_EQ_INT(t.len, 128);
    TK_EQ_INT(t.value_offset, 3);
    /* second TLV claims 256 bytes but only 128 follow */
    TK_EQ_RC(scb__der_next(&r.d, &t), SCB_E_PARSE);
    TK_CHECK(strstr(detail, "T at offset 131: tag 4: length 256 runs past") != NULL);
    close_reader(&r);

    open_hex(&r, "04 84 00000003 AABBCC");
    TK_EQ_RC(scb__der_next(&r.d, &t), SCB_OK);
    TK_EQ_INT(t.len, 3);
    TK_EQ_HEX(t.value, t.len, "AABBCC");
    close_reader(&r);

    expect_fail("30 80 0000", "indefinite length");
    expect_fail("04 85 0000000001 AA", "length field of 5 bytes");
    expect_fail("04 82 01", "length field truncated");
    expect_fail("04 05 0102", "length 5 runs past the end of its container (2 bytes left)");
}

static void test_nesting(void)
{
    reader_t r;
    scb__der_tlv_t t, u;
    scb__der_t c;

    /* The child's TLV claims 5 bytes: the buffer has them, its parent does not. */
    open_hex(&r, "30 03 04 05 AA BBCCDDEE");
    TK_EQ_RC(scb__der_next(&r.d, &t), SCB_OK);
    TK_EQ_RC(scb__der_enter(&r.d, &t, &c, "inner"), SCB_OK);
    TK_EQ_RC(scb__der_next(&c, &u), SCB_E_PARSE);
    TK_CHECK(strstr(detail, "inner at offset 2: tag 4: length 5 runs past") != NULL);
    close_reader(&r);

    /* entering a primitive object */
    open_hex(&r, "04 01 AA");
    TK_EQ_RC(scb__der_next(&r.d, &t), SCB_OK);
    TK_EQ_RC(scb__der_enter(&r.d, &t, &c, NULL), SCB_E_PARSE);
    TK_CHECK(strstr(detail, "primitive") != NULL);
    close_reader(&r);

    /* 20 nested SEQUENCEs: the reader stops at its depth bound */
    char hex[128] = "";
    for (int i = 0; i < 20; i++) {
        char b[8];
        snprintf(b, sizeof(b), "30%02X", 2 * (19 - i));
        strcat(hex, b);
    }
    open_hex(&r, hex);
    scb__der_t level = r.d;
    int depth = 0, rc = SCB_OK;
    while (rc == SCB_OK && scb__der_more(&level)) {
        TK_EQ_RC(scb__der_next(&level, &t), SCB_OK);
        scb__der_t next;
        rc = scb__der_enter(&level, &t, &next, NULL);
        if (rc == SCB_OK) {
            level = next;
            depth++;
        }
    }
    TK_EQ_RC(rc, SCB_E_PARSE);
    TK_EQ_INT(depth, SCB__DER_MAX_DEPTH);
    TK_CHECK(strstr(detail, "nesting deeper") != NULL);
    close_reader(&r);
}

static void test_padding(void)
{
    reader_t r;
    scb__der_tlv_t t;
    open_hex(&r, "00FF 04 01 AA 00 0401BB FFFF00");
    TK_EQ_INT(scb__der_next_object(&r.d, &t), 1);
    TK_EQ_INT(t.offset, 2);
    TK_EQ_INT(scb__der_next_object(&r.d, &t), 1);
    TK_EQ_INT(t.offset, 6);
    TK_EQ_INT(scb__der_next_object(&r.d, &t), 0);
    close_reader(&r);

    /* an error after padding is reported as such */
    open_hex(&r, "FFFF 04 05 AA");
    TK_EQ_RC(scb__der_next_object(&r.d, &t), SCB_E_PARSE);
    TK_CHECK(strstr(detail, "T at offset 2: tag 4: length 5 runs past") != NULL);
    close_reader(&r);
}

static void test_uint32(void)
{
    static const struct {
        const char *hex;
        int rc;
        uint32_t value;
    } cases[] = {
        {"02 01 05", SCB_OK, 5},
        {"02 02 0080", SCB_OK, 128},
        {"02 05 00FFFFFFFF", SCB_OK, 0xFFFFFFFFu},
        {"02 01 80", SCB_E_PARSE, 0},     /* negative */
        {"02 00", SCB_E_PARSE, 0},        /* empty */
        {"02 05 0100000000", SCB_E_PARSE, 0}, /* 2^32 */
    };
    for (size_t i = 0; i < SCB_ARRAY_LEN(cases); i++) {
        reader_t r;
        scb__der_tlv_t t;
        uint32_t v = 0;
        open_hex(&r, cases[i].hex);
        TK_EQ_RC(scb__der_next(&r.d, &t), SCB_OK);
        TK_EQ_RC(scb__der_uint32(&r.d, &t, "n", &v), cases[i].rc);
        if (cases[i].rc == SCB_OK)
            TK_EQ_INT(v, cases[i].value);
        else
            TK_CHECK(strncmp(detail, "T at offset 0: n: ", 18) == 0);
        close_reader(&r);
    }
}

int main(void)
{
    TK_RUN(test_tags);
    TK_RUN(test_lengths);
    TK_RUN(test_nesting);
    TK_RUN(test_padding);
    TK_RUN(test_uint32);
    return tk_done();
}
